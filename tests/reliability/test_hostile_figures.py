"""Reliability: a server whose replies state impossible figures (negative sizes, an
infinite or NaN ratio). Each such reply is a bad reply naming the field, so no ratio is
computed from -45 bytes and no -Infinity reaches summary.json; and a codec option its
library refuses only when called (``brotli:lgwin=99``) is refused before a run starts."""

from __future__ import annotations

import pytest

import aura_lab
from tests.support.processes import aura_lab as start
from tests.support.servers import ScriptedServer

ECHO = ScriptedServer.ECHO
GOOD = {"status": "ok", "original_message": ECHO, "original_size": 10, "compressed_size": 5,
        "compression_ratio": 2.0, "method": "BRIO"}  # fmt: skip
HOSTILE = [
    ({**GOOD, "original_size": -45, "compressed_size": -63, "compression_ratio": 0.71}, "original_size"),
    ({**GOOD, "compression_ratio": float("-inf")}, "compression_ratio"),
    ({**GOOD, "compression_ratio": float("nan")}, "compression_ratio"),
    ({**GOOD, "codec_size": -7}, "codec_size"),
]


@pytest.mark.timeout(60)
def test_impossible_figures_are_bad_replies_and_never_reach_the_summary(tmp_path):
    with ScriptedServer([GOOD] + [frame for frame, _ in HOSTILE]) as server:
        run = aura_lab.run(
            quiet=True, progress=False, seed=3, timeout=2, users=1, turns=(10, 10), think_time="0",
            urls=(server.url,), trace_dir=str(tmp_path), run_id="hostile",
        )  # fmt: skip
    df = run.traces.sort_values("message_index")
    assert run.status == "complete" and len(df) == server.messages == 10
    for i, (_, row) in enumerate(df.iterrows()):
        if i % 5 == 0:
            assert row["status"] == "ok"
            continue
        field = HOSTILE[i % 5 - 1][1]
        assert (row["status"], row["error_kind"]) == ("error", "bad_reply")
        assert field in row["error"], row["error"]
    summary = (tmp_path / "hostile" / "summary.json").read_text()
    assert "Infinity" not in summary and "NaN" not in summary
    # a bad reply's figures are not recorded (a failed message's size feeds its codec's figures)
    for column in ("original_size", "compressed_size", "ratio", "codec_size"):
        assert (df[column].dropna() >= 0).all() and df[df["status"] != "ok"][column].isna().all()


@pytest.mark.timeout(60)
def test_a_brotli_window_out_of_range_is_refused_before_the_run_starts(tmp_path):
    process = start("run", "--codec", "brotli:lgwin=99", "--users", "1", "--messages-per-user", "2",
                    "--trace-dir", tmp_path / "runs", cwd=tmp_path)  # fmt: skip
    out, err = process.communicate(timeout=50)
    assert process.returncode == 2, (out, err)
    assert "lgwin" in err and "10..24" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing started
