"""Trace records as tuples in the schema's order: read by name like a dict, and written
to the same table a dict would give."""

from __future__ import annotations

import pyarrow as pa

from aura_lab.load.records import Clock, Record, build_record
from aura_lab.traces.schema import COLUMNS, SCHEMA, records_to_table
from aura_lab.traffic.generator import GeneratedMessage
from aura_lab.wire.judge import Exchange

MESSAGE = GeneratedMessage(
    user_id=3, turn=1, n_turns=4, role="ai", text="héllo wörld", source="template",
    template_ids=(7, 9), slot_values=(("a",), ("b", "c")), target_min=5, target_max=50,
)  # fmt: skip
REPLY = {
    "status": "ok", "original_size": 13, "compressed_size": 11, "compression_ratio": 1.18,
    "method": "zstd", "template_id": 7, "roundtrip_ok": True, "compress_us": 2.5, "codec_size": 9,
}  # fmt: skip


def test_a_record_reads_by_name_in_the_schemas_order():
    clock = Clock()
    result = Exchange("ws://127.0.0.1:1", clock.mono0 + 1000, clock.mono0 + 3000, "ok", reply=REPLY)
    record = build_record("r", "main", "zstd", MESSAGE, result, clock.mono0, False, clock, 1, 0)
    assert isinstance(record, Record) and len(record) == len(COLUMNS)
    as_dict = record.as_dict()
    assert list(as_dict) == COLUMNS
    assert record["status"] == "ok" and record.get("ratio") == 1.18 and record.get("nonexistent", 5) == 5
    assert record["length_bytes"] == record["message_bytes"] == len("héllo wörld".encode())
    assert (record["roundtrip_ok"], record["roundtrip_by"]) == (True, "server")
    assert record["latency_ms"] == 0.002 and record["method"] == "ZSTD"
    assert record["template_ids"] == (7, 9) and record["slot_values"] == (("a",), ("b", "c"))
    # a tuple and the same record as a dict give one table, whatever the chunking
    from_tuples = records_to_table([record] * 5, chunk=2)
    from_dicts = pa.Table.from_pylist([as_dict] * 5, schema=SCHEMA)
    assert from_tuples.equals(from_dicts)
    assert records_to_table([record, as_dict, {"run_id": "x"}]).column("run_id").to_pylist() == ["r", "r", "x"]
    assert records_to_table([]).num_rows == 0


def test_an_open_loops_latency_counts_from_the_schedule_or_an_early_send():
    clock = Clock()
    result = Exchange("ws://127.0.0.1:1", clock.mono0 + 1000, clock.mono0 + 3000, "ok", reply=REPLY)
    late = build_record("r", "main", "zstd", MESSAGE, result, clock.mono0, True, clock, 0, 0)
    assert late["latency_ms"] == 0.003  # sent 1 µs after its time: the wait counts
    early = build_record("r", "main", "zstd", MESSAGE, result, clock.mono0 + 1500, True, clock, 0, 0)
    assert early["latency_ms"] == 0.002  # sent 0.5 µs before its time: the round trip, no less
    assert early["scheduled_at"] > early["sent_at"]  # the early send stays visible (negative lateness)
