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
    """Append trace records (dicts keyed by ``COLUMNS``) to part files in ``folder``."""

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
        self._rows: list[dict] = []
        self._lock = threading.Lock()  # write() in the event loop, flush() may run in a thread
        # one flush at a time, whole: close() waits for a part the flusher thread is still
        # writing (its task cancelled mid-write), so that the parts are all there after it
        self._flushing = threading.Lock()
        self._seq = 0
        self._last_flush = time.monotonic()
        self._last_failure = 0.0
        self._background = False  # a flush_periodically task is writing the parts
        self.written = 0
        self.failure: str | None = None  # why the first failed write failed (None: none failed)
        self.fallback: Path | None = None  # where close() put the rows the folder would not take

    def write(self, record: dict) -> None:
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
        """Records buffered, not yet in a part file."""
        return len(self._rows)

    def write_many(self, records: Iterable[dict]) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> bool:
        """Write the buffer as one part. False when the write failed: the rows are kept
        (back at the head of the buffer) and ``failure`` says why."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            self._last_flush = time.monotonic()
            rows, self._rows = self._rows, []
            seq = self._seq
            self._seq += 1 if rows else 0  # two flushes at once never share a part name
        if not rows:
            return True
        final = self.folder / part_name(self.shard, seq)
        tmp = final.with_suffix(".parquet.tmp")
        try:
            pq.write_table(records_to_table(rows), tmp, compression="zstd")
            tmp.replace(final)  # a part file is there whole or not at all
        except (OSError, pa.ArrowException) as exc:
            with self._lock:
                self._rows[:0] = rows  # nothing is lost: back in front of what came since
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            self._failed(f"cannot write {final}: {_reason(exc)}")
            return False
        with self._lock:
            self.written += len(rows)
        return True

    def _failed(self, reason: str) -> None:
        self._last_failure = time.monotonic()
        if self.failure is None:  # the first reason is the one that matters
            self.failure = reason
            if self.on_failure is not None:
                self.on_failure(reason)

    async def flush_periodically(self, every: float = 0.25) -> None:
        """For an event loop: write due parts on a worker thread, so the Parquet
        encoding does not stall the loop (cancel the task to stop it)."""
        import asyncio

        self._background = True
        try:
            while True:
                await asyncio.sleep(every)
                if self.due() and (self.failure is None or time.monotonic() - self._last_failure >= RETRY_SECONDS):
                    await asyncio.to_thread(self.flush)
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
