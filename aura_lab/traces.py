"""The one chokepoint for trace records: schema, writer and loaders.

A run folder ``data/traces/<run_id>/`` holds ``manifest.json``, ``summary.json`` and
``traces/part-<shard>-<seq>.parquet``. Every part file is complete on its own: the
writer closes a part every ``flush_rows`` records or ``flush_seconds``, so memory is
bounded and a run killed hard loses at most the records of the part being filled.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from .errors import InputError
from .inputs import parse_jsonl, read_input_file

# One record per message and codec. Sizes in UTF-8 bytes, lengths in characters
# (length_chars) and bytes (length_bytes), times in UTC nanoseconds, latency in ms,
# compress/decompress times in microseconds.
SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("phase", pa.string()),  # warmup | main
        ("codec", pa.string()),
        ("server_url", pa.string()),
        ("user_id", pa.int32()),
        ("role", pa.string()),  # ai | human
        ("turn", pa.int32()),
        ("source", pa.string()),  # corpus | template | multi-template | short
        ("template_id", pa.int32()),  # first template the generator used, null if none
        ("template_ids", pa.list_(pa.int32())),
        ("slot_values", pa.list_(pa.list_(pa.string()))),  # aligned with template_ids
        ("target_min", pa.int32()),  # target length range, characters
        ("target_max", pa.int32()),
        ("text", pa.string()),
        ("length_chars", pa.int32()),
        ("length_bytes", pa.int32()),
        ("scheduled_at", pa.timestamp("ns", tz="UTC")),
        ("sent_at", pa.timestamp("ns", tz="UTC")),
        ("received_at", pa.timestamp("ns", tz="UTC")),
        ("latency_ms", pa.float64()),  # received - scheduled (open loop) or - sent
        ("status", pa.string()),  # ok | error
        ("error_kind", pa.string()),  # timeout | closed | refused | server_error | bad_reply | ...
        ("error", pa.string()),
        ("method", pa.string()),  # upper-case, as the server said
        ("server_template_id", pa.int32()),
        ("original_size", pa.int32()),
        ("compressed_size", pa.int32()),
        ("ratio", pa.float64()),  # original_size / compressed_size
        ("roundtrip_ok", pa.bool_()),
        ("compress_us", pa.float64()),
        ("decompress_us", pa.float64()),
        ("reconnects", pa.int32()),  # reconnects this user had made before this message
        ("failovers", pa.int32()),  # moves of this user to the next server URL so far
    ]
)
COLUMNS = SCHEMA.names
CATEGORICAL = ["run_id", "phase", "codec", "server_url", "role", "source", "status", "error_kind", "method"]


class TraceWriter:
    """Append trace records (dicts keyed by ``COLUMNS``) to part files in ``folder``."""

    def __init__(self, folder: str | Path, shard: int = 0, flush_rows: int = 10_000,
                 flush_seconds: float = 2.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard = shard
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._rows: list[dict] = []
        self._lock = threading.Lock()  # write() in the event loop, flush() may run in a thread
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
            len(self._rows) >= self.flush_rows
            or time.monotonic() - self._last_flush >= self.flush_seconds
        )

    def write_many(self, records: Iterable[dict]) -> None:
        for record in records:
            self.write(record)

    def flush(self) -> None:
        with self._lock:
            self._last_flush = time.monotonic()
            rows, self._rows = self._rows, []
            seq = self._seq
            self._seq += 1 if rows else 0
        if not rows:
            return
        table = records_to_table(rows)
        final = self.folder / f"part-{self.shard:04d}-{seq:06d}.parquet"
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


def records_to_table(records: Sequence[dict]) -> pa.Table:
    """Records (dicts keyed by ``COLUMNS``; a missing key is a null) as an Arrow table.
    Timestamps are integers, UTC nanoseconds."""
    return pa.Table.from_pylist(records, schema=SCHEMA)


def empty_frame() -> pd.DataFrame:
    return _to_frame(SCHEMA.empty_table())


NULLABLE_INTS = ("server_template_id", "template_id", "original_size", "compressed_size")
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas with the dtypes that mean something: categoricals (dictionary
    encoded in Arrow, which is much faster than pandas' astype), nullable integers and
    booleans. The other int32 columns have no nulls and stay numpy int32."""
    for name in CATEGORICAL:
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, pc.dictionary_encode(table.column(name)))
    for name in NULLABLE_INTS:
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, table.column(name).cast(pa.int64()))
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get)


