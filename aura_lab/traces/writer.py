"""Writing trace records: Parquet part files, each complete on its own.

The writer closes a part every ``flush_rows`` records or ``flush_seconds``, so memory
is bounded and a run killed hard loses at most the records of the part being filled.
Part names come from ``RunFolder`` (``traces/folder.py``), their one owner.

A write that fails (no file descriptor left, disk full, folder made read-only) loses
nothing: the rows go back into the buffer, ``failure`` says why, and ``on_failure`` is
called once so the run stops sending (the buffer then only grows by the replies in
flight). ``close`` tries again (connections closed by then free descriptors), and
rows that still cannot be written go to a fallback file beside the traces (in the run
folder) or in the system temp dir, named in ``failure``; ``aura-lab doctor`` moves one
in the run folder into ``traces/``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .folder import part_name, unsaved_name
from .schema import records_to_table

RETRY_SECONDS = 1.0  # after a failed write, inline writes wait this long before trying again


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
        self._converting: list | None = None  # rows the background flush is converting
        self.written = 0
        self.failure: str | None = None  # why the first failed write failed (None: none failed)
        self.fallback: Path | None = None  # where close() put the rows the folder would not take

    def write(self, record: dict | tuple) -> None:
        with self._lock:
            self._rows.append(record)
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
        """Records buffered, not yet in a part file (those being converted included)."""
        return len(self._rows) + len(self._converting or ())

    def write_many(self, records: Iterable[dict | tuple]) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> bool:
        """Write the buffer as one part. False when the write failed: the rows are kept
        (back at the head of the buffer) and ``failure`` says why."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            if self._converting is not None:  # the background flush's rows: written here instead
                self._rows[:0], self._converting = self._converting, None
        rows, seq = self._take()
        if not rows:
            return True
        try:
            table = records_to_table(rows)
        except pa.ArrowException as exc:
            return self._put_back(rows, seq, exc)
        return self._write(rows, seq, table)

    def _take(self) -> tuple[list, int]:
        """The buffer's rows and the part number they will have."""
        with self._lock:
            self._last_flush = time.monotonic()
            rows, self._rows = self._rows, []
            seq = self._seq
            self._seq += 1 if rows else 0  # two flushes at once never share a part name
        return rows, seq

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

    def _put_back(self, rows: list, seq: int, exc: BaseException) -> bool:
        with self._lock:
            self._rows[:0] = rows  # nothing is lost: back in front of what came since
        self._failed(f"cannot write {self.folder / part_name(self.shard, seq)}: {_reason(exc)}")
        return False

    def _failed(self, reason: str) -> None:
        self._last_failure = time.monotonic()
        if self.failure is None:  # the first reason is the one that matters
            self.failure = reason
            if self.on_failure is not None:
                self.on_failure(reason)

    async def flush_periodically(self, every: float = 0.25, chunk: int = 100) -> None:
        """For an event loop: write due parts without stalling it (cancel the task to
        stop it). The records become Arrow columns here, ``chunk`` rows between two turns
        of the loop (~1 ms each): converting Python objects holds the GIL, and on a worker
        thread it held the loop up for the whole part (the p99 latency tail) and cost
        thread switches besides. The Parquet encoding and the file, which let the GIL go,
        are done on a worker thread."""
        import asyncio

        self._background = True
        try:
            while True:
                await asyncio.sleep(every)
                if not self.due() or (
                    self.failure is not None and time.monotonic() - self._last_failure < RETRY_SECONDS
                ):
                    continue
                rows, seq = self._take()
                if not rows:
                    continue
                # while converting, the rows stay the writer's: a flush() or close() in
                # the meantime (a stop) takes them back and writes them itself
                self._converting = rows
                batches: list[pa.Table] = []
                try:
                    for start in range(0, len(rows), chunk):
                        batches.append(records_to_table(rows[start : start + chunk]))
                        await asyncio.sleep(0)
                        if self._converting is not rows:
                            break
                    with self._lock:
                        if self._converting is not rows:
                            continue  # taken back by a flush
                        self._converting = None
                    table = pa.concat_tables(batches)
                except pa.ArrowException as exc:
                    with self._lock:
                        mine = self._converting is rows
                        self._converting = None
                    if mine:
                        self._put_back(rows, seq, exc)
                    continue
                except asyncio.CancelledError:
                    with self._lock:
                        if self._converting is rows:  # stopped before the write: close() writes them
                            self._rows[:0], self._converting = rows, None
                    raise
                writing = asyncio.ensure_future(asyncio.to_thread(self._write, rows, seq, table))
                try:
                    await asyncio.shield(writing)
                except asyncio.CancelledError:
                    await asyncio.wait({writing})  # the part is written (or its rows back) before close()
                    raise
        finally:
            self._background = False

    def close(self, attempts: int = 3) -> bool:
        """Write what is left (a few tries, a moment apart, then in smaller parts, which
        a nearly full disk or a file-size limit may still take); rows that still cannot
        be written go to the fallback file. True when every record is in the folder."""
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
        if not rows:
            return
        name = unsaved_name(self.shard, self._seq)
        problems = []
        for place in (self.folder.parent, Path(tempfile.gettempdir())):
            path = place / name
            try:
                pq.write_table(records_to_table(rows), path, compression="zstd")
            except (OSError, pa.ArrowException) as exc:
                problems.append(f"{path}: {_reason(exc)}")
                continue
            self.fallback = path
            self.failure = f"{self.failure}; {len(rows)} records saved in {path} instead"
            return
        with self._lock:
            self._rows[:0] = rows
        self.failure = f"{self.failure}; the fallback files failed too ({'; '.join(problems)})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
