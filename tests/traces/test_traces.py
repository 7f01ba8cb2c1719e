"""aura_lab.traces: the one chokepoint for trace records."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from aura_lab.analysis.summary import summarise
from aura_lab.errors import InputError
from aura_lab.traces.peer import load_peer_traces
from aura_lab.traces.reader import load_traces
from aura_lab.traces.schema import COLUMNS, records_to_table
from aura_lab.traces.writer import TraceWriter

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z in ns


def record(i: int, run_id: str = "run-a") -> dict:
    text = f"message number {i} é"
    return {
        "run_id": run_id,
        "phase": "warmup" if i < 10 else "main",
        "codec": ("aura", "deflate", "zstd")[i % 3],
        "server_url": "ws://127.0.0.1:8765",
        "user_id": i % 7,
        "role": "ai" if i % 2 else "human",
        "turn": i // 7,
        "source": "corpus" if i % 4 == 0 else "template",
        "template_id": None if i % 4 == 0 else 25,
        "template_ids": [] if i % 4 == 0 else [25, 44],
        "slot_values": [] if i % 4 == 0 else [["x"], ["a", "b", "c"]],
        "target_min": 10,
        "target_max": 200,
        "text": text,
        "length_chars": len(text),
        "length_bytes": len(text.encode()),
        "scheduled_at": T0 + i * 1_000_000,
        "sent_at": T0 + i * 1_000_000 + 10,
        "received_at": None if i % 50 == 0 else T0 + i * 1_000_000 + 500_000,
        "latency_ms": None if i % 50 == 0 else 0.5,
        "status": "error" if i % 50 == 0 else "ok",
        "error_kind": "timeout" if i % 50 == 0 else None,
        "error": None,
        "method": None if i % 50 == 0 else ("BINARY_SEMANTIC", "UNCOMPRESSED")[i % 2],
        "server_template_id": None if i % 3 else 25,
        "original_size": None if i % 50 == 0 else 40,
        "compressed_size": None if i % 50 == 0 else 20,
        "ratio": None if i % 50 == 0 else 2.0,
        "roundtrip_ok": None if i % 5 == 0 else True,
        "compress_us": 1.5,
        "decompress_us": 0.5,
        "reconnects": 0,
    }


def write_run(folder, n, run_id, flush_rows=100):
    with TraceWriter(folder / "traces", flush_rows=flush_rows, flush_seconds=3600) as writer:
        writer.write_many(record(i, run_id) for i in range(n))
    return writer


def test_writer_parts_and_load(tmp_path):
    run = tmp_path / "run-a"
    writer = write_run(run, 1050, "run-a")
    parts = sorted((run / "traces").glob("part-*.parquet"))
    assert len(parts) == 11, [p.name for p in parts]
    assert writer.written == 1050
    assert not list((run / "traces").glob("*.tmp"))
    df = load_traces(run)
    assert len(df) == 1050
    assert list(df.columns) == COLUMNS
    for name in ("codec", "method", "phase", "status", "role", "source", "run_id"):
        assert isinstance(df[name].dtype, pd.CategoricalDtype), name
    assert set(df["codec"].cat.categories) == {"aura", "deflate", "zstd"}
    assert set(df["method"].dropna()) == {"BINARY_SEMANTIC", "UNCOMPRESSED"}
    for name in ("scheduled_at", "sent_at", "received_at"):
        assert isinstance(df[name].dtype, pd.DatetimeTZDtype) and str(df[name].dt.tz) == "UTC", name
    assert df["scheduled_at"].iloc[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert df["received_at"].isna().sum() == 21  # i % 50 == 0
    for name in ("template_id", "server_template_id", "original_size", "compressed_size"):
        assert str(df[name].dtype) == "Int64", name
    assert df["template_id"].isna().sum() == sum(i % 4 == 0 for i in range(1050))
    assert str(df["roundtrip_ok"].dtype) == "boolean"
    assert df["roundtrip_ok"].isna().sum() == 210
    assert df["text"].iloc[3] == "message number 3 é"
    assert list(df["slot_values"].iloc[1][1]) == ["a", "b", "c"]
    # one part file alone also loads
    assert len(load_traces(parts[0])) == 100


def test_time_based_flush(tmp_path):
    writer = TraceWriter(tmp_path / "t", flush_rows=10_000, flush_seconds=0.0)
    writer.write(record(1))
    writer.write(record(2))
    assert len(list((tmp_path / "t").glob("part-*.parquet"))) == 2
    writer.close()
    assert writer.written == 2


def test_folder_of_runs_and_list_of_runs(tmp_path):
    write_run(tmp_path / "run-a", 150, "run-a")
    write_run(tmp_path / "run-b", 30, "run-b")
    (tmp_path / "notes.txt").write_text("not a run")
    df = load_traces(tmp_path)
    assert len(df) == 180
    assert df["run_id"].value_counts().to_dict() == {"run-a": 150, "run-b": 30}
    assert isinstance(df["codec"].dtype, pd.CategoricalDtype)
    assert str(df["scheduled_at"].dt.tz) == "UTC"
    assert len(load_traces([tmp_path / "run-a", tmp_path / "run-b"])) == 180


def test_empty_run_folder(tmp_path):
    (tmp_path / "run" / "traces").mkdir(parents=True)
    df = load_traces(tmp_path / "run")
    assert len(df) == 0 and list(df.columns) == COLUMNS


def test_missing_and_unrecognised_folder(tmp_path):
    with pytest.raises(InputError, match="no such trace folder") as info:
        load_traces(tmp_path / "missing")
    assert "missing" in str(info.value)
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="not a run folder"):
        load_traces(tmp_path / "other")


@pytest.fixture
def kolkata(monkeypatch):
    """Local time UTC+05:30 (no DST), so the local-to-UTC conversion is checkable."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def peer_line(user_id, turn, **over):
    row = {
        "user_id": user_id,
        "turn": turn,
        "timestamp": "2024-05-01T12:00:00.250000",
        "message": "I'm not sure",
        "message_length": 12,
        "method": "binary_semantic",
        "compression_ratio": 6.0,
        "latency_ms": 0.47,
        "original_size": 12,
        "compressed_size": 2,
    }
    row.update(over)
    return json.dumps(row)


