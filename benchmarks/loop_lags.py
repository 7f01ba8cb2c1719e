"""Where an open loop's send-lateness tail comes from: the event loop's lags, and what ran
while they lasted.

    python benchmarks/loop_lags.py [--users 1] [--rate 2200] [--messages 20000] [--repeats 3] [--lag-ms 3]

The runner (as ``runner_cost.py`` drives it: the CLI's engine, trace writer and progress
bar) plays an open loop of ``--rate`` messages a second in all against the embedded
``identity`` server. A ticker task sleeps 1 ms at a time and notes by how much each sleep
overran: a lag is the time the loop was held by something else. Timed meanwhile: the trace
flusher's conversions of records into Arrow columns (on the loop), the concatenation that
starts a part (on the loop), each part's Parquet encoding (on the writer's thread), and
every garbage collection (``gc.callbacks``). For each run the script prints the send
lateness, every lag over ``--lag-ms`` with the events that overlapped it, and the events'
counts, longest and total times while the ticker ran. The ticker costs the loop a little: read the lateness
beside ``runner_cost.py``'s, not instead of it. The baseline, after each run with the
same ticker and schedule: the lean bare client (``runner_cost.bare_client``), whose lags
are the host's and the event loop's, not the runner's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

import pyarrow as pa
import pyarrow.parquet as pq
from runner_cost import bare_client, runner

from aura_lab.load.bridge import run_loop
from aura_lab.servers.hosting import serve
from aura_lab.traces import writer as trace_writer
from aura_lab.traffic.generator import config_from_files, user_messages

events: list[tuple[str, float, float]] = []  # (what, start, seconds), perf_counter clock


def timed(owner, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper that notes each call's start and duration."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            events.append((label, start, time.perf_counter() - start))

    setattr(owner, name, wrapper)


def note_collections() -> None:
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            events.append((f"gc gen {info['generation']}", started[0], time.perf_counter() - started[0]))

    gc.callbacks.append(callback)


async def with_ticker(run, lags: list[tuple[float, float]]):
    """``run`` with a 1 ms ticker beside it; ``lags`` gets (tick start, overrun s)."""

    async def tick() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((start, time.perf_counter() - start - 0.001))

    ticker = asyncio.ensure_future(tick())
    try:
        return await run
    finally:
        ticker.cancel()


def report(result: dict, lags: list[tuple[float, float]], lag_ms: float) -> None:
    late = result["lateness"]
    print(
        f"{result['rate']:,.0f} msg/s; send lateness p50 {late['p50']:.2f} ms, p99 {late['p99']:.2f}, "
        f"max {late['max']:.1f}; {len(lags):,} ticks"
    )
    big = [(start, lag) for start, lag in lags if lag * 1000 > lag_ms]
    print(f"  lags over {lag_ms:g} ms: {len(big)}")
    for start, lag in big:
        end = start + 0.001 + lag
        overlapping = [
            f"{what} {seconds * 1000:.1f} ms at {(begin - start) * 1000:+.1f}"
            for what, begin, seconds in events
            if begin <= end and begin + seconds >= start
        ]
        print(f"    {lag * 1000:5.1f} ms: {'; '.join(overlapping) or 'nothing timed'}")
    kinds: dict[str, list[float]] = {}
    first, last = lags[0][0], lags[-1][0]
    for what, begin, seconds in events:
        if first <= begin <= last:  # while the ticker ran (not reading the trace back)
            kinds.setdefault(what, []).append(seconds * 1000)
    for what, times in sorted(kinds.items()):
        print(f"  {what:<22} {len(times):>5} times, longest {max(times):6.2f} ms, total {sum(times):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--rate", type=float, default=2200, help="messages a second, all users together")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lag-ms", type=float, default=3.0)
    args = parser.parse_args()
    timed(trace_writer, "records_to_table", "conversion (loop)")
    timed(pa, "concat_tables", "part start (loop)")
    timed(pq, "write_table", "part encode (thread)")
    note_collections()
    config = config_from_files(
        None, None, seed=7, messages_per_user=max(1, args.messages // args.users), profile="assistant"
    )
    texts = [[m.text for m in user_messages(config, u)] for u in range(args.users)]
    with serve("identity") as server:
        for repeat in range(args.repeats):
            events.clear()
            lags: list[tuple[float, float]] = []
            print(f"run {repeat + 1}, {args.users} users, open loop at {args.rate:,.0f} msg/s:")
            result = run_loop(with_ticker(runner(server.url, config, args.users, args.rate / args.users), lags))
            report(result, lags, args.lag_ms)
            lags = []
            bare = run_loop(with_ticker(bare_client(server.url, texts, True, args.rate / args.users, lean=True), lags))
            late = bare["lateness"]
            over = sum(lag * 1000 > args.lag_ms for _, lag in lags)
            print(
                f"  baseline, lean bare client on the same schedule: send lateness p50 {late['p50']:.2f} ms, "
                f"p99 {late['p99']:.2f}; lags over {args.lag_ms:g} ms: {over}"
            )


if __name__ == "__main__":
    main()
