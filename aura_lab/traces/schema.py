"""The trace schema, defined once: one record per message and codec.

Sizes in UTF-8 bytes, lengths in characters (``length_chars``) and bytes
(``length_bytes``), times in UTC nanoseconds, latency in ms, compress/decompress times
in microseconds. ``to_frame`` gives pandas the dtypes that mean something: categoricals,
nullable integers and booleans, UTC timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
        ("roundtrip_ok", pa.bool_()),  # decompress(compress(m)) == m; null: nobody checked
        ("roundtrip_by", pa.string()),  # who checked: server | client (--verify) | null
        ("compress_us", pa.float64()),
        ("decompress_us", pa.float64()),
        ("reconnects", pa.int32()),  # reconnects this user had made before this message
        ("failovers", pa.int32()),  # moves of this user to the next server URL so far
        ("conversation_id", pa.string()),  # a replayed message's conversation in its log; null if generated
        ("message_index", pa.int32()),  # its index in that logged conversation, from 0
        ("reply_id", pa.string()),  # a streamed reply ("<user>:<turn>"), one per reply; null if sent whole
        ("frame_index", pa.int32()),  # the frame's index in its reply, from 0
        ("message_bytes", pa.int32()),  # UTF-8 size of the whole message (a frame carries part of it)
        ("codec_size", pa.int32()),  # bytes the codec produced, from the reply; null when not called
    ]
)
COLUMNS = SCHEMA.names
CATEGORICAL = [
    "run_id",
    "phase",
    "codec",
    "server_url",
    "role",
    "source",
    "status",
    "error_kind",
    "method",
    "roundtrip_by",
]


def records_to_table(
    records: Sequence[dict | tuple], chunk: int = 1000, between: Callable[[], None] | None = None
) -> pa.Table:
    """Records as an Arrow table: tuples in ``COLUMNS`` order, or dicts keyed by
    ``COLUMNS`` (a missing key is a null). Timestamps are integers, UTC nanoseconds.
    Converted ``chunk`` rows at a time, ``between()`` called after each: converting
    Python objects holds the GIL, so a writer thread calls ``time.sleep(0)`` there and an
    event loop in the main thread is never held up for longer than a chunk (~1 ms).

    Each chunk is one conversion of its rows as a struct array (one call for every
    column: 100 rows 2.6 µs a row, against 4.8 when each of the 40 columns was one)."""
    batches = []
    for start in range(0, len(records), chunk):
        rows = [r if isinstance(r, tuple) else tuple(map(r.get, COLUMNS)) for r in records[start : start + chunk]]
        try:
            batches.append(pa.RecordBatch.from_struct_array(pa.array(rows, type=_ROW)))
        except UnicodeEncodeError:
            # a lone surrogate, which UTF-8 refuses (a text given through the Python API,
            # say): kept as its escape rather than losing the part
            arrays = [pa.array([_escaped(v) for v in column], type=f.type) for column, f in zip(zip(*rows), SCHEMA)]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=SCHEMA))
        if between is not None:
            between()
    return pa.Table.from_batches(batches, schema=SCHEMA)


_ROW = pa.struct(list(SCHEMA))  # a record as one Arrow value


def writable(text: str | None) -> str | None:
    """Text as a trace file can hold it: JSON's ``\\ud800`` escapes give lone surrogates,
    which UTF-8 (and so Parquet) refuses; they are kept as escapes."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _escaped(value):
    if isinstance(value, str):
        return writable(value)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def empty_frame() -> pd.DataFrame:
    return to_frame(SCHEMA.empty_table())


NULLABLE_INTS = (
    "server_template_id",
    "template_id",
    "original_size",
    "compressed_size",
    "message_index",
    "frame_index",
    "message_bytes",
    "codec_size",
)
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def to_frame(table: pa.Table) -> pd.DataFrame:
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
