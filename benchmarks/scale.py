"""Scale: 2,000 concurrent users with the peer's realistic think time (uniform 0.1-2.0 s)
for 60 s on one machine. Targets: no errors, under 50 KB of client memory per user.

    python benchmarks/scale.py [--users 2000] [--duration 60]

The identity server runs in its own process, so only the client is measured. Memory is
the peak resident size while the users run (sampled every 0.2 s) minus the resident
size just before they start, in the same process (Python, pandas, websockets, corpus and
templates already loaded): what grows with users. The traces are loaded and summarised
after the measurement window (that memory grows with messages, not users).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time

from aura_lab.analysis.summary import summarise
from aura_lab.load.engine import Engine, EngineSettings, writer_listener
from aura_lab.load.links import Group
from aura_lab.servers.hosting import serve
from aura_lab.timing import ThinkTime
from aura_lab.traces.reader import load_traces
from aura_lab.traces.writer import TraceWriter
from aura_lab.traffic.generator import config_from_files
from aura_lab.traffic.selection import UniformSelector


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def load(url: str, folder: str, users: int, duration: float, ramp_up: float) -> tuple[int, int]:
    gen_config = config_from_files(None, None, seed=5, turns=(1000, 1000))
    writer = TraceWriter(folder)
    settings = EngineSettings(
        run_id="scale", think_time=ThinkTime.parse("uniform:0.1,2.0"), ramp_up=ramp_up, timeout=30
    )
    engine = Engine(
        settings, gen_config, [Group("identity", [url])], UniformSelector(), users, [writer_listener(writer)]
    )
    flusher = asyncio.ensure_future(writer.flush_periodically())
    baseline, peak = rss_kb(), [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb())
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        await engine.run_users(list(range(users)), deadline_s=duration + ramp_up)
    finally:
        stop.set()
        watcher.join()
        flusher.cancel()
        writer.close()
    return baseline, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--ramp-up", type=float, default=5)
    args = parser.parse_args()
    with serve("identity") as server, tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        baseline, peak = asyncio.run(load(server.url, f"{tmp}/run/traces", args.users, args.duration, args.ramp_up))
        elapsed = time.perf_counter() - start
        figures = next(iter(summarise(load_traces(f"{tmp}/run"))["codecs"].values()))
    per_user = (peak - baseline) / args.users
    print(f"{args.users} users, {args.duration:g} s (+{args.ramp_up:g} s ramp-up), wall {elapsed:.1f} s")
    print(
        f"messages {figures['sent']:,}, ok {figures['ok']:,}, errors {figures['errors']} "
        f"{figures['errors_by_kind']}, {figures['messages_per_second']:.0f} msgs/s, "
        f"latency p50 {figures['latency_ms']['p50']:.2f} ms p99 {figures['latency_ms']['p99']:.2f} ms"
    )
    print(
        f"client RSS before the users {baseline / 1024:.0f} MB, peak while they ran {peak / 1024:.0f} MB: "
        f"{per_user:.1f} KB per user (target < 50 KB: {'met' if per_user < 50 else 'MISSED'}); "
        f"errors target 0: {'met' if figures['errors'] == 0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
