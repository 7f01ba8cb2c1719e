"""Scale: 2,000 concurrent users with the peer's realistic think time (uniform 0.1-2.0 s)
for 60 s on one machine. Targets: no errors, under 50 KB of client memory per user.

    python benchmarks/scale.py [--users 2000] [--duration 60]

The identity server runs in its own process, so only the runner's memory is counted.
Baseline in the same process: the resident memory before the run (Python, pandas,
websockets, the corpus and templates loaded), subtracted from the peak.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time

import aura_lab
from aura_lab.generators import config_from_files
from aura_lab.server import serve


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--ramp-up", type=float, default=5)
    args = parser.parse_args()
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb())
            time.sleep(0.2)

    with serve("identity") as server, tempfile.TemporaryDirectory() as tmp:
        config_from_files(None, None)  # load corpus/templates before the baseline
        aura_lab.run(users=1, messages_per_user=2, think_time="0", urls=server.url, trace_dir=tmp, quiet=True)
        baseline = rss_kb()
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        start = time.perf_counter()
        run = aura_lab.run(users=args.users, turns=(1000, 1000), duration=args.duration, ramp_up=args.ramp_up,
                           urls=server.url, trace_dir=tmp, quiet=True, timeout=30)
        elapsed = time.perf_counter() - start
        stop.set()
        watcher.join()
        figures = next(iter(run.summary["codecs"].values()))
    per_user = (peak[0] - baseline) / args.users
    print(f"{args.users} users, {args.duration:g} s (+{args.ramp_up:g} s ramp-up), wall {elapsed:.1f} s")
    print(f"messages {figures['sent']:,}, ok {figures['ok']:,}, errors {figures['errors']} "
          f"{figures['errors_by_kind']}, {figures['messages_per_second']:.0f} msgs/s, "
          f"latency p50 {figures['latency_ms']['p50']:.2f} ms p99 {figures['latency_ms']['p99']:.2f} ms")
    print(f"client RSS baseline {baseline / 1024:.0f} MB, peak {peak[0] / 1024:.0f} MB: "
          f"{per_user:.1f} KB per user (target < 50 KB: {'met' if per_user < 50 else 'MISSED'}); "
          f"errors target 0: {'met' if figures['errors'] == 0 else 'MISSED'}")


if __name__ == "__main__":
    main()
