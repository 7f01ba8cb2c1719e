"""Runs larger than one process: users sharded by id over Dask workers.

Each shard is a plain synchronous task that runs its own event loop (not a coroutine
on the worker's loop) and writes its own Parquet parts; the summary is computed from all
parts. With uniform selection a sharded run sends exactly the traffic of a one-process
run of the same seed: every user's messages depend on (seed, user_id) alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from ..analysis import metrics
from ..config import RunConfig
from ..traces.folder import Manifest, note_dead_servers, parse_part_name
from ..traces.writer import TraceWriter
from ..traffic.generator import config_from_files
from ..traffic.selection import make_selector
from ..traffic.templates import PatternLibrary
from .bridge import run_loop
from .drive import drive_main
from .engine import Engine, EngineSettings, writer_listener
from .links import Group
from .traffic_sources import read_replay, replay_traffic
from .verify import Verifier


@dataclass
class ShardJob:
    config: RunConfig  # as the main phase runs it (warmup adjustments applied)
    shard: int  # 1.. (shard 0 is the main process: warmup)
    n_shards: int
    run_id: str
    folder: str
    groups: list[tuple[str, list[str], str]]  # label, URLs, context
    patterns: dict[int, str]  # the template library learnt by the main process
    stop_event: str  # name of the Dask Event that stops every shard


def run_shard(job: ShardJob) -> dict:
    """Runs in a worker process: its own event loop, its own trace parts."""
    return run_loop(_run_shard(job))


class ShardStartedTwice(RuntimeError):
    """A shard's job given to a second worker after the first died: it is not played
    again, so the first attempt's parts are never overwritten nor its messages sent twice."""


def claim_shard(folder: Path, shard: int) -> None:
    """Mark the shard as started (``shard-NNNN.started`` among the parts, with this
    worker's pid), or raise ``ShardStartedTwice`` when an attempt already has."""
    marker = folder / f"shard-{shard:04d}.started"
    try:
        with open(marker, "x", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
    except FileExistsError:
        raise ShardStartedTwice(
            f"shard {shard} was given to another worker after its first one died (pid "
            f"{marker.read_text(encoding='utf-8').strip() or 'unknown'}); it is not played twice"
        ) from None


async def _run_shard(job: ShardJob) -> dict:
    config = job.config
    claim_shard(Path(job.folder), job.shard)
    gen_config = config_from_files(
        config.corpus, config.metadata, library=PatternLibrary(job.patterns, source="run"), **config.generator_options()
    )
    # a replay: each shard reads the logs again (the paths are absolute) and plays its users
    traffic = replay_traffic(read_replay(config)[0]) if config.replay else None
    loop = asyncio.get_running_loop()

    def write_failed(_reason: str) -> None:  # from the flusher's thread, perhaps
        loop.call_soon_threadsafe(engine.stop, "write_failed")

    writer = TraceWriter(job.folder, shard=job.shard, on_failure=write_failed)
    engine = Engine(
        EngineSettings.of(config, job.run_id),
        gen_config,
        [Group(label, urls, context=context) for label, urls, context in job.groups],
        make_selector(config.selection, config.explore),
        config.users or 0,
        [writer_listener(writer)],
        traffic,
        await Verifier(config.verify, config.min_compression_size).start() if config.verify else None,
    )
    users = [u for u in range(config.users or 0) if u % job.n_shards == job.shard - 1]
    watcher = asyncio.ensure_future(_watch_stop(job.stop_event, engine))
    client: dict = {}
    try:
        # as in one process: traffic made first, parts written by the flusher (inline writes
        # held the shard's loop for a whole part), the young generation collected
        await drive_main(engine, writer, users, client, config.main_deadline)
    finally:
        watcher.cancel()
        writer.close()
        if engine.verifier is not None:
            await engine.verifier.close()
    return {
        "shard": job.shard,
        "users": len(users),
        "messages": engine.tally.messages,
        "stop_reason": engine.stop_reason,
        "written": writer.written,
        "client": client,
        "write_failure": writer.failure,
        "dead_servers": [dead for group in engine.groups for dead in group.dead_servers()],
        "verify": None
        if engine.verifier is None
        else {"mode": engine.verifier.mode, "failure": engine.verifier.failure},
    }


async def _watch_stop(name: str, engine: Engine) -> None:
    from distributed import Event, get_client

    event = Event(name, client=get_client())
    while True:
        if await asyncio.to_thread(event.is_set):
            engine.stop("interrupted")
            return
        await asyncio.sleep(0.5)


def _outcomes(futures: list) -> tuple[list[dict], list[tuple[int, str]]]:
    """Every shard's result, and ``(shard, error)`` of those whose worker died (or that
    failed otherwise): waits for all of them, so one death does not hide the others."""
    from distributed import wait

    wait(futures)
    results, lost = [], []
    for shard, future in enumerate(futures, start=1):
        if future.status == "finished":
            results.append(future.result())
        else:
            error = future.exception()
            lost.append((shard, f"{type(error).__name__}: {error}"))
    return results, lost


def _lost_shard(folder: Path, shard: int, error: str) -> dict:
    """What a shard that did not finish left: the records its parts hold (kept), and why."""
    kept = 0
    for part in folder.glob(f"part-{shard:04d}-*.parquet"):
        try:
            kept += pq.read_metadata(part).num_rows
        except Exception:  # a part cut short by the death: doctor sets it aside
            pass
    marker = folder / f"shard-{shard:04d}.started"
    pid = marker.read_text(encoding="utf-8").strip() if marker.is_file() else "unknown"
    note = (
        f"shard {shard}'s worker (pid {pid}) died ({error[:300]}): the {kept:,} records it had written are kept; "
        "what it sent after its last part is lost, so the run is incomplete"
    )
    return {"shard": shard, "records_kept": kept, "error": error, "note": note}


def shards_load(results: list[dict]) -> dict | None:
    """The client's own cost over the shards: their CPU together over the longest shard's
    wall time, per core the shards had (one each); None when a shard did not say."""
    loads: list[dict] = [r.get("client") or {} for r in results]
    if not loads or not all("cpu_s" in load for load in loads):
        return None
    figures = metrics.client_load(
        sum(load["cpu_s"] for load in loads),
        max(load["wall_s"] for load in loads),
        sum(load["messages"] for load in loads),
        cores=len(loads),
    )
    return {**figures, "shards": len(loads), "traffic_ahead_s": max(load["traffic_ahead_s"] for load in loads)}


def _rows_written(folder) -> int:
    """Records the shards (1..) have written so far; shard 0's parts are the warmup's."""
    total = 0
    for part in folder.iterdir():
        shard_seq = parse_part_name(part.name)
        if shard_seq and shard_seq[0] >= 1:
            try:
                total += pq.read_metadata(part).num_rows
            except Exception:  # being renamed into place: counted next time
                pass
    return total


def _local_cluster(workers: int):
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        # a shard whose worker dies is not given to another: played again from its first
        # message it would overwrite the dead attempt's parts and send its messages twice
        scheduler_kwargs={"dashboard": False, "allowed_failures": 0},
        threads_per_worker=1,
        processes=True,
        # no dashboard; the scheduler's HTTP server (health, metrics) on loopback at any
        # free port (its default, 8787, warned on stderr whenever another cluster had it)
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )


