"""How an assistant reply travels: whole (one WebSocket message, the peer's way) or
streamed as frames of a few tokens, as chat UIs receive it.

A token is approximated as ``CHARS_PER_TOKEN`` (4) characters, OpenAI's rule of thumb
for English text, so a frame of ``chunk_tokens`` tokens carries that many times 4
characters of the reply (the last frame the rest). We chose a fixed character count
over splitting on white space because code and markdown have long runs without
spaces and real tokenisers cut those too; the frame sizes then do not depend on the
text's layout. With ``envelope="json"`` each frame is a JSON object as the chat APIs
send (``{"type": "delta", "content": "..."}``); with ``resend_whole`` each frame
carries the whole reply so far (some UIs do this), not only the new piece.
Pure functions; ``reassemble`` inverts ``frames``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import CHARS_PER_TOKEN


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

    def frames(self, text: str, role: str | None) -> list[str]:
        """The WebSocket messages that carry ``text``: one unless an assistant (``ai``)
        reply is streamed."""
        if not self.stream or role != "ai" or not text:
            return [text]
        step = self.chunk_chars
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
