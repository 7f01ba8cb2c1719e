"""The writer's background flushes in an event loop: records become columns between
turns of the loop, parts are written whole, a stop in the middle loses nothing."""

from __future__ import annotations

import asyncio
import shutil

import pyarrow.parquet as pq

from aura_lab.traces.folder import RunFolder
from aura_lab.traces.writer import TraceWriter
from tests.traces.test_traces import record


def rows_in(folder) -> list[int]:
    return sorted(t for p in folder.glob("*.parquet") for t in pq.read_table(p).column("turn").to_pylist())


def test_background_flushes_write_every_record_and_let_the_loop_run(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=300)
    ticks = []

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.01, chunk=50))
        for i in range(1000):
            writer.write(record(i))
            if i % 100 == 0:
                await asyncio.sleep(0.03)
        ticker = asyncio.ensure_future(_tick(ticks))
        await asyncio.sleep(0.2)
        flusher.cancel()
        ticker.cancel()

    asyncio.run(main())
    assert writer.close()
    assert rows_in(run.traces_dir) == [record(i)["turn"] for i in range(1000)]
    assert len(list(run.traces_dir.glob("*.parquet"))) >= 3  # written in parts while the loop ran
    assert ticks  # the loop kept turning


async def _tick(ticks):
    while True:
        ticks.append(1)
        await asyncio.sleep(0)


def test_a_stop_during_a_background_flush_loses_nothing(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=500)

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.001, chunk=10))
        await asyncio.sleep(0)  # the flusher is running: writes leave the parts to it
        writer.write_many(record(i) for i in range(600))
        for _ in range(20):  # stopped while the rows are being converted
            await asyncio.sleep(0)
            if writer.pending == 0:
                break
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)

    asyncio.run(main())
    assert writer.close()
    assert rows_in(run.traces_dir) == sorted(record(i)["turn"] for i in range(600))


def test_a_failed_background_write_keeps_its_rows(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    failures = []
    writer = TraceWriter(run.traces_dir, flush_rows=50, on_failure=failures.append)

    async def main():
        shutil.rmtree(run.traces_dir)
        run.traces_dir.write_text("not a folder any more")
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.01))
        writer.write_many(record(i) for i in range(120))
        await asyncio.sleep(0.2)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)

    asyncio.run(main())
    assert writer.pending == 120 and writer.written == 0 and len(failures) == 1
    run.traces_dir.unlink()
    run.traces_dir.mkdir()
    assert writer.close() and rows_in(run.traces_dir) == sorted(record(i)["turn"] for i in range(120))


def test_close_right_after_a_stop_takes_back_the_rows_being_converted(tmp_path):
    """A stop cancels the flusher while it converts; close() runs before the flusher
    task gets to run again: the rows it held are written by close(), not lost."""
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=500)

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.001, chunk=10))
        await asyncio.sleep(0)  # the flusher is running: writes leave the parts to it
        writer.write_many(record(i) for i in range(600))
        while writer._converting is None:  # the flusher has taken the rows and is converting
            await asyncio.sleep(0)
        assert writer.pending == 600
        flusher.cancel()
        assert writer.close()  # before the cancelled flusher runs again
        await asyncio.gather(flusher, return_exceptions=True)
        assert writer.pending == 0

    asyncio.run(main())
    assert rows_in(run.traces_dir) == sorted(record(i)["turn"] for i in range(600))