def test_peer_jsonl_traces(tmp_path, kolkata):
    folder = tmp_path / "peer_run"
    folder.mkdir()
    (folder / "user_1_traces.jsonl").write_text(
        "\n".join([peer_line(1, 0), "", peer_line(1, 1, method="AURA_LITE", message="Héllo")]) + "\n", encoding="utf-8"
    )
    (folder / "user_2_traces.jsonl").write_text(peer_line(2, 0, method=None) + "\n", encoding="utf-8")
    df = load_traces(folder)
    assert len(df) == 3
    assert list(df["method"]) == ["BINARY_SEMANTIC", "AURA_LITE", None] or (
        list(df["method"][:2]) == ["BINARY_SEMANTIC", "AURA_LITE"] and pd.isna(df["method"][2])
    )
    assert isinstance(df["method"].dtype, pd.CategoricalDtype)
    assert str(df["received_at"].dt.tz) == "UTC"
    # 12:00:00.25 in Kolkata is 06:30:00.25 UTC
    assert df["received_at"].iloc[0] == pd.Timestamp("2024-05-01T06:30:00.250000", tz="UTC")
    assert list(df["status"]) == ["ok", "ok", "error"]
    assert list(df["user_id"]) == [1, 1, 2]
    # AURA's own method names say the codec: labelled "aura", so it matches aura-lab's aura runs
    assert set(df["codec"].astype(str)) == {"aura"} and df["run_id"].iloc[0] == "peer:peer_run"
    assert df["length_bytes"].iloc[1] == len("Héllo".encode())
    assert df["ratio"].iloc[0] == 6.0
    assert str(df["original_size"].dtype) == "Int64"
    assert len(load_peer_traces(folder)) == 3
    # the peer logs the reply time and the latency: the send time follows, so duration and msg/s exist
    latency = pd.Timedelta(milliseconds=float(df["latency_ms"].iloc[0]))
    assert df["sent_at"].iloc[0] == df["received_at"].iloc[0] - latency
    summary = summarise(df)["codecs"]["aura"]
    assert summary["sent"] == 3 and summary["duration_s"] > 0 and summary["messages_per_second"] is not None
    assert summary["template_hit_rate"] == pytest.approx(1 / 2)  # BINARY_SEMANTIC counts as a template hit


def test_peer_traces_that_do_not_show_aura_are_labelled_peer(tmp_path):
    (tmp_path / "user_1_traces.jsonl").write_text(peer_line(1, 0, method="UNCOMPRESSED") + "\n")
    (tmp_path / "user_2_traces.jsonl").write_text(peer_line(2, 0, method="DEFLATE") + "\n")
    assert set(load_traces(tmp_path)["codec"].astype(str)) == {"peer"}


def test_peer_timestamp_with_zone_is_kept(tmp_path, kolkata):
    (tmp_path / "user_1_traces.jsonl").write_text(peer_line(1, 0, timestamp="2024-05-01T12:00:00+00:00"))
    df = load_traces(tmp_path)
    assert df["received_at"].iloc[0] == pd.Timestamp("2024-05-01T12:00:00", tz="UTC")


