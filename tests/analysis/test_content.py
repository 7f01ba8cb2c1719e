"""analysis.content: the content figures (compressibility alone, gain from history, reuse)."""

from __future__ import annotations

import random
import string

from aura_lab.analysis.content import content_figures, deflate_size, message_content
from aura_lab.traffic.conversations import Conversation, LogMessage


def words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(n))


def conversation(*messages: tuple[str, str]) -> Conversation:
    return Conversation("c", [LogMessage(role, text, i) for i, (role, text) in enumerate(messages)])


def test_reuse_and_its_kind():
    rng = random.Random(3)
    code = "```python\n" + "\n".join(f"def f{i}(x):\n    return {words(rng, 3)!r}" for i in range(20)) + "\n```"
    answer = words(rng, 150)
    chat = conversation(
        ("human", "fix this please " + code),
        ("assistant", "Here is the fixed version:\n\n" + code.replace("f3", "g3")),
        ("human", "you said: " + answer[:0] + words(rng, 80)),
        ("assistant", answer),
        ("human", "explain this part: " + answer[:600]),
        ("assistant", words(rng, 120)),
    )
    figures = message_content(chat)
    assert [m.role for m in figures] == ["human", "assistant"] * 3
    first, reply, _, fresh, quoting, _ = figures
    assert first.gain is None and first.gain_own is None and first.reuse == 0 and first.reuse_kind is None
    assert reply.gain is not None and reply.gain > 3 and reply.gain_own is None  # the code came from the other side
    assert reply.reuse > 0.9 and reply.reuse_kind == "code"
    assert fresh.reuse < 0.05 and fresh.reuse_kind is None
    assert quoting.reuse > 0.8 and quoting.reuse_kind == "quote"


def test_summary_per_role_holds_no_text():
    rng = random.Random(4)
    repeat = words(rng, 200)
    chats = [conversation(("human", words(rng, 10)), ("assistant", repeat), ("human", "more"), ("assistant", repeat))]
    summary = content_figures(chats)
    assistant = summary["assistant"]
    assert assistant["messages"] == 2 and assistant["reuse_some"] == 0.5 and assistant["reuse_most"] == 0.5
    assert assistant["reuse_kinds"] == {"code": 0.0, "quote": 0.0, "repeat": 1.0}
    assert summary["human"]["reuse_kinds"] is None
    assert repeat[:40] not in repr(summary)


def test_deflate_size_with_history_is_smaller_for_repeated_text():
    text = ("the quick brown fox jumps over the lazy dog " * 3).encode()
    assert deflate_size(text, text) < deflate_size(text)
