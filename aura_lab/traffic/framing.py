"""How an assistant reply travels: whole (one WebSocket message, the peer's way) or
streamed as frames of a few tokens, as chat UIs receive it.

A token is approximated as ``CHARS_PER_TOKEN`` (4) characters, OpenAI's rule of thumb
for English text, so a frame of ``chunk_tokens`` tokens carries that many times 4
characters of the reply (the last frame the rest). We chose a fixed character count
over splitting on white space because code and markdown have long runs without
spaces and real tokenisers cut those too; the frame sizes then do not depend on the
text's layout. With ``envelope="json"`` each frame is a JSON object as the chat APIs
send (``{"type": "delta", "content": "..."}``); with ``resend_whole`` each frame
carries the whole reply so far (some UIs do this), not only the new piece; a long reply
then goes in larger steps, so that its frames carry at most ``MAX_RESEND_CHARS`` in all.
Pure functions; ``reassemble`` inverts ``frames``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import CHARS_PER_TOKEN

# With resend_whole the frames of a reply of n characters in steps of c carry about
# n^2 / 2c characters in all: a 100 KB reply in 4-character steps, 1.25 G characters
# (4.1 GB held). A reply whose frames would carry more than this goes in larger steps.
MAX_RESEND_CHARS = 8 << 20  # characters, all the frames of one reply together


def resent_chars(length: int, step: int) -> int:
    """Characters the resend-whole frames of a ``length``-character reply carry in all."""
    frames = -(-length // step)
    return step * frames * (frames - 1) // 2 + length  # frames 1..F-1 hold k*step, the last all


@dataclass(frozen=True)
class Framing:
    """``stream``: frames of ``chunk_tokens`` tokens; else each message whole."""

    stream: bool = False
    chunk_tokens: int = 4
    envelope: str = "none"  # none | json
    resend_whole: bool = False

    @property
    def chunk_chars(self) -> int:
        return self.chunk_tokens * CHARS_PER_TOKEN

    def step_chars(self, length: int) -> int:
        """Characters each frame of a reply of ``length`` characters adds: ``chunk_chars``,
        or with ``resend_whole`` more when its frames would carry over
        ``MAX_RESEND_CHARS`` in all (the fewest more that keep them under it)."""
        step = self.chunk_chars
        if not self.resend_whole:
            return step
        step = max(step, -(-length * length // (2 * MAX_RESEND_CHARS)))
        while step < length and resent_chars(length, step) > MAX_RESEND_CHARS:
            step += max(1, step // 16)
        return step

    def frames(self, text: str, role: str | None) -> list[str]:
        """The WebSocket messages that carry ``text``: one unless an assistant (``ai``)
        reply is streamed."""
        if not self.stream or role != "ai" or not text:
            return [text]
        step = self.step_chars(len(text))
        pieces = [text[i : i + step] for i in range(0, len(text), step)]
        if self.resend_whole:
            pieces = [text[: i + step] for i in range(0, len(text), step)]
        if self.envelope == "json":
            return [json.dumps({"type": "delta", "content": p}, ensure_ascii=False) for p in pieces]
        return pieces

    def reassemble(self, frames: list[str]) -> str:
        """The reply the frames carry (the inverse of ``frames``)."""
        if self.envelope == "json":
            frames = [json.loads(f)["content"] for f in frames]
        if self.resend_whole:
            return frames[-1] if frames else ""
        return "".join(frames)
