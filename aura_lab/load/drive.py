"""The main phase's sequence, one function for a run in one process, a Dask shard and
``benchmarks/runner_cost.py``: the traffic made before the clocks start, the trace
writer's flusher, the garbage collector's young generation kept small, the client's own
cost measured."""

from __future__ import annotations

import asyncio
import gc
import time

from ..analysis import metrics
from ..traces.writer import TraceWriter
from .console import ProgressBar
from .engine import Engine


async def drive_main(
    engine: Engine,
    writer: TraceWriter,
    users: list[int],
    client: dict,
    deadline: float | None = None,
    progress: ProgressBar | None = None,
) -> None:
    """Play ``users``: their first messages made before the clocks start, the writer's
    periodic flusher and the young-generation collector running alongside, the
    flusher's last part handed back, the bar closed. ``client`` gets the
    client's own cost (``metrics.client_load``: its process's CPU, the flusher thread and
    in-process servers included, over the main phase's messages) and the time taken to
    make the first messages (``traffic_ahead_s``), also when the phase is stopped."""
    ahead = time.perf_counter()
    engine.prepare(users)  # before the clocks start: no message is sent while it runs
    ahead = time.perf_counter() - ahead
    flusher = asyncio.ensure_future(writer.flush_periodically())
    collector = asyncio.ensure_future(collect_young())
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        await engine.run_users(users, deadline_s=deadline)
    finally:
        flusher.cancel()
        collector.cancel()
        # its part, converted or being written, is the writer's again before close()
        await asyncio.gather(flusher, collector, return_exceptions=True)
        if progress is not None:
            progress.close()
        client.update(metrics.client_load(time.process_time() - cpu, time.perf_counter() - wall, engine.tally.messages))
        client["traffic_ahead_s"] = ahead


async def collect_young(every: float = 0.05) -> None:
    """Collect the garbage collector's youngest generation every ``every`` seconds
    (cancel the task to stop it). Python collects it after 700 more objects were made
    than freed; in a run every record made is matched by a prepared message freed, so
    the young generation grew to ~10,000 records between collections and each one held
    every user up for 15-30 ms (the send-lateness tail of an open loop). Collected this
    often it holds a few hundred records: well under a ms."""
    while True:
        await asyncio.sleep(every)
        gc.collect(0)
