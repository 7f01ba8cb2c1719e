"""Writing trace records: Parquet part files, each complete on its own.

The writer closes a part every ``flush_rows`` records or ``flush_seconds``, so memory
is bounded and a run killed hard loses at most the records of the part being filled.
Part names come from ``RunFolder`` (``traces/folder.py``), their one owner.

A write that fails (no file descriptor left, disk full, folder made read-only) loses
nothing: the rows go back into the buffer, ``failure`` says why, and ``on_failure`` is
called once so the run stops sending (the buffer then only grows by the replies in
flight). ``close`` tries again (connections closed by then free descriptors), and
rows that still cannot be written go to a fallback file beside the traces (in the run
folder) or in the system temp dir under the run's id (``folder.unsaved_dir``), named in
``failure``; ``aura-lab doctor`` moves either into ``traces/``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .folder import part_name, unsaved_dir, unsaved_name
from .schema import records_to_table

RETRY_SECONDS = 1.0  # after a failed write, inline writes wait this long before trying again
RELEASE_ROWS = 250  # a written part's records freed per turn of the loop (~0.3 ms)


async def release(rows: list, batches: list) -> None:
    """Free a written part's records and columns a little at a time, a turn of the loop
    between: freed at once when the next part replaced them (~180,000 objects for 4,500
    records, and the Arrow columns), they held an event loop for 5-15 ms at every part
    (``benchmarks/loop_lags.py``). The lists are emptied; a failed part's rows are back
    in the buffer already, which holds them."""
    while rows or batches:
        del rows[-RELEASE_ROWS:]
        if batches:
            batches.pop()
        await asyncio.sleep(0)


class TraceWriter:
    """Append trace records (tuples in ``COLUMNS`` order, or dicts keyed by ``COLUMNS``)
    to part files in ``folder``."""

    def __init__(
        self,
        folder: str | Path,
        shard: int = 0,
        flush_rows: int = 10_000,
        flush_seconds: float = 2.0,
        on_failure: Callable[[str], None] | None = None,
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard = shard
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.on_failure = on_failure
        self._rows: list[dict | tuple] = []
        self._lock = threading.Lock()  # write() in the event loop, flush() may run in a thread
        # one flush at a time, whole: close() waits for a part the flusher thread is still
        # writing (its task cancelled mid-write), so that the parts are all there after it
        self._flushing = threading.Lock()
        self._seq = 0
        self._last_flush = time.monotonic()
        self._last_failure = 0.0
        self._background = False  # a flush_periodically task is writing the parts
        # the head of the buffer the flusher has already turned into columns: ``_batches``
        # hold ``_rows[:_converted]``; ``_epoch`` changes whenever the buffer changes other
        # than by an append (a part taken, rows put back), which voids them
        self._batches: list[pa.Table] = []
        self._converted = 0
        self._epoch = 0
        self._pool: ThreadPoolExecutor | None = None  # the background flush's thread (``_encode_in_background``)
        self.written = 0
        self.failure: str | None = None  # why the first failed write failed (None: none failed)
        self.fallback: Path | None = None  # where close() put the rows the folder would not take

    def write(self, record: dict | tuple) -> None:
        with self._lock:
            self._rows.append(record)
        self._appended()

    def write_many(self, records: Iterable[dict | tuple]) -> None:
        if not self._background:
            for record in records:
                self.write(record)  # each may make a part due
            return
        with self._lock:  # the run's case: one exchange's records, the flusher writing parts
            self._rows.extend(records)
        self._appended()

    def _appended(self) -> None:
        """After records came: write a part inline when one is due (with a flusher running,
        only when it has fallen far behind)."""
        if self.failure is not None and time.monotonic() - self._last_failure < RETRY_SECONDS:
            return  # failing: the run is stopping; do not retry on every record
        if self._background:
            # the flusher writes parts on a thread; flushing here would stall the event
            # loop. Only a buffer far past its size (a starved flusher) is written inline.
            if len(self._rows) >= 4 * self.flush_rows:
                self.flush()
        elif self.due():
            self.flush()

    def due(self) -> bool:
        """True when the buffer is full or old enough to be written out."""
        return bool(self._rows) and (
            len(self._rows) >= self.flush_rows or time.monotonic() - self._last_flush >= self.flush_seconds
        )

    @property
    def pending(self) -> int:
        """Records buffered, not yet in a part file."""
        return len(self._rows)

    def flush(self) -> bool:
        """Write the buffer as one part. False when the write failed: the rows are kept
        (back at the head of the buffer) and ``failure`` says why."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        rows, seq, batches = self._take()
        if not rows:
            return True
        try:
            converted = sum(b.num_rows for b in batches)
            table = pa.concat_tables([*batches, records_to_table(rows[converted:])])
        except pa.ArrowException as exc:
            return self._put_back(rows, seq, exc)
        return self._write(rows, seq, table)

    def _take(self, converted_only: bool = False) -> tuple[list, int, list[pa.Table]]:
        """The buffer's rows (only those already converted, when asked), the part number
        they will have, and the columns the flusher made of them (of their head)."""
        with self._lock:
            self._last_flush = time.monotonic()
            count = self._converted if converted_only else len(self._rows)
            rows, self._rows = self._rows[:count], self._rows[count:]
            batches = self._batches
            self._void_batches()
            seq = self._seq
            self._seq += 1 if rows else 0  # two flushes at once never share a part name
        return rows, seq, batches

    def _void_batches(self) -> None:
        """The buffer changed other than by an append (the lock held): its columns go."""
        self._batches, self._converted = [], 0
        self._epoch += 1

    def _write(self, rows: list, seq: int, table: pa.Table) -> bool:
        """Write ``table`` (``rows`` converted) as part ``seq``; on failure the rows go back."""
        final = self.folder / part_name(self.shard, seq)
        tmp = final.with_suffix(".parquet.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(final)  # a part file is there whole or not at all
        except (OSError, pa.ArrowException) as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return self._put_back(rows, seq, exc)
        with self._lock:
            self.written += len(rows)
        return True

    def _cannot_write(self, seq: int, exc: BaseException) -> str:
        return f"cannot write {self.folder / part_name(self.shard, seq)}: {_reason(exc)}"

    def _put_back(self, rows: list, seq: int, exc: BaseException) -> bool:
        with self._lock:
            self._rows[:0] = rows  # nothing is lost: back in front of what came since
            self._void_batches()
        self._failed(self._cannot_write(seq, exc))
        return False

    def _failed(self, reason: str) -> None:
        self._last_failure = time.monotonic()
        if self.failure is None:  # the first reason is the one that matters
            self.failure = reason
            if self.on_failure is not None:
                self.on_failure(reason)

    async def flush_periodically(self, every: float = 0.05, chunk: int = 200) -> None:
        """For an event loop: write due parts without stalling it (cancel the task to
        stop it). Every ``every`` seconds the records that came since become Arrow
        columns, up to ``chunk`` rows between two turns of the loop (200 rows ~0.5 ms;
        records just made convert at half the cost of records a second old, which have
        left the CPU's caches, 7 µs a row and more in a run): converting Python
        objects holds the GIL (on a worker thread it held the loop up for a whole part:
        the p99 latency tail), and converting a whole part when it fell due took a share
        of the loop for a quarter of a second (an open loop's sends fell behind by tens
        of ms at every part). A due part is the rows converted so far; its Parquet
        encoding and file, which let the GIL go, are done on the writer's own thread."""
        self._background = True
        try:
            while True:
                await asyncio.sleep(every)
                if self.failure is not None and time.monotonic() - self._last_failure < RETRY_SECONDS:
                    continue
                if not await self._convert(chunk) or not self.due():
                    continue
                rows, seq, batches = self._take(converted_only=True)
                if not rows:
                    continue
                try:
                    table = pa.concat_tables(batches)
                except pa.ArrowException as exc:
                    self._put_back(rows, seq, exc)
                    continue
                writing = asyncio.ensure_future(self._encode_in_background(rows, seq, table))
                del table  # the writer's thread holds it while it encodes
                try:
                    await asyncio.shield(writing)
                except asyncio.CancelledError:
                    await asyncio.wait({writing})  # the part is written (or its rows back) before close()
                    raise
                await release(rows, batches)
        finally:
            self._background = False

    def _encode_in_background(self, rows: list, seq: int, table: pa.Table):
        """``_write`` on the writer's own thread, which runs at a lower priority than the
        event loop's (where the OS allows): on a machine whose cores the client and the
        servers fill, encoding a part took the loop's core for tens of ms."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, "aura-lab-traces", initializer=lower_thread_priority)
        return asyncio.get_running_loop().run_in_executor(self._pool, self._write, rows, seq, table)

    async def _convert(self, chunk: int) -> bool:
        """Turn the rows buffered now (not those that come meanwhile: bounded) into
        columns, ``chunk`` rows between two turns of the loop. False when Arrow refused a
        record: the writer has failed (the rows stay; ``close`` tries them again)."""
        with self._lock:
            end = len(self._rows)
        while True:
            with self._lock:
                epoch, start = self._epoch, self._converted
                piece = self._rows[start : min(start + chunk, end)]
            if not piece:
                return True
            try:
                table = records_to_table(piece)
            except pa.ArrowException as exc:
                self._failed(self._cannot_write(self._seq, exc))
                return False
            with self._lock:
                if self._epoch != epoch:  # the buffer was taken meanwhile: what is left of it
                    end = len(self._rows)
                    continue
                self._batches.append(table)
                self._converted += len(piece)
            await asyncio.sleep(0)

    def close(self, attempts: int = 3) -> bool:
        """Write what is left (a few tries, a moment apart, then in smaller parts, which
        a nearly full disk or a file-size limit may still take); rows that still cannot
        be written go to the fallback file. True when every record is in the folder."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # a part it is writing is written (or back) first
            self._pool = None
        for attempt in range(attempts):
            if self.flush():
                return True
            time.sleep(0.2 * (attempt + 1))
        if self._flush_in_pieces():
            return True
        self._write_fallback()
        return False

    def _flush_in_pieces(self, smallest: int = 50) -> bool:
        """Write the buffer in parts of ever fewer rows (halving down to ``smallest``)."""
        size = max(smallest, len(self._rows) // 2)
        while self._rows:
            with self._lock:
                piece, rest = self._rows[:size], self._rows[size:]
                self._rows = piece
                self._void_batches()
            ok = self.flush()
            with self._lock:
                self._rows.extend(rest)  # the piece is written, or back at the head
            if not ok:
                if size <= smallest:
                    return False
                size = max(smallest, size // 2)
        return True

    def _write_fallback(self) -> None:
        """The rows the folder would not take, written beside it (the run folder) or,
        failing that, in the system temp dir; ``failure`` names the file."""
        with self._lock:
            rows, self._rows = self._rows, []
            self._void_batches()
        if not rows:
            return
        name = unsaved_name(self.shard, self._seq)
        problems = []
        for place in (self.folder.parent, unsaved_dir(self.folder.parent.name)):
            path = place / name
            try:
                place.mkdir(parents=True, exist_ok=True)
                pq.write_table(records_to_table(rows), path, compression="zstd")
            except (OSError, pa.ArrowException) as exc:
                problems.append(f"{path}: {_reason(exc)}")
                continue
            self.fallback = path
            self.failure = f"{self.failure}; {len(rows)} records saved in {path} instead"
            return
        with self._lock:
            self._rows[:0] = rows
            self._void_batches()
        self.failure = f"{self.failure}; the fallback files failed too ({'; '.join(problems)})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def lower_thread_priority(step: int = 10) -> None:
    """Make the calling thread ``step`` nicer than the process (Linux: a thread is a task
    with its own priority); nothing where the OS does not allow it."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + step)
    except (AttributeError, OSError):
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
