"""Runner cost and latency honesty against a plain websockets client, same server, same
process, same messages.

    python benchmarks/runner_cost.py [--users 1,50,500] [--messages 6000] [--repeats 3]

The server is the embedded ``identity`` codec in its own process. For each user count,
the plain client (connect, then send/recv ping-pong with nothing else) and aura-lab's
engine (generation, tracing to Parquet, metrics, progress hooks) alternate ``--repeats``
times; the median of each is printed with the ratio. Targets: the runner keeps at least
80% of the plain client's rate; its median latency is within 50 microseconds of the
plain client's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import numpy as np
from websockets.asyncio.client import connect

from aura_lab.load.engine import Engine, EngineSettings, writer_listener
from aura_lab.load.links import Group
from aura_lab.servers.hosting import serve
from aura_lab.timing import ThinkTime
from aura_lab.traces.reader import load_traces
from aura_lab.traces.writer import TraceWriter
from aura_lab.traffic.generator import config_from_files, user_messages
from aura_lab.traffic.selection import UniformSelector


async def plain_client(url: str, texts_by_user: list[list[str]]) -> tuple[float, float, np.ndarray]:
    """(messages/s, client CPU µs per message, latencies in ms)."""
    latencies: list[float] = []

    async def user(texts):
        async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
            for text in texts:
                sent = time.perf_counter_ns()
                await ws.send(text)
                await ws.recv()
                latencies.append((time.perf_counter_ns() - sent) / 1e6)

    total = sum(len(t) for t in texts_by_user)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(user(t) for t in texts_by_user))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return total / wall, cpu / total * 1e6, np.array(latencies)


async def aura_lab_runner(url: str, gen_config, users: int) -> tuple[float, float, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        writer = TraceWriter(f"{tmp}/run/traces")
        settings = EngineSettings(run_id="bench", think_time=ThinkTime.parse("0"))
        ticks = [0]
        engine = Engine(
            settings,
            gen_config,
            [Group("identity", [url])],
            UniformSelector(),
            users,
            [writer_listener(writer), lambda event: ticks.__setitem__(0, ticks[0] + 1)],
        )

        flusher = asyncio.ensure_future(writer.flush_periodically())  # as the runner does
        cpu, wall = time.process_time(), time.perf_counter()
        await engine.run_users(list(range(users)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        flusher.cancel()
        writer.close()
        df = load_traces(f"{tmp}/run")
    total = len(df)
    return total / wall, cpu / total * 1e6, df["latency_ms"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", default="1,50,500")
    parser.add_argument("--messages", type=int, default=6000, help="messages per measurement (all users)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with serve("identity") as server:
        for users in (int(u) for u in args.users.split(",")):
            per_user = max(1, args.messages // users)
            gen_config = config_from_files(None, None, seed=7, messages_per_user=per_user)
            texts = [[m.text for m in user_messages(gen_config, u)] for u in range(users)]
            plain, runner = [], []
            for _ in range(args.repeats):
                plain.append(asyncio.run(plain_client(server.url, texts)))
                runner.append(asyncio.run(aura_lab_runner(server.url, gen_config, users)))
            p_rate = statistics.median(r[0] for r in plain)
            r_rate = statistics.median(r[0] for r in runner)
            p_cpu = statistics.median(r[1] for r in plain)
            r_cpu = statistics.median(r[1] for r in runner)
            p_lat = np.concatenate([r[2] for r in plain])
            r_lat = np.concatenate([r[2] for r in runner])
            rows.append(
                (
                    users,
                    p_rate,
                    r_rate,
                    p_cpu,
                    r_cpu,
                    (np.median(r_lat) - np.median(p_lat)) * 1000,
                    (np.percentile(r_lat, 99) - np.percentile(p_lat, 99)) * 1000,
                )
            )
    print(
        f"{'users':>6} {'plain msg/s':>12} {'runner msg/s':>13} {'ratio':>6} {'plain CPU µs/msg':>17} "
        f"{'runner CPU µs/msg':>18} {'Δlat p50 µs':>12} {'Δlat p99 µs':>12}"
    )
    for users, p_rate, r_rate, p_cpu, r_cpu, d50, d99 in rows:
        print(
            f"{users:>6} {p_rate:>12,.0f} {r_rate:>13,.0f} {r_rate / p_rate:>6.2f} {p_cpu:>17.0f} "
            f"{r_cpu:>18.0f} {d50:>12.0f} {d99:>12.0f}"
        )
    print("targets: ratio >= 0.80; median latency difference < 50 µs (1 and 50 users)")


if __name__ == "__main__":
    main()
