"""How a conversation's text compresses: the content figures that sizes alone miss.

Real chat repeats itself (code sent back with a fix, a rewritten text, a pasted answer,
"continue"), and that reuse is what context takeover and dictionaries feed on. These are
the figures that say how much of it a traffic has, per message, measured with raw
deflate (zlib, level 6, a 32 KiB window, the setting of permessage-deflate):

- ``alone``: the message's ratio compressed on its own (UTF-8 bytes / deflate bytes);
- ``gain``: how much the conversation before it helps: its size compressed alone over
  its size compressed with the previous 32 KiB of the conversation (both directions) as
  a preset dictionary; ``gain_own``: the same with its own direction's history only (what
  a per-direction context, as permessage-deflate keeps, can use). None for a message
  with no such history (the conversation's first message; a role's first for
  ``gain_own``);
- ``reuse``: the share of the message's 32-byte runs (one at every 8th byte) that appeared
  earlier in the conversation, at any offset; 0 for a message shorter than a run;
- ``reuse_kind`` of a message that reuses at least ``REUSE_SOME`` of its text: ``code``
  (most reused runs lie in a fenced code block), ``quote`` (most come from the other
  side: a user pasting the answer, a reply quoting the question) or ``repeat`` (its own
  side's earlier text: a rewrite, a continuation).

``content_figures`` sums them up per role (percentiles and shares) for a profile, the
realism check and the closing figures of an issue. Pure and deterministic: no text is
kept in what it returns.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..traffic.conversations import CHAT_ROLES, Conversation

WINDOW = 32 * 1024  # deflate's window: how much history a context (or preset dictionary) can use
LEVEL = 6
RUN = 32  # bytes of a run for the reuse share
STEP = 8  # a run is taken at every STEP-th byte of the message
REUSE_SOME = 0.30  # "reuses at least 30 % of its text"
REUSE_MOST = 0.70
REUSE_KINDS = ("code", "quote", "repeat")
QUANTILES = (10, 25, 50, 75, 90)
_FENCE = b"```"


@dataclass(frozen=True)
class MessageContent:
    """The content figures of one message (``alone``, ``gain``, ``gain_own``: ratios;
    ``reuse``: a share of 0-1)."""

    role: str
    size: int  # UTF-8 bytes
    alone: float
    gain: float | None
    gain_own: float | None
    reuse: float
    reuse_kind: str | None


def deflate_size(data: bytes, history: bytes = b"") -> int:
    """Bytes of ``data`` as one raw deflate stream (level 6, 32 KiB window), with
    ``history`` (its last 32 KiB) as a preset dictionary when given."""
    if history:
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15, zdict=history[-WINDOW:])
    else:
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return len(compressor.compress(data) + compressor.flush())


def _runs(data: bytes, every: int) -> list[bytes]:
    return [data[i : i + RUN] for i in range(0, len(data) - RUN + 1, every)]


def _in_code(data: bytes) -> np.ndarray:
    """For each byte of ``data``: does it lie inside a fenced code block?"""
    inside = np.zeros(len(data), dtype=bool)
    fences = []
    at = data.find(_FENCE)
    while at != -1:
        fences.append(at)
        at = data.find(_FENCE, at + len(_FENCE))
    for start, end in zip(fences[0::2], [*fences[1::2], len(data)]):
        inside[start:end] = True
    return inside


def message_content(conversation: Conversation) -> list[MessageContent]:
    """The content figures of each chat message (human or assistant) of a conversation,
    in order; messages of unknown role count as history but get no figures."""
    out: list[MessageContent] = []
    both = b""
    own: dict[str, bytes] = dict.fromkeys(CHAT_ROLES, b"")
    seen: dict[str, set[bytes]] = {role: set() for role in CHAT_ROLES}  # runs at every offset, by side
    for message in conversation.messages:
        data = message.text.encode("utf-8", "surrogatepass")
        role = message.role
        if role in CHAT_ROLES:
            alone_size = deflate_size(data)
            gain = alone_size / deflate_size(data, both) if both else None
            gain_own = alone_size / deflate_size(data, own[role]) if own[role] else None
            runs = _runs(data, STEP)
            other = next(r for r in CHAT_ROLES if r != role)
            from_own = [run in seen[role] for run in runs]
            from_other = [run in seen[other] and not mine for run, mine in zip(runs, from_own)]
            reused = sum(from_own) + sum(from_other)
            reuse = reused / len(runs) if runs else 0.0
            kind = None
            if runs and reuse >= REUSE_SOME:
                code = _in_code(data)
                hits = [i * STEP for i, (a, b) in enumerate(zip(from_own, from_other)) if a or b]
                if sum(bool(code[i]) for i in hits) * 2 > len(hits):
                    kind = "code"
                elif sum(from_other) * 2 > reused:
                    kind = "quote"
                else:
                    kind = "repeat"
            out.append(MessageContent(role, len(data), len(data) / max(alone_size, 1), gain, gain_own, reuse, kind))
            own[role] = (own[role] + data)[-WINDOW:]
            seen[role].update(_runs(data, 1))
        both = (both + data)[-WINDOW:]
    return out


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    points = np.percentile(np.asarray(values, dtype=float), QUANTILES)
    return {f"p{q}": round(float(v), 4) for q, v in zip(QUANTILES, points)}


def summarise_content(messages: Iterable[MessageContent]) -> dict[str, dict]:
    """Per role: ``messages``; ``alone``, ``gain`` and ``gain_own`` as percentiles
    (``p10`` ... ``p90``; None when no message had the figure); ``reuse`` percentiles;
    ``reuse_some`` and ``reuse_most`` (shares of messages reusing at least 30 % and 70 %
    of their text); ``reuse_kinds`` (shares of each kind among the messages reusing at
    least 30 %; None when there is none)."""
    by_role: dict[str, list[MessageContent]] = {role: [] for role in CHAT_ROLES}
    for item in messages:
        by_role[item.role].append(item)
    out: dict[str, dict] = {}
    for role, items in by_role.items():
        n = len(items)
        some = [m for m in items if m.reuse_kind is not None]
        out[role] = {
            "messages": n,
            "alone": _quantiles([m.alone for m in items]),
            "gain": _quantiles([m.gain for m in items if m.gain is not None]),
            "gain_own": _quantiles([m.gain_own for m in items if m.gain_own is not None]),
            "reuse": _quantiles([m.reuse for m in items]),
            "reuse_some": round(len(some) / n, 4) if n else None,
            "reuse_most": round(sum(m.reuse >= REUSE_MOST for m in items) / n, 4) if n else None,
            "reuse_kinds": (
                {kind: round(sum(m.reuse_kind == kind for m in some) / len(some), 4) for kind in REUSE_KINDS}
                if some
                else None
            ),
        }
    return out


def content_figures(conversations: Iterable[Conversation]) -> dict[str, dict]:
    """``summarise_content`` over every chat message of ``conversations``."""
    return summarise_content(item for conversation in conversations for item in message_content(conversation))
