"""Gates for CI on real runs: ``--check`` (exit 99 names the check and the figure),
``--json`` (stdout is the JSON alone), warnings on stderr even with ``--quiet`` and in
the manifest, and ``--verify`` against a server that reports no round trips."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import aura_lab
from aura_lab.cli import main
from tests.support.servers import PeerServer

pytestmark = pytest.mark.timeout(120)

SMALL = ["--users", "3", "--turns", "3-5", "--think-time", "0", "--seed", "5"]


def test_a_failed_check_exits_99_and_names_the_check_in_a_real_process(tmp_path):
    """The done-when: ``aura-lab run ... --check 'aura:roundtrip_failures==0'`` fails with
    the reserved code and names the check, with the figure."""
    process = subprocess.run(
        [sys.executable, "-m", "aura_lab", "run", *SMALL, "--codec", "aura,deflate", "--trace-dir", str(tmp_path),
         "--check", "aura:roundtrip_failures==0", "--check", "deflate:roundtrip_failures==0", "--quiet"],
        capture_output=True, text=True, timeout=110, cwd=tmp_path,
    )  # fmt: skip
    assert process.returncode == 99, process.stderr
    run = aura_lab.load_run(next((tmp_path).iterdir()))
    lost = run.summary["codecs"]["aura"]["roundtrip_failures"]
    assert lost > 0  # aura-compression 2.0.2 loses realistic messages (docs/peer.md)
    assert f"check FAILED: aura:roundtrip_failures==0: aura roundtrip_failures = {lost}" in process.stderr
    assert "check passed: deflate:roundtrip_failures==0: deflate roundtrip_failures = 0" in process.stderr
    assert "1 of 2 check(s) failed (exit 99)" in process.stderr
    assert process.stdout == ""  # --quiet: no summary


def test_json_goes_to_stdout_alone_and_parses(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "aura_lab", "run", *SMALL, "--codec", "deflate,identity", "--trace-dir", str(tmp_path),
         "--json", "--check", "ratio>=1"],
        capture_output=True, text=True, timeout=110, cwd=tmp_path,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=process.stdout, capture_output=True, text=True)
    assert tool.returncode == 0, tool.stderr
    payload = json.loads(process.stdout)
    assert payload["status"] == "complete" and payload["primary_codec"] == "deflate"
    assert payload["checks"][0]["passed"] is True and payload["checks"][0]["metric"] == "ratio"
    assert payload["verdict"]["lines"] and payload["codecs"]["deflate"]["loss"]["status"] == "checked"
    # the text summary and the report line went to stderr
    assert "Verdict" in process.stderr and "report: aura-lab report" in process.stderr


@pytest.mark.parametrize(
    "check, says",
    [("ratio>>1", "cannot read"), ("speed>1", "unknown metric"), ("brotli:ratio>1", "not in this run")],
)
def test_a_bad_check_is_refused_before_the_run_starts(check, says, tmp_path, capsys):
    code = main(["run", *SMALL, "--codec", "deflate", "--trace-dir", str(tmp_path / "t"), "--check", check])
    err = capsys.readouterr().err
    assert code == 2 and "--check" in err and says in err
    assert not (tmp_path / "t").exists()


def test_against_a_server_without_round_trips_loss_is_not_checked_then_verified(tmp_path, capfd):
    with PeerServer() as server:
        options = ["run", *SMALL, "--url", server.url, "--trace-dir", str(tmp_path), "--quiet"]
        code = main([*options, "--run-id", "plain", "--check", "roundtrip_failures==0"])
        out, err = capfd.readouterr()
        # unknown is not zero: the check fails as "not checked", and the warning shows despite --quiet
        assert code == 99 and "roundtrip_failures==0: not checked" in err
        assert "warning: external: round trips not checked" in err and out == ""
        plain = aura_lab.load_run(tmp_path / "plain")
        assert plain.summary["codecs"]["external"]["roundtrip_failures"] is None
        assert any("round trips not checked" in w for w in plain.manifest.warnings)
        assert "not checked" in plain.summary_text()

        assert main([*options, "--run-id", "verified", "--verify", "aura"]) == 0
    verified = aura_lab.load_run(tmp_path / "verified")
    traces = verified.rows()
    assert set(traces["roundtrip_by"].astype(str)) == {"client"}
    assert traces["roundtrip_ok"].notna().all()
    figures = verified.summary["codecs"]["external"]
    assert figures["loss"]["checked_by"] == {"client": len(traces)}
    assert figures["roundtrip_failures"] == int((traces["roundtrip_ok"] == False).sum())  # noqa: E712
    assert any("--verify aura" in note for note in verified.manifest.notes)
    # the same texts as the plain run (same seed): only the check differs
    assert sorted(traces["text"]) == sorted(plain.rows()["text"])


def test_verify_names_a_codec(tmp_path, capsys):
    assert main(["run", *SMALL, "--trace-dir", str(tmp_path / "t"), "--verify", "nope"]) == 2
    assert "--verify" in capsys.readouterr().err
    assert main(["run", *SMALL, "--trace-dir", str(tmp_path / "t"), "--verify", "aura:level=3"]) == 2
    assert "--verify: codec 'aura:level=3' has no option 'level'" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
