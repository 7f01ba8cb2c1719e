"""What offline buys an experiment: one run's traffic played offline (the codecs in this
process, ``aura_lab.run(offline=True)``) against the same run through embedded servers
(``--think-time 0``), same process, same seed and codecs, alternating.

    python benchmarks/experiments.py [--users 20] [--codecs deflate-stream,zstd-dict] [--repeats 3]

Prints messages per second of each and the ratio, and checks that both recorded the same
compressed size for every message (offline is exact, only faster). Target: offline at
least 3x the online rate (no sockets, no JSON over the loopback, no server processes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import aura_lab


def once(offline: bool, users: int, codecs: str, folder: str) -> tuple[float, list]:
    start = time.perf_counter()
    run = aura_lab.run(profile="peer", users=users, seed=1, think_time="0", codecs=codecs, offline=offline,
                       trace_dir=folder, quiet=True, progress=False)  # fmt: skip
    seconds = time.perf_counter() - start
    rows = run.rows(codec=None).sort_values(["codec", "user_id", "turn"])
    return len(rows) / seconds, rows["compressed_size"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--codecs", default="deflate-stream,zstd-dict")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {True: [], False: []}
    sizes: dict[bool, list] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for offline in (False, True):
                rate, sizes[offline] = once(offline, args.users, args.codecs, folder)
                rates[offline].append(rate)
    online, offline = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"{args.users} users of the peer profile, codecs {args.codecs}, median of {args.repeats}")
    print(f"online (embedded servers, think 0): {online:,.0f} records/s")
    print(f"offline (in-process):               {offline:,.0f} records/s")
    print(f"offline / online: {offline / online:.2f}x; same compressed sizes: {sizes[True] == sizes[False]}")


if __name__ == "__main__":
    main()
