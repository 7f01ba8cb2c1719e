"""Conversations as logs hold them: roles, messages in order, and the size bands the
traffic profiles are fitted in. Pure data, no I/O (the readers are in
``aura_lab.traces.logs``).

Roles are normalised to ``human``, ``assistant`` and ``system``; tool messages are kept
apart (``tool``) and are never part of the chat traffic. The trace schema spells the
assistant's role ``ai`` (the peer's word): ``TRACE_ROLE`` maps one onto the other.
Sizes are UTF-8 bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CHAT_ROLES = ("human", "assistant")  # the two sides whose messages are traffic
ROLES = (*CHAT_ROLES, "system", "tool")

# the names real logs use for each role (ShareGPT's `from`, OpenAI's `role`, corpus
# `category`), lower-cased
ROLE_NAMES = {
    "human": "human",
    "user": "human",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "assistant": "assistant",
    "ai": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "system": "system",
    "developer": "system",  # OpenAI's newer name for system instructions
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}
TRACE_ROLE = {"assistant": "ai", "human": "human"}  # log role -> trace role
LOG_ROLE = {"ai": "assistant", "human": "human"}  # trace role -> log role

# The bands of the published figures: a message's place among the messages of its own
# role in the conversation (the first reply, replies 2-3, later ones).
BANDS = ("first", "2-3", "later")


_LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)]|\|)\s", re.MULTILINE)


def content_of(text: str) -> tuple[bool, bool]:
    """``(holds a fenced code block, holds a list or table)``: the content mix's test."""
    return "```" in text, _LIST_LINE.search(text) is not None


def normal_role(name: object) -> str | None:
    """The normalised role of a log's role name, or None when it is not one we know."""
    return ROLE_NAMES.get(name.strip().lower()) if isinstance(name, str) else None


def band_of(nth: int) -> str:
    """The band of the ``nth`` message (1-based) of one role in a conversation."""
    if nth <= 1:
        return "first"
    return "2-3" if nth <= 3 else "later"


@dataclass(frozen=True)
class LogMessage:
    """One message of a log. ``index`` is its position in the conversation as the file
    holds it (from 0, every message counted, system and tool ones too); ``at`` is its
    timestamp in seconds since the epoch, when the log has one."""

    role: str | None  # human | assistant | system | tool; None: the log does not say
    text: str
    index: int
    at: float | None = None

    @property
    def size(self) -> int:
        """UTF-8 bytes."""
        return len(self.text.encode("utf-8", "surrogatepass"))


@dataclass
class Conversation:
    """One conversation: its chat messages (human and assistant, and messages whose role
    the log does not record) in order, and its system and tool messages kept apart.
    ``where`` is the file and line it starts at; ``structured`` is False for files of
    loose messages (a corpus), whose "conversations" are single messages."""

    id: str
    messages: list[LogMessage]
    where: str = ""
    kept_apart: list[LogMessage] = field(default_factory=list)
    structured: bool = True

    def __len__(self) -> int:
        return len(self.messages)

    def sized(self) -> list[tuple[str | None, str, int]]:
        """``(role, band, size)`` of each chat message, the band by its place among the
        messages of its role."""
        seen: dict[str | None, int] = {}
        out = []
        for message in self.messages:
            seen[message.role] = seen.get(message.role, 0) + 1
            out.append((message.role, band_of(seen[message.role]), message.size))
        return out
