"""Conversation log readers: every format, roles normalised, oddities counted with file
and line (never a traceback), streaming in bounded memory."""

from __future__ import annotations

import json
import tracemalloc

import pandas as pd
import pytest

from aura_lab.errors import InputError
from aura_lab.traces.logs import LogReport, detect, read_logs
from aura_lab.traces.peer import write_peer_traces
from aura_lab.traces.schema import records_to_table, to_frame
from tests.support.logs import make_conversations, write_logs, write_openai, write_sharegpt


def read(path, **kw):
    report = LogReport()
    return list(read_logs(path, report, **kw)), report


def test_sharegpt_and_openai_give_the_same_conversations(tmp_path):
    conversations = make_conversations(30, seed=2)
    files = write_logs(tmp_path, 30, seed=2, oddities=False)
    for kind, path in files.items():
        got, report = read(path)
        assert report.files[0]["format"] == kind
        assert [[(m.role, m.text) for m in c.messages] for c in got] == [
            [(m["role"], m["text"]) for m in c] for c in conversations
        ]
        assert report.conversations == 30 and not report.counts
    openai, _ = read(files["openai"])
    assert all(m.at is not None for c in openai for m in c.messages)  # created_at, epoch seconds
    assert openai[0].id == "oa-2-000000"


def test_oddities_are_counted_with_file_and_line(tmp_path):
    path = tmp_path / "odd.jsonl"
    lines = [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": ""}]},
        "this line is not JSON",
        [1, 2],
        {"conversations": "not a list"},
        {"conversations": [{"from": "narrator", "value": "..."}, {"from": "user", "value": "ok"}]},
        {"conversations": [{"value": "who said this?"}, {"from": "bard", "value": 42}]},
        {"conversations": [{"from": "system", "value": "You are helpful."}]},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    got, report = read(path)
    assert [[(m.role, m.text) for m in c.messages] for c in got] == [[("human", "hi")], [("human", "ok")]]
    where = {kind: places[0] for kind, places in report.examples.items()}
    assert where["empty assistant message"] == f"{path}:1"
    assert where["invalid JSON: Expecting value"] == f"{path}:2"
    assert where["item is not a JSON object"] == f"{path}:3"
    assert where["no 'conversations' or 'messages' list"] == f"{path}:4"
    assert where["unknown role 'narrator'"] == f"{path}:5"
    assert where["no role"] == f"{path}:6" and where["text is a int, not a string"] == f"{path}:6"
    assert where["system message (kept apart)"] == f"{path}:7"
    assert where["conversation without a chat message"] == f"{path}:6"
    assert "\n".join(report.lines()).count(str(path)) >= 8


def test_openai_parts_system_and_tool_messages(tmp_path):
    path = tmp_path / "chat.jsonl"
    row = {
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}, {"type": "image_url"}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "content": "4", "tool_call_id": "c1"},
            {"role": "assistant", "content": "4.", "created_at": "2024-05-01T10:00:00Z"},
        ]
    }
    path.write_text(json.dumps(row) + "\n")
    (conversation,), report = read(path)
    assert [(m.role, m.text, m.index) for m in conversation.messages] == [
        ("human", "What is 2+2?", 1),
        ("assistant", "4.", 4),
    ]
    assert [m.role for m in conversation.kept_apart] == ["system", "tool"]
    assert conversation.messages[1].at == pd.Timestamp("2024-05-01T10:00:00Z").timestamp()
    assert report.counts["content part that is not text (dropped)"] == 1
    assert report.counts["assistant message without text (a tool call)"] == 1


def test_a_broken_json_array_names_the_line(tmp_path):
    path = write_sharegpt(tmp_path / "a.json", make_conversations(5, seed=1))
    text = path.read_text()
    cut = text[: len(text) * 2 // 3]
    path.write_text(cut)
    with pytest.raises(InputError) as err:
        read(path)
    assert str(err.value).startswith(f"{path}:") and "invalid JSON" in str(err.value)
    assert int(str(err.value).split(":")[1]) > 1


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "not JSON or JSONL"),
        ("hello", "not JSON or JSONL"),
        ('{"foo": 1}\n', "not a conversation log"),
        ('{"user_id": 1, "turn": 0, "message": "x"}\n', "the folder that holds them"),
    ],
)
def test_files_that_are_not_logs(tmp_path, content, message):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read(path)
    with pytest.raises(InputError, match="not found"):
        read(tmp_path / "missing.json")


def test_corpus_jsonl_loose_and_grouped(tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"text": "loose one", "category": "human"},
        {"message": "first", "category": "human", "conversation_id": "c1"},
        {"message": "reply", "category": "ai", "conversation_id": "c1"},
        {"content": "no category"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got, report = read(path)
    assert [(c.structured, [(m.role, m.text) for m in c.messages]) for c in got] == [
        (False, [("human", "loose one")]),
        (True, [("human", "first"), ("assistant", "reply")]),
        (False, [(None, "no category")]),
    ]
    assert report.counts["message without a category (role unknown)"] == 1


def test_peer_trace_folder(tmp_path):
    rows = [
        {"run_id": "r", "phase": "main", "codec": "c", "user_id": u, "turn": t, "role": "ai", "text": f"u{u} t{t}",
         "length_chars": 5, "method": "DEFLATE", "sent_at": 1_700_000_000_000_000_000 + t}
        for u in range(3) for t in range(4)
    ]  # fmt: skip
    write_peer_traces(to_frame(records_to_table(rows)), tmp_path / "peer", codec="c")
    assert detect(tmp_path / "peer") == "peer"
    got, report = read(tmp_path / "peer")
    assert [[m.text for m in c.messages] for c in got] == [[f"u{u} t{t}" for t in range(4)] for u in range(3)]
    assert all(m.role is None for c in got for m in c.messages)
    assert report.counts["the peer's traces record no role"] == 1


def _peak_bytes(path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_logs(path))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_streams_in_bounded_memory(tmp_path):
    """ShareGPT arrays and OpenAI JSONL of 10 and 40 MB are read with the same few MB
    of peak memory: the readers hold one chunk and one conversation, never the file."""
    conversations = make_conversations(600, seed=9)
    for write, name in ((write_sharegpt, "big.json"), (write_openai, "big.jsonl")):
        peaks = []
        for copies in (2, 8):
            path = write(tmp_path / f"{copies}-{name}", conversations * copies)
            count, peak = _peak_bytes(path)
            size = path.stat().st_size
            print(f"{path.name}: {size / 1e6:.0f} MB, {count} conversations, peak {peak / 1e6:.1f} MB")
            assert count == 600 * copies
            peaks.append(peak)
        assert size > 30e6 and peaks[1] < 8e6 and peaks[1] < 1.3 * peaks[0] + 1e6, peaks
