"""Workers (named so as not to shadow the distributed package): ``--workers 2`` against
``--workers 1`` when the client is the bottleneck
(think time 0, many users, the identity server). Target: at least 1.6 times the rate.

    python benchmarks/workers.py [--users 200] [--messages-per-user 50]

Both runs use the same seed and server; rates are messages per second of the main
phase (first send to last reply), from each run's summary.
"""

from __future__ import annotations

import argparse
import tempfile

import aura_lab
from aura_lab.servers.hosting import serve_many


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages-per-user", type=int, default=50)
    args = parser.parse_args()
    rates = {}
    with serve_many(["identity", "identity"]) as servers, tempfile.TemporaryDirectory() as tmp:
        urls = ",".join(s.url for s in servers)  # two server processes so the server is not the bottleneck
        for workers in (1, 2, 1, 2):
            run = aura_lab.run(
                users=args.users,
                messages_per_user=args.messages_per_user,
                think_time="0",
                urls=urls,
                workers=workers,
                trace_dir=tmp,
                quiet=True,
            )
            figures = next(iter(run.summary["codecs"].values()))
            rates.setdefault(workers, []).append(figures["messages_per_second"])
            print(
                f"workers {workers}: {figures['sent']:,} messages, {figures['messages_per_second']:,.0f} msgs/s, "
                f"errors {figures['errors']}"
            )
    one, two = max(rates[1]), max(rates[2])
    print(
        f"speed-up {two / one:.2f}x (target >= 1.6x: {'met' if two / one >= 1.6 else 'MISSED'}); "
        f"machine has 2 cores shared by the client workers and the servers"
    )


if __name__ == "__main__":
    main()
