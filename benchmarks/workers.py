"""Workers (named so as not to shadow the distributed package): ``--workers 2`` against
``--workers 1`` when the client is the bottleneck (think time 0, many users, two identity
servers), with the best speed-up this machine allows.

    python benchmarks/workers.py [--users 200] [--messages-per-user 200] [--repeats 4]

Rates are messages per second of the main phase (first send to last reply), from each
run's records; the two settings alternate ``--repeats`` times and the best of each is
kept, and the ratio of each alternation's pair is printed with its median (the host's
speed drifts from minute to minute). 40,000 messages by default: at 10,000 the main phase
lasted about 1.3 s and the shards' start stagger (0.02-0.35 s) weighed in it. A second
rate leaves out the shards' staggered start and end: the messages sent while every shard
was sending (from the last shard's first send to the first shard's
last send) over that window, the rate a long run keeps (the stagger is a fixed cost,
printed). The ideal speed-up comes from CPU measured in the one-worker runs: the client's
(``manifest.client``, its process over the main phase) and the servers' (their processes'
``/proc/<pid>/stat`` user + system time over the run), per message, ``c`` and ``s`` µs.
With ``n`` cores and two single-threaded servers, ``w`` client processes can reach at most
``min(w / c, 2 / s_each, n / (c + s))`` messages a second: the ideal speed-up is that for
``w = 2`` over ``w = 1``; achieved / ideal is printed. Target: >= 1.0x one worker, judged
by the 95 % interval of the alternations' ratios (``benchmarks/targets.py``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time

from targets import verdict  # benchmarks/targets.py, beside this script

import aura_lab
from aura_lab.servers.hosting import serve_many


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def capacity(workers: int, client_us: float, server_us: float, servers: int, cores: int) -> float:
    """The most messages a second ``workers`` client processes can get here."""
    return min(workers / client_us, servers / server_us, cores / (client_us + server_us)) * 1e6


def steady_rate(main, workers: int) -> tuple[float, float]:
    """(messages a second while every shard was sending, the shards' start stagger in
    seconds). Shard k (1..) plays the users with ``user_id % workers == k - 1``."""
    shard = main["user_id"] % workers
    firsts, lasts = main.groupby(shard)["sent_at"].min(), main.groupby(shard)["sent_at"].max()
    start, end = firsts.max(), lasts.min()
    inside = main[(main["sent_at"] >= start) & (main["sent_at"] <= end)]
    window = (end - start).total_seconds()
    return (len(inside) / window if window > 0 else float("nan")), (start - firsts.min()).total_seconds()


def _best(rates: list[float]) -> float:
    """The highest rate measured (NaN, the window empty, where none was)."""
    return max((r for r in rates if not math.isnan(r)), default=math.nan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages-per-user", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    rates: dict[int, list[float]] = {}
    steadies: dict[int, list[float]] = {}
    client_us, server_us, first_send = [], [], {}
    with serve_many(["identity", "identity"]) as servers, tempfile.TemporaryDirectory() as tmp:
        urls = ",".join(s.url for s in servers)  # two server processes so the server is not the bottleneck
        pids = [s.pid for s in servers if s.pid]
        for workers in [1, 2] * args.repeats:
            before = sum(cpu_seconds(p) for p in pids)
            called = time.time()
            run = aura_lab.run(
                users=args.users,
                messages_per_user=args.messages_per_user,
                think_time="0",
                urls=urls,
                workers=workers,
                trace_dir=tmp,
                quiet=True,
            )
            main = run.traces[run.traces["phase"] == "main"]
            sent = len(main)
            span = (main["received_at"].max() - main["sent_at"].min()).total_seconds()  # as the summary's rate
            first_send.setdefault(workers, []).append(main["sent_at"].min().timestamp() - called)
            rates.setdefault(workers, []).append(sent / span)
            steady, stagger = steady_rate(main, workers)
            steadies.setdefault(workers, []).append(steady)
            if workers == 1:
                server_us.append((sum(cpu_seconds(p) for p in pids) - before) / sent * 1e6)
                client_us.append(run.manifest.client["cpu_us_per_message"])
            print(
                f"workers {workers}: {sent:,} messages, {sent / span:,.0f} msg/s ({steady:,.0f} while every "
                f"shard sent; start stagger {stagger * 1000:.0f} ms), "
                f"errors {int((main['status'] != 'ok').sum())}, first message sent "
                f"{first_send[workers][-1]:.2f} s after the call"
            )
    one, two = max(rates[1]), max(rates[2])
    c, s = min(client_us), min(server_us)  # the least each was seen to need
    cores = os.cpu_count() or 1
    ideal = capacity(2, c, s, 2, cores) / capacity(1, c, s, 2, cores)
    print(
        f"CPU per message: client {c:.0f} µs (one process), servers {s:.0f} µs (both); {cores} cores: "
        f"at most {capacity(1, c, s, 2, cores):,.0f} msg/s with one worker, {capacity(2, c, s, 2, cores):,.0f} with two"
    )
    print(
        f"speed-up, best of each: {two / one:.2f}x; ideal here {ideal:.2f}x; achieved / ideal {two / one / ideal:.2f}"
    )
    pairs = [b / a for a, b in zip(rates[1], rates[2])]
    each = " / ".join(f"{p:.2f}" for p in pairs)
    print(f"each alternation, two workers / one: {each}; median {statistics.median(pairs):.2f}x")
    print(verdict("speed-up, each alternation a repeat", pairs, 1.0, above=True, log=True, unit="x"))
    steady = _best(steadies[2]) / _best(steadies[1])
    if math.isnan(steady):  # a run so short that its shards never all sent at once
        print("while every shard sent: not measured (no moment when every shard was sending)")
    else:
        print(f"while every shard sent: {steady:.2f}x; achieved / ideal {steady / ideal:.2f}")


if __name__ == "__main__":
    main()
