"""Offline replay: exact (a run replayed through its own codecs gives the same compressed
size for every message), an ordinary run folder, any codec; the peer's traces,
conversation logs, and a profile and seed as sources; clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

import aura_lab
from aura_lab.cli import main
from aura_lab.errors import InputError
from aura_lab.traces.peer import write_peer_traces
from aura_lab.traffic.generator import config_from_files, user_messages
from tests.load.test_replay import logged_chat
from tests.support.logs import write_logs

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
    with pytest.raises(InputError, match="no such trace folder or log file"):
        aura_lab.replay(tmp_path / "missing", ("deflate",), trace_dir=str(tmp_path), quiet=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a run folder"):
        aura_lab.replay(tmp_path / "empty", ("deflate",), trace_dir=str(tmp_path), quiet=True)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return write_logs(tmp_path_factory.mktemp("logs"), 6, seed=9)


def test_replay_of_conversation_logs_sends_the_logged_texts(logs, tmp_path):
    run = aura_lab.replay(logs["openai"], ("deflate-stream", "identity"), trace_dir=str(tmp_path), quiet=True)
    expected = logged_chat(logs["openai"], "openai")
    assert run.status == "complete" and run.manifest.options["users"] == len(expected) == 6
    assert run.manifest.options["replay"] == [str(logs["openai"].resolve())] and run.manifest.files["replay"]
    assert run.summary["traffic"].startswith("offline replay of the 6 logged conversations")
    for codec in ("deflate-stream", "identity"):
        rows = run.rows(codec=codec).sort_values(["user_id", "turn"])
        for user, (conversation_id, chat) in enumerate(expected):
            mine = rows[rows["user_id"] == user]
            assert list(mine["text"]) == [text for _, _, text in chat], (codec, user)
            assert list(mine["message_index"]) == [index for index, _, _ in chat]
            assert set(mine["conversation_id"]) == {conversation_id}
    assert run.summary["codecs"]["identity"]["overall_ratio"] == pytest.approx(1.0)


def test_offline_and_online_replays_of_logs_give_the_same_sizes(logs, tmp_path):
    """The offline replay calls the server's protocol function: the logs replayed through
    a real server (``run --replay``) give the same compressed size for every message."""
    online = aura_lab.run(replay=str(logs["sharegpt"]), codecs="deflate-stream", think_time="0",
                          in_process_servers=True, quiet=True, trace_dir=str(tmp_path), run_id="online")  # fmt: skip
    offline = aura_lab.replay(logs["sharegpt"], ("deflate-stream",), trace_dir=str(tmp_path), run_id="offline",
                              quiet=True)  # fmt: skip
    assert len(sizes(offline)) == online.manifest.planned_messages
    pd.testing.assert_series_equal(sizes(offline), sizes(online))


@pytest.mark.parametrize("profile", ["assistant", "peer"])
def test_replay_of_a_profile_is_the_traffic_a_run_would_send(profile, tmp_path):
    run = aura_lab.replay(profile=profile, users=3, seed=5, codecs=("identity",), trace_dir=str(tmp_path),
                          run_id="offline", quiet=True)  # fmt: skip
    config = config_from_files(None, None, profile=profile, seed=5)
    rows = run.rows().sort_values(["user_id", "turn"])
    for user in range(3):
        assert list(rows[rows["user_id"] == user]["text"]) == [m.text for m in user_messages(config, user)]
    assert run.manifest.options["profile"] == profile and run.manifest.seed == 5
    assert run.manifest.profile["name"] == profile and run.summary["profile"] == profile
    assert run.summary["traffic"] == f"offline replay of the profile {profile} (seed 5, 3 users); every message whole"
    online = aura_lab.run(profile=profile, users=3, seed=5, codecs="identity", think_time="0",
                          in_process_servers=True, quiet=True, trace_dir=str(tmp_path), run_id="online")  # fmt: skip
    key = ["user_id", "turn"]
    assert (
        online.rows()
        .sort_values(key)[[*key, "text"]]
        .reset_index(drop=True)
        .equals(rows[[*key, "text"]].reset_index(drop=True))
    )
    if profile == "peer":
        assert rows["template_id"].notna().any()  # template synthesis, as a run makes it


def test_replay_command_takes_logs_and_profiles_and_names_its_flags(logs, tmp_path, capsys):
    out = ["--codec", "identity", "--trace-dir", str(tmp_path), "--quiet"]
    assert main(["replay", str(logs["sharegpt"]), "--users", "2", "--run-id", "logs", *out]) == 0
    logged = aura_lab.load_run(tmp_path / "logs")
    assert sorted(set(logged.traces["user_id"])) == [0, 1]
    assert any("more were left out (users)" in note for note in logged.manifest.notes)
    assert main(["replay", "--profile", "peer", "--users", "2", "--seed", "1", "--run-id", "peer", *out]) == 0
    assert aura_lab.load_run(tmp_path / "peer").manifest.options["users"] == 2
    for args, says in [
        ([], "SOURCE: give SOURCE or --profile"),
        ([str(logs["sharegpt"]), "--profile", "peer"], "--profile: give SOURCE or --profile, not both"),
        (["--profile", "peer", "--users", "0"], "--users: must be"),
        (["--profile", "nope"], "--profile: no built-in profile 'nope'"),
        ([str(tmp_path / "missing.json")], "missing.json: no such trace folder or log file"),
    ]:
        assert main(["replay", *args, *out]) == 2, args
        assert says in capsys.readouterr().err, args