def part_files(run_folder: Path) -> list[Path]:
    return sorted((run_folder / "traces").glob("part-*.parquet"))


def load_traces(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Traces as a DataFrame, from one run folder, several, a folder of runs, or the
    peer's JSONL trace folder (``user_<id>_traces.jsonl``)."""
    if isinstance(path, (list, tuple)):
        frames = [load_traces(p) for p in path]
        return _concat(frames)
    path = Path(path)
    if not path.exists():
        raise InputError("no such trace folder", where=str(path), fix="give a run folder under data/traces/")
    if path.is_file() and path.suffix == ".parquet":
        return _to_frame(pq.read_table(path, schema=SCHEMA))
    if (path / "traces").is_dir():
        parts = part_files(path)
        if not parts:
            return empty_frame()
        # one multi-threaded read of every part (several times faster than a loop); with
        # schema= only when some part predates a column (that read is twice as slow)
        current = all(pq.read_schema(p).equals(SCHEMA) for p in parts)
        dataset = pads.dataset([str(p) for p in parts], format="parquet", schema=None if current else SCHEMA)
        return _to_frame(dataset.to_table())
    peer = sorted(path.glob("user_*_traces.jsonl"))
    if peer:
        return load_peer_traces(path)
    runs = sorted(p for p in path.iterdir() if (p / "traces").is_dir()) if path.is_dir() else []
    if runs:
        return _concat([load_traces(r) for r in runs])
    raise InputError(
        "not a run folder, a folder of runs, or a peer trace folder",
        where=str(path),
        fix="expected traces/part-*.parquet or user_<id>_traces.jsonl inside",
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)] or [empty_frame()]
    df = pd.concat([f.astype({c: "object" for c in CATEGORICAL if c in f}) for f in frames],
                   ignore_index=True)
    for name in CATEGORICAL:
        if name in df:
            df[name] = df[name].astype("category")
    return df


def load_peer_traces(folder: str | Path) -> pd.DataFrame:
    """The peer's per-user JSONL traces, mapped onto aura-lab's schema.

    Its timestamps are local time without a zone: they are read as the local time of
    this machine and converted to UTC.
    """
    folder = Path(folder)
    records = []
    for file in sorted(folder.glob("user_*_traces.jsonl")):
        for lineno, row in parse_jsonl(read_input_file(file, "peer trace"), file):
            if not isinstance(row, dict):
                raise InputError("expected a JSON object", where=f"{file}:{lineno}")
            records.append(_peer_record(row, file, lineno))
    return _to_frame(records_to_table(records)) if records else empty_frame()


def _peer_record(row: dict, file: Path, lineno: int) -> dict:
    def num(key, kind=float):
        value = row.get(key)
        if value is None:
            return None
        try:
            return kind(value)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{key!r} must be a number, got {value!r}", where=f"{file}:{lineno}") from None

    text = row.get("message")
    ts = row.get("timestamp")
    received = None
    if ts:
        try:
            dt = datetime.fromisoformat(str(ts))
        except ValueError:
            raise InputError(f"'timestamp' is not ISO 8601: {ts!r}", where=f"{file}:{lineno}") from None
        if dt.tzinfo is None:
            dt = dt.astimezone()  # local time, as the peer wrote it
        # exact integer arithmetic: a float of epoch seconds loses the microseconds
        since_epoch = dt.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
        received = (since_epoch.days * 86_400 + since_epoch.seconds) * 10**9 + since_epoch.microseconds * 1000
    method = row.get("method")
    return {
        "run_id": f"peer:{file.parent.name}",
        "phase": "main",
        "codec": "peer",
        "user_id": num("user_id", int),
        "turn": num("turn", int),
        "source": None,
        "text": text,
        "length_chars": num("message_length", int) if row.get("message_length") is not None
        else (len(text) if isinstance(text, str) else None),
        "length_bytes": len(text.encode("utf-8")) if isinstance(text, str) else None,
        "received_at": received,
        "latency_ms": num("latency_ms"),
        "status": "ok" if method else "error",
        "method": str(method).upper() if method else None,
        "original_size": num("original_size", int),
        "compressed_size": num("compressed_size", int),
        "ratio": num("compression_ratio"),
    }
