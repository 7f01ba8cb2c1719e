"""aura_lab.traces when things go wrong: a writer that cannot write keeps every row and
says so once; a run folder whose process is gone reads as incomplete."""

from __future__ import annotations

import json
import shutil
import subprocess

import pyarrow.parquet as pq

from aura_lab.system import this_process
from aura_lab.traces.folder import Manifest, RunFolder, ServerInfo
from aura_lab.traces.reader import load_traces
from aura_lab.traces.writer import TraceWriter
from tests.traces.test_traces import T0, record


def gone_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def rows_in(folder) -> int:
    return sum(pq.read_metadata(p).num_rows for p in folder.glob("*.parquet"))


def test_a_failed_write_keeps_its_rows_and_says_so_once(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    failures = []
    writer = TraceWriter(run.traces_dir, flush_rows=10, on_failure=failures.append)
    writer.write_many(record(i) for i in range(5))
    shutil.rmtree(run.traces_dir)
    run.traces_dir.write_text("not a folder any more")  # every part write fails now
    writer.write_many(record(i) for i in range(5, 25))  # two flushes due, both fail
    assert writer.pending == 25 and writer.written == 0
    assert len(failures) == 1 and "cannot write" in failures[0] and writer.failure == failures[0]
    run.traces_dir.unlink()
    run.traces_dir.mkdir()  # the disk has room again
    assert writer.close() is True
    assert writer.written == 25 == rows_in(run.traces_dir) and writer.pending == 0
    assert sorted(load_traces(run.path)["user_id"].tolist()) == sorted(record(i)["user_id"] for i in range(25))


def test_rows_that_cannot_be_written_go_to_a_fallback_part_beside_the_traces(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    writer = TraceWriter(run.traces_dir, flush_rows=1000)
    writer.write_many(record(i) for i in range(30))
    shutil.rmtree(run.traces_dir)
    run.traces_dir.write_text("not a folder")
    assert writer.close(attempts=1) is False
    (fallback,) = run.unsaved_parts()
    assert writer.fallback == fallback and str(fallback) in writer.failure
    assert pq.read_metadata(fallback).num_rows == 30


def test_a_run_whose_process_is_gone_reads_as_incomplete(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    with TraceWriter(run.traces_dir) as writer:
        writer.write_many(record(i) for i in range(12))
    dead = {**this_process(), "pid": gone_pid()}
    manifest = Manifest(run_id="r", status="running", host=dead, planned_messages=40)
    manifest.servers = [ServerInfo("ws://127.0.0.1:1", "aura", True)]
    run.write_manifest(manifest)
    read = run.read_manifest()
    assert read.status == "incomplete"
    assert read.ended_at is not None and read.ended_at.startswith("2023-11-14T22:13:20")
    assert any("killed before it finished" in note for note in read.notes)
    assert json.loads(run.manifest_path.read_text())["status"] == "running"  # reading never writes

    mine = Manifest(run_id="r", status="running", host=this_process())
    run.write_manifest(mine)
    assert run.read_manifest().status == "running"  # its process (this one) is alive
    elsewhere = Manifest(run_id="r", status="running", host={**this_process(), "hostname": "another-host"})
    run.write_manifest(elsewhere)
    assert run.read_manifest().status == "running"  # cannot tell from here: left as it says


def test_last_record_time_comes_from_the_part_statistics(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    assert run.last_record_at() is None
    with TraceWriter(run.traces_dir) as writer:
        writer.write_many(record(i) for i in range(20))
    latest = max(record(i)["received_at"] or 0 for i in range(20))
    assert run.last_record_at() == _iso(latest)
    assert latest > T0


def _iso(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds")


def test_a_lone_surrogate_in_a_record_is_written_as_its_escape(tmp_path):
    """UTF-8 refuses a lone surrogate; the part is written anyway, the surrogate kept as
    ``\\ud800``, the other rows untouched."""
    bad = {**record(1), "text": "half a pair \ud800 here", "slot_values": [["x\udfff"]]}
    with TraceWriter(tmp_path) as writer:
        writer.write_many([record(0), bad, record(2)])
    assert writer.written == 3 and writer.failure is None
    table = pq.read_table(next(tmp_path.glob("part-*.parquet")))
    assert table.column("text").to_pylist() == [record(0)["text"], "half a pair \\ud800 here", record(2)["text"]]
    assert table.column("slot_values").to_pylist()[1] == [["x\\udfff"]]