@pytest.mark.parametrize(
    "bad, words",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (None, "'latency_ms' must be a number"),
        ("timestamp", "not ISO 8601"),
    ],
)
def test_bad_peer_line_names_file_and_line(tmp_path, bad, words):
    if bad is None:
        bad = peer_line(1, 2, latency_ms="fast")
    elif bad == "timestamp":
        bad = peer_line(1, 2, timestamp="yesterday")
    path = tmp_path / "user_1_traces.jsonl"
    path.write_text("\n".join([peer_line(1, 0), peer_line(1, 1), bad]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_traces(tmp_path)
    assert f"{path}:3:" in str(info.value), str(info.value)
    assert words in str(info.value)


def test_records_to_table_fills_missing_columns():
    table = records_to_table([{"run_id": "r", "codec": "aura", "scheduled_at": T0}])
    assert table.num_rows == 1 and table.column_names == COLUMNS
    assert table.column("method").null_count == 1


def test_parts_written_before_a_column_existed_still_load(tmp_path):
    """A run folder whose older parts lack a later column: nothing is dropped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aura_lab.traces.schema import SCHEMA

    folder = tmp_path / "run" / "traces"
    folder.mkdir(parents=True)
    older = {"run_id": pa.array(["r"]), "user_id": pa.array([7], pa.int32()), "turn": pa.array([0], pa.int32())}
    pq.write_table(pa.table(older), folder / "part-0000-000000.parquet")  # no failovers column
    with TraceWriter(folder, shard=1) as writer:
        writer.write({"run_id": "r", "user_id": 8, "turn": 1, "failovers": 2})
    df = load_traces(tmp_path / "run")
    assert sorted(df["user_id"].tolist()) == [7, 8]
    assert df.set_index("user_id")["failovers"].to_dict()[8] == 2
    assert list(df.columns) == SCHEMA.names


def test_parts_without_roundtrip_by_load_and_count_as_server_checked(tmp_path):
    """Parts written before ``roundtrip_by`` existed: the column loads as null, and loss
    figures count their checked messages as the server's (only servers checked then)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aura_lab.analysis import metrics
    from aura_lab.traces.schema import SCHEMA

    folder = tmp_path / "run" / "traces"
    folder.mkdir(parents=True)
    old = pa.schema([f for f in SCHEMA if f.name != "roundtrip_by"])
    rows = [{"run_id": "r", "phase": "main", "codec": "aura", "user_id": i, "turn": 0, "status": "ok",
             "roundtrip_ok": i != 0, "length_chars": 1, "length_bytes": 1, "reconnects": 0, "failovers": 0}
            for i in range(3)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=old), folder / "part-0000-000000.parquet")
    df = load_traces(tmp_path / "run")
    assert list(df.columns) == SCHEMA.names and df["roundtrip_by"].isna().all()
    loss = metrics.loss(df)
    assert (loss["lossy"], loss["lossless"], loss["checked_by"]) == (1, 2, {"server": 3})


def test_with_a_background_flusher_writes_never_flush_on_the_event_loop(tmp_path):
    """Encoding a part takes tens of ms: with flush_periodically running, write() only
    appends (up to 4x flush_rows), and the parts are written on a worker thread."""
    import asyncio

    async def main():
        writer = TraceWriter(tmp_path / "traces", flush_rows=100, flush_seconds=0.0)
        flusher = asyncio.ensure_future(writer.flush_periodically(every=0.05))
        await asyncio.sleep(0)  # the flusher starts
        for i in range(350):  # due at once (flush_seconds=0), and 3.5x flush_rows
            writer.write({"run_id": "r", "user_id": i, "turn": 0})
        inline = sorted((tmp_path / "traces").glob("part-*.parquet"))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if writer.written == 350:
                break
        flusher.cancel()
        writer.close()
        return inline, writer.written

    inline, written = asyncio.run(main())
    assert inline == []  # nothing was written synchronously inside write()
    assert written == 350 and len(load_traces(tmp_path)) == 350


def test_close_waits_for_a_part_the_flusher_thread_is_still_writing(tmp_path, monkeypatch):
    """The flusher's task is cancelled while its thread encodes a part: close() must not
    return (and the run read its traces) before that part is on disk."""
    import threading

    from aura_lab.traces import writer as writer_module

    slow = writer_module.records_to_table

    def encode_slowly(rows):
        time.sleep(0.3)
        return slow(rows)

    monkeypatch.setattr(writer_module, "records_to_table", encode_slowly)
    writer = TraceWriter(tmp_path / "traces", flush_rows=10_000, flush_seconds=3600)
    writer.write_many(record(i, "r") for i in range(40))
    flusher = threading.Thread(target=writer.flush)
    flusher.start()
    while writer._rows:  # the thread has taken the rows and is encoding them
        time.sleep(0.01)
    writer.close()
    assert len(load_traces(tmp_path)) == 40
    flusher.join()


def test_a_parquet_file_that_is_not_a_trace_part_is_skipped_with_a_warning(tmp_path):
    """Parquet of another layout among the parts (no run_id, user_id, turn): its rows
    became junk records (and compare a TypeError); now it is skipped, named."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aura_lab.errors import DataWarning

    folder = tmp_path / "run" / "traces"
    folder.mkdir(parents=True)
    with TraceWriter(folder, shard=0) as writer:
        writer.write({"run_id": "r", "user_id": 8, "turn": 1})
    pq.write_table(pa.table({"x": [1, 2, 3]}), folder / "part-0001-000000.parquet")
    with pytest.warns(DataWarning, match="part-0001-000000.parquet: trace part skipped.*not a trace part"):
        df = load_traces(tmp_path / "run")
    assert df["user_id"].tolist() == [8]
