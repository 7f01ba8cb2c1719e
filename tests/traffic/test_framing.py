"""Streamed replies: frames of a few tokens, bare or in a JSON envelope, or the whole
text so far; ``reassemble`` gives the reply back."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from aura_lab.config import CHARS_PER_TOKEN
from aura_lab.traffic.framing import Framing

REPLY = "Use `venv`: it ships with Python. " * 5


def test_whole_framing_sends_one_message():
    assert Framing().frames(REPLY, "ai") == [REPLY]
    assert Framing(stream=True).frames("a human question", "human") == ["a human question"]


def test_frames_are_chunk_tokens_times_four_characters():
    frames = Framing(stream=True, chunk_tokens=3).frames(REPLY, "ai")
    assert all(len(f) == 3 * CHARS_PER_TOKEN for f in frames[:-1]) and 0 < len(frames[-1]) <= 12
    assert "".join(frames) == REPLY


def test_json_envelope_and_resending_the_whole_text():
    framing = Framing(stream=True, chunk_tokens=2, envelope="json", resend_whole=True)
    frames = framing.frames(REPLY, "ai")
    parsed = [json.loads(f) for f in frames]
    assert all(p["type"] == "delta" for p in parsed)
    assert [p["content"] for p in parsed] == [REPLY[: i + 8] for i in range(0, len(REPLY), 8)]
    assert parsed[-1]["content"] == REPLY


@given(
    st.text(min_size=1, max_size=400),
    st.integers(1, 20),
    st.sampled_from(["none", "json"]),
    st.booleans(),
)
def test_reassemble_inverts_frames(text, chunk, envelope, resend):
    framing = Framing(stream=True, chunk_tokens=chunk, envelope=envelope, resend_whole=resend)
    frames = framing.frames(text, "ai")
    assert len(frames) == -(-len(text) // (chunk * CHARS_PER_TOKEN))
    assert framing.reassemble(frames) == text


def test_resend_whole_frames_of_a_long_reply_are_bounded():
    """A 100 KB reply at --chunk-tokens 1 --resend-whole made 25,000 frames carrying 1.25 G
    characters (4.1 GB held): a long reply now goes in larger steps, its frames carrying
    at most MAX_RESEND_CHARS in all, and still reassembles."""
    from aura_lab.traffic.framing import MAX_RESEND_CHARS, resent_chars

    framing = Framing(stream=True, chunk_tokens=1, resend_whole=True)
    text = "word " * 20_000
    frames = framing.frames(text, "ai")
    assert sum(map(len, frames)) == resent_chars(len(text), framing.step_chars(len(text))) <= MAX_RESEND_CHARS
    assert 100 < len(frames) < 1000 and framing.reassemble(frames) == text
    short = "a short reply, streamed as asked"
    assert framing.step_chars(len(short)) == 4 and len(framing.frames(short, "ai")) == 8
    big = "x" * (1 << 20)  # the largest message a server takes
    assert sum(map(len, framing.frames(big, "ai"))) <= MAX_RESEND_CHARS
