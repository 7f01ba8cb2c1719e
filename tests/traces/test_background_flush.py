"""The writer's background flushes in an event loop: records become columns between
turns of the loop, parts are written whole, a stop in the middle loses nothing."""

from __future__ import annotations

import asyncio
import shutil
import sys

import pyarrow.parquet as pq

from aura_lab.traces.folder import RunFolder
from aura_lab.traces.writer import RELEASE_ROWS, TraceWriter, release
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


def test_close_right_after_a_stop_writes_the_rows_being_converted(tmp_path):
    """A stop cancels the flusher while it converts; close() runs before the flusher
    task gets to run again: the rows, those converted and those not yet, are written by
    close(), not lost."""
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=500)

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.001, chunk=10))
        await asyncio.sleep(0)  # the flusher is running: writes leave the parts to it
        writer.write_many(record(i) for i in range(600))
        while not writer._converted:  # the flusher is converting the rows
            await asyncio.sleep(0)
        assert writer.pending == 600 and writer._converted < 600
        flusher.cancel()
        assert writer.close()  # before the cancelled flusher runs again
        await asyncio.gather(flusher, return_exceptions=True)
        assert writer.pending == 0

    asyncio.run(main())
    assert rows_in(run.traces_dir) == sorted(record(i)["turn"] for i in range(600))


def test_rows_become_columns_as_they_come_not_all_at_once_when_a_part_is_due(tmp_path):
    """Converting a whole part at the moment it is due took a fifth of the loop for a
    quarter of a second (an open loop's sends fell behind at every part): the flusher
    converts what came since its last turn, and a due part is only written."""
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=10_000, flush_seconds=3600)
    converted = []

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.005, chunk=40))
        for i in range(0, 300, 100):
            writer.write_many(record(j) for j in range(i, i + 100))
            for _ in range(200):
                await asyncio.sleep(0.001)
                if writer._converted == i + 100:
                    break
            converted.append(writer._converted)
        assert not list(run.traces_dir.glob("*.parquet"))  # not due: nothing written yet
        writer.flush_seconds = 0  # due now: the part is the rows converted
        for _ in range(200):
            await asyncio.sleep(0.005)
            if writer.written:
                break
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)

    asyncio.run(main())
    assert converted == [100, 200, 300]  # each batch converted before the next came
    assert writer.written == 300 and writer.pending == 0
    assert writer.close()
    assert rows_in(run.traces_dir) == sorted(record(i)["turn"] for i in range(300))


def test_a_record_arrow_refuses_fails_the_writer_and_keeps_every_row(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    failures = []
    writer = TraceWriter(run.traces_dir, flush_rows=50, on_failure=failures.append)
    bad = {**record(5), "user_id": "not a number"}

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.005, chunk=10))
        writer.write_many([*(record(i) for i in range(5)), bad, *(record(i) for i in range(6, 80))])
        await asyncio.sleep(0.1)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)

    asyncio.run(main())
    assert len(failures) == 1 and "cannot write" in failures[0] and "part-" in failures[0]
    assert writer.pending == 80 and writer.written == 0
    assert not writer.close()  # the bad record cannot be written anywhere: kept, and said
    assert writer.pending == 80 and "the fallback files failed too" in writer.failure


def test_a_written_part_is_released_a_little_at_a_time_not_held_until_the_next(tmp_path):
    """Freed at once when the next part replaced them, a part's records held the loop for
    5-15 ms at every part: the flusher lets them go right after the write, in steps."""
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=100)
    first = record(0)
    held = sys.getrefcount(first)

    async def main():
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.001, chunk=50))
        await asyncio.sleep(0)
        writer.write_many([first, *(record(i) for i in range(1, 100))])
        for _ in range(2000):  # the part is written, then released (a turn of the loop per step)
            await asyncio.sleep(0.001 if writer.written < 100 else 0)
            if writer.written == 100 and sys.getrefcount(first) == held:
                break
        flusher.cancel()
        return sys.getrefcount(first)

    assert asyncio.run(main()) == held  # no part of the flusher still holds the record
    assert writer.close() and rows_in(run.traces_dir) == [record(i)["turn"] for i in range(100)]


def test_release_empties_the_lists_letting_the_loop_turn_between_steps():
    rows, batches = list(range(4 * RELEASE_ROWS + 1)), ["a", "b"]
    turns = []

    async def main():
        ticker = asyncio.ensure_future(_tick(turns))
        await asyncio.sleep(0)
        await release(rows, batches)
        ticker.cancel()

    asyncio.run(main())
    assert rows == [] and batches == []
    assert len(turns) >= 5  # one step a turn: five steps for the rows
