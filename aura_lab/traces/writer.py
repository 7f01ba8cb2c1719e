"""Writing trace records: Parquet part files, each complete on its own.

The writer closes a part every ``flush_rows`` records or ``flush_seconds``, so memory
is bounded and a run killed hard loses at most the records of the part being filled.
Part names come from ``RunFolder`` (``traces/folder.py``), their one owner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from .folder import part_name
from .schema import records_to_table


class TraceWriter:
    """Append trace records (dicts keyed by ``COLUMNS``) to part files in ``folder``."""

    def __init__(self, folder: str | Path, shard: int = 0, flush_rows: int = 10_000, flush_seconds: float = 2.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard = shard
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._rows: list[dict] = []
        self._lock = threading.Lock()  # write() in the event loop, flush() may run in a thread
        # one flush at a time, whole: close() waits for a part the flusher thread is still
        # writing (its task cancelled mid-write), so that the parts are all there after it
        self._flushing = threading.Lock()
        self._seq = 0
        self._last_flush = time.monotonic()
        self._background = False  # a flush_periodically task is writing the parts
        self.written = 0

    def write(self, record: dict) -> None:
        with self._lock:
            self._rows.append(record)
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

    def write_many(self, records: Iterable[dict]) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> None:
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            self._last_flush = time.monotonic()
            rows, self._rows = self._rows, []
            seq = self._seq
            self._seq += 1 if rows else 0
        if not rows:
            return
        table = records_to_table(rows)
        final = self.folder / part_name(self.shard, seq)
        tmp = final.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(final)  # a part file is there whole or not at all
        with self._lock:
            self.written += len(rows)

    async def flush_periodically(self, every: float = 0.25) -> None:
        """For an event loop: write due parts on a worker thread, so the Parquet
        encoding does not stall the loop (cancel the task to stop it)."""
        import asyncio

        self._background = True
        try:
            while True:
                await asyncio.sleep(every)
                if self.due():
                    await asyncio.to_thread(self.flush)
        finally:
            self._background = False

    def close(self) -> None:
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
