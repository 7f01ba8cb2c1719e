"""``run --replay``: logged conversations played as they are, one user each, record by
record; logged timing; old trace parts without the new columns still load."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import aura_lab
from aura_lab.cli import main
from aura_lab.config import LOGGED_GAP_CAP_S
from aura_lab.load.engine import Engine, EngineSettings
from aura_lab.load.links import Group
from aura_lab.timing import ThinkTime
from aura_lab.traces.reader import load_traces
from aura_lab.traces.schema import SCHEMA
from aura_lab.traffic.generator import GeneratedMessage, config_from_files
from aura_lab.traffic.selection import make_selector
from tests.support.logs import write_logs

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return write_logs(tmp_path_factory.mktemp("logs"), 12, seed=31)


def logged_chat(path, kind: str) -> list[tuple[str, list[tuple[int, str, str]]]]:
    """(conversation id, [(index, role, text)]) read straight from the file (json alone)."""
    rows = (
        json.loads(path.read_text()) if kind == "sharegpt" else [json.loads(x) for x in path.read_text().splitlines()]
    )
    out = []
    for row in rows:
        turns = row["conversations"] if kind == "sharegpt" else row["messages"]
        chat = []
        for index, turn in enumerate(turns):
            role = turn.get("from", turn.get("role"))
            text = turn.get("value", turn.get("content"))
            if isinstance(text, list):
                text = "\n".join(part["text"] for part in text)
            if role in ("human", "user", "gpt", "assistant") and text:
                chat.append((index, "human" if role in ("human", "user") else "ai", text))
        out.append((row["id"], chat))
    return out


@pytest.mark.parametrize("kind", ["openai", "sharegpt"])
def test_replay_sends_exactly_the_logged_texts_in_order(logs, tmp_path, kind):
    """Done when: record by record, each user sends its conversation's texts, in order,
    to every codec, with the conversation id and the message's index in the log."""
    run = aura_lab.run(
        replay=str(logs[kind]),
        think_time="0",
        codecs="deflate,identity",
        in_process_servers=True,
        quiet=True,
        trace_dir=str(tmp_path),
        run_id=kind,
    )
    expected = logged_chat(logs[kind], kind)
    assert run.manifest.options["users"] == len(expected) == 12
    assert run.manifest.planned_messages == sum(len(chat) for _, chat in expected)
    assert "replay of 12 logged conversations" in run.summary["traffic"]
    for codec in ("deflate", "identity"):
        rows = run.rows(codec=codec).sort_values(["user_id", "turn"])
        assert (rows["status"] == "ok").all() and (rows["source"] == "replay").all()
        for user, (conversation_id, chat) in enumerate(expected):
            mine = rows[rows["user_id"] == user]
            assert list(mine["text"]) == [text for _, _, text in chat], (codec, user)
            assert list(mine["message_index"]) == [index for index, _, _ in chat]
            assert list(mine["role"].astype(str)) == [role for _, role, _ in chat]
            assert set(mine["conversation_id"]) == {conversation_id}
            assert list(mine["turn"]) == list(range(len(chat)))
    counted = run.manifest.files["replay"]["counted"]
    assert counted.get("system message (kept apart)", 0) > 0 or kind == "sharegpt"


def test_replay_from_the_command_line_with_fewer_users(logs, tmp_path, capsys):
    code = main(
        [
            "run", "--replay", str(logs["openai"]), "--users", "3", "--think-time", "0", "--codec", "identity",
            "--trace-dir", str(tmp_path), "--run-id", "cli", "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    run = aura_lab.load_run(tmp_path / "cli")
    assert sorted(set(run.traces["user_id"])) == [0, 1, 2]
    assert any("left out (--users)" in note for note in run.manifest.notes)
    assert main(["run", "--replay", str(tmp_path / "missing.jsonl"), "--quiet"]) == 2
    assert "--replay" in capsys.readouterr().err
    assert main(["run", "--replay-timing", "logged", "--quiet"]) == 2
    assert "--replay-timing: applies to a replay" in capsys.readouterr().err


def test_logged_timing_follows_the_timestamps(tmp_path):
    path = tmp_path / "timed.jsonl"
    gaps = [0.0, 0.4, 0.2, 0.6]
    start = 1_700_000_000.0
    messages, at = [], start
    for i, gap in enumerate(gaps):
        at += gap
        messages.append(
            {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " * 5, "created_at": at}
        )
    path.write_text(json.dumps({"id": "t", "messages": messages}) + "\n")
    run = aura_lab.run(
        replay=str(path),
        replay_timing="logged",
        codecs="identity",
        in_process_servers=True,
        quiet=True,
        trace_dir=str(tmp_path),
        run_id="timed",
    )
    sent = run.rows().sort_values("turn")["sent_at"].astype("int64").to_numpy() / 1e9
    for got, want in zip(sent[1:] - sent[:-1], gaps[1:]):
        assert want - 0.02 <= got <= want + 0.25, (got, want)
    assert any("3 pauses from the logs' timestamps (0 cut" in note for note in run.manifest.notes)


def test_a_long_logged_gap_is_cut():
    config = config_from_files(None, None)
    settings = EngineSettings("x", ThinkTime.parse("0.5"), logged_timing=True)
    engine = Engine(settings, config, [Group("g")], make_selector("uniform", 0.3), 1)
    a = GeneratedMessage(0, 0, 2, "human", "a", "replay", logged_at=0.0)
    b = GeneratedMessage(0, 1, 2, "ai", "b", "replay", logged_at=86_400.0)
    untimed = GeneratedMessage(0, 1, 2, "ai", "b", "replay")
    import random

    now = time.perf_counter_ns()
    assert LOGGED_GAP_CAP_S - 0.1 < engine._gap(a, b, now, random.Random(1)) <= LOGGED_GAP_CAP_S
    assert engine._gap(a, untimed, now, random.Random(1)) == 0.5  # the think time
    assert engine.logged_gaps == {"used": 1, "cut": 1, "missing": 1}


def test_parts_written_before_the_new_columns_still_load(tmp_path):
    old_fields = [f for f in SCHEMA if f.name not in ("conversation_id", "message_index", "reply_id", "frame_index",
                                                       "message_bytes", "codec_size")]  # fmt: skip
    old = pa.schema(old_fields)
    rows = [{"run_id": "old", "phase": "main", "codec": "deflate", "user_id": 0, "turn": t, "role": "ai",
             "text": "hello there", "length_chars": 11, "length_bytes": 11, "status": "ok",
             "original_size": 11, "compressed_size": 9, "reconnects": 0, "failovers": 0} for t in range(3)]  # fmt: skip
    (tmp_path / "old" / "traces").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=old), tmp_path / "old" / "traces" / "part-0000-000000.parquet")
    frame = load_traces(tmp_path / "old")
    assert len(frame) == 3 and frame["message_index"].isna().all() and frame["reply_id"].isna().all()
    single = load_traces(tmp_path / "old" / "traces" / "part-0000-000000.parquet")
    assert list(single.columns) == SCHEMA.names
