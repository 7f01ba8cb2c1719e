"""Runner cost and latency honesty against a bare websockets client, same server, same
process, same messages.

    python benchmarks/runner_cost.py [--users 1,50] [--messages 6000] [--repeats 3]
    python benchmarks/runner_cost.py --open-loop 0.5,0.8 --users 50
    python benchmarks/runner_cost.py --profile peer --selection epsilon-greedy

The server is the embedded ``identity`` codec in its own process. For each user count,
the bare client and aura-lab's engine alternate ``--repeats`` times; the median of each
is printed with the ratio.

- bare client, parsing: connect, then send / recv / ``json.loads`` the reply (what the
  runner must do at the least); the reference the targets are against.
- bare client, not parsing: send / recv only; a second line, labelled.
- bare client, lean link: parsing, on the runner's own connection (``load.wsclient``,
  websockets' Sans-I/O protocol over a plain asyncio transport) instead of websockets'
  asyncio client: the runner's ratio to this line is its cost above the transport it uses.
- runner: the engine as ``aura-lab run`` drives it (``load.phases``): generation,
  judging, records, the trace writer with its periodic flusher, the CLI's own progress
  bar (tqdm, to /dev/null so the terminal does not change the figure). Its timed window
  is the run's own (``load.drive.drive_main``, which the run calls) plus ``writer.close()``:
  every flush and the last part are in.
  The traffic made ahead of the first send (``Engine.prepare``, as the run does before
  its clocks start) is outside it, and printed, with the rate it would give counted in.

Targets: the runner keeps >= 0.80 of the parsing client's rate at 50 users and >= 0.85 at
1 user; its median latency is within 50 µs of the parsing client's (1 and 50 users), its
p99 within 1 ms at 50 users.

``--open-loop F1,F2``: after the closed-loop measurement, runs the runner open loop
(``arrival_rate``) at those fractions of the closed-loop rate it measured, and prints the
send lateness (sent_at - scheduled_at, ms; and counted from the user's previous reply
when that came after the send was due: the runner's own part lies between the two, see
``metrics.send_lateness``) and whether it kept its
schedule (``metrics.behind_schedule``, as a run's summary judges it: half the sends late
by more than a user's mean interval, or the sends spread over more than 1/0.9 of the
schedule's span). Target: p99 < 5 ms at 0.5; schedule kept at 0.8.

Each block prints the host's CPU steal over it (``/proc/stat``): on a virtual machine the
host's other guests take CPU time at moments this one cannot choose, and a steal of a few
percent was seen to turn a 1-user open loop's p99 lateness from 13 ms into 860 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from typing import Any

import numpy as np
from websockets.asyncio.client import connect

from aura_lab.analysis import metrics
from aura_lab.load.bridge import event_loop_name, run_loop
from aura_lab.load.console import ProgressBar
from aura_lab.load.drive import drive_main
from aura_lab.load.engine import Engine, EngineSettings, writer_listener
from aura_lab.load.links import Group
from aura_lab.load.wsclient import open_connection
from aura_lab.servers.hosting import serve
from aura_lab.timing import ThinkTime
from aura_lab.traces.reader import load_traces
from aura_lab.traces.writer import TraceWriter
from aura_lab.traffic.generator import config_from_files, user_messages, user_profile
from aura_lab.traffic.selection import make_selector


def cpu_jiffies() -> tuple[int, int]:
    """(stolen, all) CPU time of the whole machine so far, in jiffies (Linux; (0, 0)
    elsewhere). Stolen time is what the host gave other guests while this one waited:
    on a virtual machine it is the first suspect of a latency tail."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(f) for f in stat.readline().split()[1:9]]
    except OSError:
        return 0, 0
    return fields[7], sum(fields)


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the machine's CPU time stolen between two ``cpu_jiffies``."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


def _steal_text(share: float | None) -> str:
    return "host steal not measured" if share is None else f"host steal {share:.1%} of CPU time"


