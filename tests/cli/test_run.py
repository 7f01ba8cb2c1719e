"""``aura-lab run``: bad options, Ctrl-C and SIGTERM, and the peer's file formats."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

import aura_lab
from aura_lab.cli import main
from aura_lab.traces.folder import RunFolder
from aura_lab.wire.judge import ERROR_KINDS
from tests.support.servers import GarbageServer, PeerServer

pytestmark = pytest.mark.timeout(60)

PEER_EXPORT_KEYS = {
    "timestamp": None,
    "config": {"num_users", "server_url", "warmup"},
    "summary": {
        "total_time",
        "total_messages",
        "messages_per_second",
        "success_rate",
        "errors",
        "overall_compression_ratio",
        "bandwidth_saved_percent",
    },
    "latencies": {"average_ms", "median_ms", "min_ms", "max_ms", "p95_ms", "p99_ms"},
    "compression": {
        "total_original_size",
        "total_compressed_size",
        "overall_ratio",
        "ai_ratio",
        "human_ratio",
        "method_counts",
        "length_buckets",
    },
}


def aura_lab_run(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aura_lab", "run", *args],
        cwd=popen.pop("cwd"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


# -- bad options: exit 2, one line, nothing started -----------------------------------------

BAD_OPTIONS = [
    (["--users", "0"], "--users"),
    (["--codec", "nope"], "--codec"),
    (["--url", "http://x"], "--url"),
    (["--think-time", "lognormal:x"], "--think-time"),
    (["--corpus", "/nonexistent"], "/nonexistent"),
    (["--turns", "9-3"], "--turns"),
    (["--turns", "nine"], "--turns"),
    (["--metadata", "/nonexistent.json"], "/nonexistent.json"),
    (["--templates", "/nonexistent.json"], "/nonexistent.json"),
    (["--export", "/nonexistent/run.json"], "--export"),
    (["--corpus-weight", "1.5"], "--corpus-weight"),
    (["--url", "ws://127.0.0.1:9"], "nothing is listening at ws://127.0.0.1:9"),  # discard port: closed here
]


@pytest.mark.parametrize("args, names", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_exits_2_with_one_line_before_anything_starts(args, names, tmp_path, capsys):
    trace_dir = tmp_path / "traces"
    code = main(["run", *args, "--trace-dir", str(trace_dir), "--run-id", "never", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aura-lab: error: ") and names in lines[0]
    assert "Traceback" not in err and out == ""
    assert not (trace_dir / "never").exists()


def test_bad_option_in_a_real_process(tmp_path):
    process = aura_lab_run("--users", "0", "--trace-dir", str(tmp_path / "t"), cwd=tmp_path)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert err.splitlines() == ["aura-lab: error: --users: must be a whole number >= 1 and <= 10000 users, got 0"]
    assert list(tmp_path.iterdir()) == []


# -- interrupting a run ---------------------------------------------------------------------


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_the_run_and_keeps_every_record(signum, tmp_path):
    """Default child-process servers; the signal goes to the runner process only."""
    process = aura_lab_run(
        "--codec",
        "identity",
        "--users",
        "5",
        "--turns",
        "50-50",
        "--think-time",
        "uniform:0.05,0.1",
        "--trace-dir",
        str(tmp_path),
        "--run-id",
        "x",
        "--quiet",
        cwd=tmp_path,
    )
    folder = tmp_path / "x"
    try:
        started = _wait_for(lambda: any((folder / "traces").glob("part-*.parquet")), 15)
        assert started, "no trace part within 15 s"
        process.send_signal(signum)
        _out, err = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    manifest = RunFolder(folder).read_manifest()
    assert manifest.status == "interrupted" and manifest.ended_at
    df = aura_lab.load_traces(folder)
    assert 0 < len(df) < manifest.planned_messages
    assert set(df["status"]) <= {"ok", "error"}
    errors = df[df["status"] != "ok"]
    assert set(errors["error_kind"]) <= set(ERROR_KINDS)
    assert df["error_kind"].isna().eq(df["status"] == "ok").all()
    assert not df.duplicated(["user_id", "turn"]).any()
    for _, part in df.groupby("user_id"):
        assert sorted(part["turn"]) == list(range(len(part)))  # nothing lost on the way
    assert json.loads((folder / "summary.json").read_text())["codecs"]["identity"]["messages"] == len(df)


@pytest.mark.timeout(60)
def test_sigint_with_replies_in_flight_records_them(tmp_path):
    with GarbageServer(stall=1) as server:  # every message stays unanswered
        process = aura_lab_run(
            "--url",
            server.url,
            "--users",
            "3",
            "--turns",
            "5-5",
            "--think-time",
            "0",
            "--trace-dir",
            str(tmp_path),
            "--run-id",
            "x",
            "--quiet",
            cwd=tmp_path,
        )
        try:
            assert _wait_for(lambda: server.messages >= 3, 20), "the users did not send"
            process.send_signal(signal.SIGINT)
            _out, err = process.communicate(timeout=15)
        finally:
            process.kill()
    assert process.returncode == 130, err
    df = aura_lab.load_traces(tmp_path / "x")
    assert len(df) == 3 == server.messages  # one record per message on the wire
    assert (df["error_kind"] == "interrupted").all() and (df["turn"] == 0).all()
    assert df["sent_at"].notna().all() and df["received_at"].isna().all()


# -- the peer's files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    with PeerServer() as server:
        code = main(
            [
                "run",
                "--url",
                server.url,
                "--users",
                "4",
                "--turns",
                "3-5",
                "--think-time",
                "0",
                "--seed",
                "9",
                "--warmup-messages",
                "5",
                "--trace-dir",
                str(folder),
                "--run-id",
                "x",
                "--profile",
                "peer",  # the export's template performance needs template traffic
                "--export",
                str(folder / "export.json"),
                "--peer-traces",
                str(folder / "peer"),
                "--quiet",
            ]
        )
    assert code == 0
    return folder, server.url


def test_export_has_the_peer_keys_plus_seed_and_template_performance(cli_run):
    folder, url = cli_run
    export = json.loads((folder / "export.json").read_text())
    for key, inner in PEER_EXPORT_KEYS.items():
        assert key in export
        if inner:
            assert inner <= set(export[key]), key
    run = aura_lab.load_run(folder / "x")
    assert export["config"]["num_users"] == 4
    assert export["config"]["server_url"] == url
    assert export["config"]["warmup"] is True and export["config"]["warmup_messages"] == 5  # the peer's: a boolean
    assert export["config"]["seed"] == 9
    assert "template_performance" in export and export["template_performance"]["count"] > 0
    assert export["summary"]["total_messages"] == run.manifest.planned_messages
    assert export["summary"]["errors"] == 0 and export["summary"]["delivered_rate"] == 100.0
    # the peer's server reports no round trips: success (delivered and lossless) is unknown, not 100 %
    assert export["summary"]["success_rate"] is None and export["summary"]["roundtrip"] == "not checked"
    assert export["summary"]["roundtrip_failures"] is None and export["summary"]["safe_compression_ratio"] is None
    assert export["verdict"]["lines"] == run.summary["verdict"]["lines"]
    assert sum(export["compression"]["method_counts"].values()) == export["summary"]["total_messages"]
    assert export["compression"]["overall_ratio"] == run.summary["codecs"]["external"]["overall_ratio"]


def test_peer_traces_load_back_with_the_same_message_count(cli_run):
    folder, _ = cli_run
    run = aura_lab.load_run(folder / "x")
    main_phase = run.traces[run.traces["phase"] == "main"]
    files = sorted(p.name for p in (folder / "peer").iterdir())
    assert files == [f"user_{u}_traces.jsonl" for u in range(1, 5)]  # the peer numbers users from 1
    first = json.loads((folder / "peer" / "user_1_traces.jsonl").read_text().splitlines()[0])
    assert first["user_id"] == 1
    assert set(first) == {
        "user_id",
        "turn",
        "timestamp",
        "message",
        "message_length",
        "method",
        "compression_ratio",
        "latency_ms",
        "original_size",
        "compressed_size",
    }
    peer = aura_lab.load_traces(folder / "peer")
    assert len(peer) == len(main_phase)
    left = peer.sort_values(["user_id", "turn"])[["user_id", "turn", "text", "compressed_size"]]
    right = main_phase.assign(user_id=main_phase["user_id"] + 1)  # aura-lab's user 0 is the peer's user 1
    right = right.sort_values(["user_id", "turn"])[["user_id", "turn", "text", "compressed_size"]]
    assert left.reset_index(drop=True).astype(str).equals(right.reset_index(drop=True).astype(str))


def test_metadata_warnings_are_not_hidden_by_quiet(tmp_path, capfd):
    """A metadata file with the peer's typical flaws (an id the library lacks, a wrong slot
    count, a description that is not the library's pattern): every warning on stderr with
    --quiet, and each kept in the manifest's warnings."""
    from aura_lab import paths

    metadata = paths.CORPORA_DIR / "metadata_peer_style.json"
    args = ["run", "--users", "2", "--turns", "2-3", "--think-time", "0", "--codec", "identity",
            "--metadata", str(metadata), "--trace-dir", str(tmp_path), "--run-id", "quiet", "--quiet"]  # fmt: skip
    assert main(args) == 0
    out, err = capfd.readouterr()
    run = aura_lab.load_run(tmp_path / "quiet")
    expected = run.manifest.files["metadata_warnings"]
    assert any("template '110': description" in w for w in expected)
    assert any("slot list(s) but pattern" in w for w in expected)
    for warning in expected:
        assert f"warning: {warning}" in err
        assert warning in run.manifest.warnings
    assert "warning" not in out