class EarlyCluster:
    """The ``LocalCluster`` of a ``--workers`` run, started on a thread when the run
    starts, so that its worker processes start while the servers do (it takes 1-2 s);
    the run closes it (``close``) however it ends."""

    def __init__(self, workers: int):
        # on a thread from this moment (a task would wait for the loop, which the servers'
        # start holds)
        self._starting = asyncio.get_running_loop().run_in_executor(None, _local_cluster, workers)

    async def get(self):
        return await asyncio.shield(self._starting)

    async def close(self) -> None:
        try:
            cluster = await asyncio.shield(self._starting)
        except Exception:  # it never started: run_distributed raised its error
            return
        await asyncio.to_thread(cluster.close)


async def run_distributed(
    config,
    gen_config,
    groups: list[Group],
    folder,
    manifest: Manifest,
    say,
    stop_requested: asyncio.Event,
    cluster: EarlyCluster | None = None,
) -> str | None:
    """Run the main phase on Dask; returns why it stopped early (``interrupted``,
    ``write_failed``) or None. ``stop_requested`` (the run's stop) is passed on to every
    shard; a shard's failed write is the manifest's ``error``, its dead servers notes.
    ``cluster``: the run's local cluster, started early (else one is started here)."""
    from distributed import Client, Event

    own = None  # a cluster started here, closed here
    if config.scheduler:
        client = await asyncio.to_thread(Client, config.scheduler, timeout=30)
        n_shards = max(config.workers, len(client.scheduler_info()["workers"]) or 1)
    else:
        if cluster is None:
            cluster = own = EarlyCluster(config.workers)
        client = await asyncio.to_thread(Client, await cluster.get())
        n_shards = config.workers
    run_id = manifest.run_id
    stop_name = f"aura-lab-stop-{run_id}"
    stop_event = Event(stop_name, client=client)
    reason: str | None = None
    try:
        warmup = manifest.warmup or {}
        main_config = dataclasses.replace(
            config, corpus_weight=gen_config.corpus_weight, explore=warmup.get("explore_after", config.explore)
        )
        patterns = {t: gen_config.library.pattern(t) for t in gen_config.library.ids()}
        jobs = [
            ShardJob(
                main_config,
                shard=k + 1,
                n_shards=n_shards,
                run_id=run_id,
                folder=str(folder),
                groups=[(g.label, g.urls, g.context) for g in groups],
                patterns=patterns,
                stop_event=stop_name,
            )
            for k in range(n_shards)
        ]
        manifest.workers = {"shards": n_shards, "scheduler": config.scheduler or "LocalCluster"}
        futures = client.map(run_shard, jobs, pure=False)
        say(f"running {config.users} users on {n_shards} Dask workers")
        gathering = asyncio.ensure_future(asyncio.to_thread(_outcomes, futures))
        last = time.monotonic()
        while not gathering.done():
            await asyncio.wait({gathering}, timeout=0.5)
            if stop_requested.is_set() and not stop_event.is_set():
                await asyncio.to_thread(stop_event.set)
            if time.monotonic() - last > 5 and not config.quiet:
                last = time.monotonic()
                say(f"  {_rows_written(folder) // max(1, len(groups))} messages so far")
        results, lost = await gathering
        manifest.workers["results"] = results
        manifest.client = shards_load(results)
        for result in results:
            note_dead_servers(manifest, result["dead_servers"])
        failures = [f"shard {r['shard']}: {r['write_failure']}" for r in results if r["write_failure"]]
        if lost:
            reason = "worker_died"
            manifest.workers["lost"] = [_lost_shard(folder, shard, error) for shard, error in lost]
            manifest.error = "; ".join(item["note"] for item in manifest.workers["lost"])
        elif failures:
            reason = "write_failed"
            manifest.error = "; ".join(failures)
        elif stop_requested.is_set() or any(r["stop_reason"] == "interrupted" for r in results):
            reason = "interrupted"
    except asyncio.CancelledError:
        stop_event.set()
        raise
    finally:
        await asyncio.to_thread(client.close)
        if own is not None:
            await own.close()
    return reason
