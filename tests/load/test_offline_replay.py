"""Offline replay: exact (a run replayed through its own codecs gives the same compressed
size for every message), an ordinary run folder, any codec, the peer's traces as a
source, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

import aura_lab
from aura_lab.cli import main
from aura_lab.errors import InputError
from aura_lab.traces.peer import write_peer_traces

CODECS = ("aura", "deflate-stream", "zstd-dict", "deflate")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return aura_lab.run(users=5, turns=(4, 8), think_time="0", codecs=CODECS, quiet=True, progress=False, seed=3,
                        trace_dir=str(tmp_path_factory.mktemp("src")), run_id="source")  # fmt: skip


def sizes(run) -> pd.Series:
    df = run.rows(codec=None)
    return df.set_index(["codec", "user_id", "turn"])["compressed_size"].astype("Int64").sort_index()


def test_replay_through_the_runs_own_codecs_reproduces_every_size(source, tmp_path):
    again = aura_lab.replay(source.path, CODECS, trace_dir=str(tmp_path), run_id="again", quiet=True)
    assert again.status == "complete" and again.manifest.options["replay_of"] == str(source.path)
    theirs, ours = sizes(source), sizes(again)
    assert len(ours) == len(theirs) == source.manifest.planned_messages * len(CODECS)
    pd.testing.assert_series_equal(ours, theirs)
    assert again.traces["server_url"].astype(str).str.startswith("inprocess://").all()
    assert aura_lab.load_run(again.path).summary == again.summary  # an ordinary run folder


def test_replay_through_other_codecs_and_options(source, tmp_path):
    run = aura_lab.replay(source.path, "deflate-stream:window_bits=9,level=1,identity", trace_dir=str(tmp_path),
                          quiet=True)  # fmt: skip
    assert run.codecs == ["deflate-stream:window_bits=9,level=1", "identity"]
    narrow = run.summary["codecs"]["deflate-stream:window_bits=9,level=1"]["overall_ratio"]
    wide = source.summary["codecs"]["deflate-stream"]["overall_ratio"]
    assert 1.0 < narrow < wide  # a 512-byte window and level 1 remember less of the conversation
    assert run.summary["codecs"]["identity"]["overall_ratio"] == pytest.approx(1.0)


def test_replay_of_the_peers_trace_folder(source, tmp_path):
    peer = tmp_path / "peer"
    write_peer_traces(source.traces, peer, codec="aura")
    run = aura_lab.replay(peer, ("deflate",), trace_dir=str(tmp_path / "out"), quiet=True)
    assert len(run.traces) == source.manifest.planned_messages
    assert sorted(run.traces["text"]) == sorted(source.rows()["text"])


def test_replay_command(source, tmp_path, capsys):
    assert main(["replay", str(source.path), "--codec", "deflate", "--trace-dir", str(tmp_path), "--run-id", "cli",
                 "--quiet"]) == 0  # fmt: skip
    assert (tmp_path / "cli" / "summary.json").is_file()
    assert main(["replay", str(source.path), "--codec", "deflate:nope=1", "--trace-dir", str(tmp_path)]) == 2
    assert "has no option 'nope'" in capsys.readouterr().err


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no such trace folder"):
        aura_lab.replay(tmp_path / "missing", ("deflate",), trace_dir=str(tmp_path), quiet=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a run folder"):
        aura_lab.replay(tmp_path / "empty", ("deflate",), trace_dir=str(tmp_path), quiet=True)
