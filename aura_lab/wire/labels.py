"""The codec label of a server aura-lab did not start, from what the server says: its
``GET /health`` (aura-lab's servers), else its replies (the peer's server has no
``/health``; AURA's compressor shows itself in its metadata and its method names), else
the generic label. One owner, so a run against the peer's server, a run against
``aura-lab serve --codec aura`` and the peer's own trace files all call AURA "aura" and
can be compared without renaming anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..codecs.base import CONTEXTS, NO_CONTEXT
from .protocol import UNCOMPRESSED

AURA = "aura"
EXTERNAL = "external"  # a server that says nothing about itself
PEER = "peer"  # the peer's trace files when their methods say nothing
# AURA's own method names (UNCOMPRESSED is every codec's): one of them in a reply or a
# trace says the compressor is AURA's
AURA_METHODS = frozenset({"BINARY_SEMANTIC", "AURALITE", "AURA_LITE", "BRIO", "AURA_HEAVY", "PATTERN_SEMANTIC"})


@dataclass(frozen=True)
class Label:
    """A codec label and how it was found (said in the manifest)."""

    codec: str
    how: str


def from_health(health: Any) -> Label | None:
    """The label a server gives itself at ``GET /health`` (``codec``); None without one."""
    codec = health.get("codec") if isinstance(health, dict) else None
    if isinstance(codec, str) and codec.strip():
        return Label(codec.strip(), f"GET /health says codec {codec.strip()!r}")
    return None


def from_reply(reply: Any) -> Label | None:
    """ "aura" when a reply is AURA's compressor's: its ``metadata.attempted_methods`` lists
    AURA's method names (lower-case, as the compressor writes them), one of them AURA's
    own (a short message's ``["uncompressed"]`` alone says nothing), or its ``method`` is
    one only AURA uses; None when the reply does not say."""
    if not isinstance(reply, dict):
        return None
    metadata = reply.get("metadata")
    attempted = metadata.get("attempted_methods") if isinstance(metadata, dict) else None
    if isinstance(attempted, list) and all(isinstance(m, str) for m in attempted):
        named = {m.upper() for m in attempted}
        if named <= {UNCOMPRESSED, *AURA_METHODS} and named & AURA_METHODS:
            return Label(AURA, f"its replies carry AURA's metadata.attempted_methods {attempted}")
    method = reply.get("method")
    if isinstance(method, str) and method.upper() in AURA_METHODS:
        return Label(AURA, f"its replies' method {method.upper()} is AURA's own")
    return None


def from_methods(methods: Iterable[Any]) -> Label | None:
    """ "aura" when the methods a server replied with include one of AURA's own (the only
    sign in the peer's trace files); None when they do not say."""
    seen = sorted({str(m).upper() for m in methods if isinstance(m, str)} & AURA_METHODS)
    if seen:
        return Label(AURA, f"the replies' methods include AURA's own ({', '.join(seen)})")
    return None


def context_of(health: object) -> str:
    """What a server keeps between a connection's messages, as its ``GET /health`` says
    (``context``: ``per-direction``, ``shared`` or ``none``); ``none`` when it does not
    say (the peer's server: one compressor for everything, nothing kept per connection)."""
    context = health.get("context") if isinstance(health, dict) else None
    return context if context in (NO_CONTEXT, *CONTEXTS) else NO_CONTEXT