async def bare_client(
    url: str, texts_by_user: list[list[str]], parse: bool, arrival_rate: float | None = None, lean: bool = False
) -> tuple[float, float, np.ndarray]:
    """(messages/s, client CPU µs per message, latencies in ms). ``arrival_rate``: each
    user sends on an exponential schedule of that many messages a second (waiting for
    each reply before its next send, as the runner's open loop does). ``lean``: on the
    runner's own connection (``load.wsclient``) instead of websockets' asyncio client."""
    latencies: list[float] = []
    loads = json.loads

    async def user(index, texts):
        rng = random.Random(index)
        if lean:
            ws: Any = await open_connection(url, 10, None)
        else:
            ws = await connect(url, compression=None, max_size=None, ping_interval=None)
        try:
            scheduled = time.perf_counter()
            for text in texts:
                if arrival_rate:
                    scheduled += rng.expovariate(arrival_rate)
                    await asyncio.sleep(scheduled - time.perf_counter())
                sent = time.perf_counter_ns()
                await ws.send(text)
                raw = await ws.recv()
                received = time.perf_counter_ns()
                if parse:
                    loads(raw)
                latencies.append((received - sent) / 1e6)
        finally:
            await ws.close()

    total = sum(len(t) for t in texts_by_user)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(user(i, t) for i, t in enumerate(texts_by_user)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return total / wall, cpu / total * 1e6, np.array(latencies)


async def runner(
    url: str, gen_config, users: int, arrival_rate: float | None = None, selection: str = "uniform"
) -> dict:
    """The engine as the CLI runs it; the window includes every flush and close()."""
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as devnull:
        writer = TraceWriter(f"{tmp}/run/traces")
        settings = EngineSettings(run_id="bench", think_time=ThinkTime.parse("0"), arrival_rate=arrival_rate)
        engine = Engine(settings, gen_config, [Group("identity", [url])], make_selector(selection), users, [
            writer_listener(writer)
        ])  # fmt: skip
        planned = sum(user_profile(gen_config, u)[1] for u in range(users))
        with contextlib.redirect_stderr(devnull):  # the CLI's bar, its terminal left out
            progress = ProgressBar(planned, "identity", engine.tally)
        engine.listen(progress)
        client: dict = {}
        await drive_main(engine, writer, list(range(users)), client, progress=progress)  # as the run does
        cpu, wall = time.process_time(), time.perf_counter()
        writer.close()
        wall, cpu = client["wall_s"] + time.perf_counter() - wall, client["cpu_s"] + time.process_time() - cpu
        ahead = client["traffic_ahead_s"]
        df = load_traces(f"{tmp}/run")
    total = len(df)
    span = (df["sent_at"].max() - df["scheduled_at"].min()).total_seconds()  # first scheduled to last sent
    return {
        "rate": total / wall,
        "rate_with_ahead": total / (wall + ahead),
        "ahead_s": ahead,
        "send_rate": total / span if span > 0 else None,
        "cpu": cpu / total * 1e6,
        "latency": df["latency_ms"].to_numpy(),
        "round_trip": (df["received_at"] - df["sent_at"]).dt.total_seconds().to_numpy() * 1000,
        "lateness": metrics.send_lateness(df),
    }


def _row(label: str, rate: float, base: float, cpu: float, lat: np.ndarray, base_lat: np.ndarray) -> str:
    d50 = (np.median(lat) - np.median(base_lat)) * 1000
    d99 = (np.percentile(lat, 99) - np.percentile(base_lat, 99)) * 1000
    return f"{label:<22} {rate:>10,.0f} {rate / base:>6.2f} {cpu:>9.0f} {d50:>+11.0f} {d99:>+11.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", default="1,50")
    parser.add_argument("--messages", type=int, default=6000, help="messages per measurement (all users)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--open-loop", default="", help="fractions of the closed-loop rate, e.g. 0.5,0.8")
    parser.add_argument(
        "--equal-load",
        type=float,
        default=0.0,
        help="latency honesty below saturation: both clients open loop at this fraction of the parsing "
        "client's closed-loop rate, round trips (sent to received) compared",
    )
    parser.add_argument("--profile", default="assistant", help="traffic profile (peer: the one a selector shapes)")
    parser.add_argument(
        "--selection",
        default="uniform",
        help="epsilon-greedy: the peer profile's messages made one at a time as the replies come (a learning "
        "selector's choices depend on them), not ahead; the bare clients send the uniform selection's texts",
    )
    args = parser.parse_args()
    with serve("identity") as server:
        for users in (int(u) for u in args.users.split(",")):
            per_user = max(1, args.messages // users)
            gen_config = config_from_files(None, None, seed=7, messages_per_user=per_user, profile=args.profile)
            texts = [[m.text for m in user_messages(gen_config, u)] for u in range(users)]
            parsing, bare, lean, ours = [], [], [], []
            jiffies = cpu_jiffies()
            for _ in range(args.repeats):
                parsing.append(run_loop(bare_client(server.url, texts, parse=True)))
                ours.append(run_loop(runner(server.url, gen_config, users, selection=args.selection)))
                bare.append(run_loop(bare_client(server.url, texts, parse=False)))
                lean.append(run_loop(bare_client(server.url, texts, parse=True, lean=True)))
            steal = steal_share(jiffies, cpu_jiffies())
            base = statistics.median(r[0] for r in parsing)
            base_lat = np.concatenate([r[2] for r in parsing])
            print(
                f"\n{users} users, {sum(len(t) for t in texts):,} messages, median of {args.repeats}, "
                f"{event_loop_name()} event loop (the CLI's; both clients); {args.profile} profile, "
                f"{args.selection} selection; {_steal_text(steal)}"
            )
            print(f"{'':<22} {'msg/s':>10} {'ratio':>6} {'CPU µs/msg':>9} {'Δp50 µs':>11} {'Δp99 µs':>11}")
            for label, results in (("bare client, parsing", parsing), ("bare client, no parse", bare),
                                   ("bare client, lean link", lean)):  # fmt: skip
                print(_row(label, statistics.median(r[0] for r in results), base,
                           statistics.median(r[1] for r in results), np.concatenate([r[2] for r in results]),
                           base_lat))  # fmt: skip
            rate = statistics.median(r["rate"] for r in ours)
            print(_row("runner (CLI path)", rate, base, statistics.median(r["cpu"] for r in ours),
                       np.concatenate([r["latency"] for r in ours]), base_lat))  # fmt: skip
            with_ahead = statistics.median(r["rate_with_ahead"] for r in ours)
            print(
                f"  (traffic made ahead of the first send, outside the window as in the run's own rate: "
                f"{statistics.median(r['ahead_s'] for r in ours) * 1000:.0f} ms; counted in, the runner makes "
                f"{with_ahead:,.0f} msg/s, {with_ahead / base:.2f}x)"
            )
            target = 0.85 if users == 1 else 0.80
            print(f"target: runner >= {target:.2f}x the parsing client; Δp50 < 50 µs" + (
                "; Δp99 < 1000 µs" if users >= 50 else ""))  # fmt: skip
            if args.equal_load:
                offered = base * args.equal_load
                bare_open = [run_loop(bare_client(server.url, texts, True, offered / users)) for _ in range(2)]
                ours_open = [run_loop(runner(server.url, gen_config, users, offered / users, args.selection))
                             for _ in range(2)]  # fmt: skip
                bare_rt = np.concatenate([r[2] for r in bare_open])
                ours_rt = np.concatenate([r["round_trip"] for r in ours_open])
                print(
                    f"equal load, both open loop at {args.equal_load:.0%} of the parsing client's rate "
                    f"({offered:,.0f} msg/s), round trip sent -> received: bare p50 {np.median(bare_rt):.3f} ms, "
                    f"p99 {np.percentile(bare_rt, 99):.3f}; runner p50 {np.median(ours_rt):.3f}, p99 "
                    f"{np.percentile(ours_rt, 99):.3f}; "
                    f"Δp50 {(np.median(ours_rt) - np.median(bare_rt)) * 1000:+.0f} µs, "
                    f"Δp99 {(np.percentile(ours_rt, 99) - np.percentile(bare_rt, 99)) * 1000:+.0f} µs "
                    f"(CPU µs/msg bare {statistics.median(r[1] for r in bare_open):.0f}, runner "
                    f"{statistics.median(r['cpu'] for r in ours_open):.0f})"
                )
            for fraction in (float(f) for f in args.open_loop.split(",") if f):
                offered = rate * fraction
                jiffies = cpu_jiffies()
                result = run_loop(runner(server.url, gen_config, users, offered / users, args.selection))
                steal = steal_share(jiffies, cpu_jiffies())
                lateness = result["lateness"]
                kept = not metrics.behind_schedule(lateness, offered / users)
                print(
                    f"open loop at {fraction:.0%} of {rate:,.0f} msg/s ({offered:,.0f} offered): sent "
                    f"{result['send_rate']:,.0f} msg/s (first scheduled to last sent; an exponential schedule's "
                    f"last user ends late), send lateness p50 {lateness['p50']:.2f} ms, p99 {lateness['p99']:.2f} ms "
                    f"(counted from a late previous reply: p50 {lateness['after_reply_p50']:.2f}, p99 "
                    f"{lateness['after_reply_p99']:.2f}): "
                    f"schedule {'kept' if kept else 'NOT kept'} (p50 under a user's mean interval, "
                    f"{users / offered * 1000:.1f} ms; pace {lateness['pace']:.2f}); CPU {result['cpu']:.0f} µs/msg; "
                    f"{_steal_text(steal)}"
                )


if __name__ == "__main__":
    main()
