"""The peer's wire protocol, server side, without I/O: one message in, one JSON-ready
reply out (docs/protocol.md). The embedded server and the in-process link of the load
engine both call ``answer``, so an offline replay sees exactly what a client would.

Reply to a message that was compressed (``status: "ok"``), the peer's fields first:

- ``original_message``, ``original_size`` (UTF-8 bytes), ``compressed_size`` (bytes
  that would go on the wire), ``compression_ratio`` (original / compressed),
  ``method`` (upper-case), ``message_count`` (server-wide, every reply counts),
  ``metadata`` (the codec's own dict, JSON-safe), ``template_id`` (only when a
  template matched);
- then aura-lab's: ``codec``, ``roundtrip_ok`` (``decompress(compress(m)) == m``),
  ``compress_us`` and ``decompress_us`` (microseconds), ``codec_size`` (bytes the
  codec produced; null when it was not called), ``expanded`` (the codec's output was
  larger than the message), and ``error`` when the round trip failed.

Below ``min_compression_size`` bytes a standard codec is not called: UNCOMPRESSED,
ratio 1.0 (an empty message included). A codec that applies its own threshold
(``Codec.applies_own_threshold``: aura, whose compressor has its own
``min_compression_size`` and whose framing is on the wire for every message) is handed
every message, and the reply is what it produced, as the peer's server reports it.
When a standard codec's output is larger than the message the raw text would be sent
instead: ``method`` UNCOMPRESSED and ``compressed_size == original_size``, with the
expansion still visible in ``codec_size`` and ``expanded``. aura's output is its own
wire format, so its true size is reported even when it grew.

A message that cannot be compressed (binary frame, invalid UTF-8, too large)
gets ``{status: "error", error, codec, message_count, original_size}`` (plus
``original_message`` when there is text to echo); if ``compress`` itself raises,
``status`` is "error" too, with ``roundtrip_ok: false``.
"""

from __future__ import annotations

import enum
import importlib.metadata
import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..codecs.base import Codec
from ..traffic.templates import PatternLibrary

UNCOMPRESSED = "UNCOMPRESSED"  # the method name of a message sent as it is
TEMPLATE_METHOD = "BINARY_SEMANTIC"  # AURA's method for a message encoded with a template
_MAX_ERROR_CHARS = 300  # exception texts (aura's quote whole byte strings) are cut here


@dataclass
class ServerStats:
    """Counters for one server, shared by all its connections."""

    started: float = field(default_factory=time.monotonic)
    messages: int = 0  # every reply, "ok" or "error"
    roundtrip_failures: int = 0
    error_replies: int = 0

    def count(self) -> int:
        self.messages += 1
        return self.messages


def check_message(payload: bytes, is_text: bool, max_size: int) -> tuple[str | None, str | None]:
    """``(text, None)`` for a message the codec may see, else ``(None, reason)``."""
    if not is_text:
        return None, "binary frame: send the chat message as a text frame"
    if len(payload) > max_size:
        return None, f"message too large: {len(payload)} bytes, the limit is {max_size} bytes"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 in text frame at byte {exc.start}: {exc.reason}"
    return text, None  # an empty message is a message: the peer's server compresses it too


def error_reply(
    reason: str, codec_name: str, stats: ServerStats, *, original_size: int, original_message: str | None = None
) -> dict:
    """The reply to a message that was not compressed."""
    stats.error_replies += 1
    reply = {
        "status": "error",
        "error": reason,
        "codec": codec_name,
        "message_count": stats.count(),
        "original_size": original_size,
    }
    if original_message is not None:
        reply["original_message"] = original_message
    return reply


def compress_reply(text: str, codec: Codec, state: Any, stats: ServerStats, min_compression_size: int) -> dict:
    """Compress one message, check it decompresses to itself, and describe both."""
    original_size = len(text.encode("utf-8"))
    reply = {"status": "ok", "original_message": text, "original_size": original_size}
    if original_size < min_compression_size and not codec.applies_own_threshold:
        reply.update(
            compressed_size=original_size,
            compression_ratio=1.0,
            method=UNCOMPRESSED,
            message_count=stats.count(),
            metadata={"fallback_reason": "below_min_compression_size"},
            codec=codec.name,
            roundtrip_ok=True,
            compress_us=0.0,
            decompress_us=0.0,
            codec_size=None,
            expanded=False,
        )
        return reply

    start = time.perf_counter_ns()
    try:
        result = codec.compress(text, state)
    except Exception as exc:  # a codec bug must not take the server down
        compress_us = (time.perf_counter_ns() - start) / 1000
        stats.roundtrip_failures += 1
        stats.error_replies += 1
        reply.update(
            status="error",
            error=f"compress failed: {_describe(exc)}",
            message_count=stats.count(),
            codec=codec.name,
            roundtrip_ok=False,
            compress_us=round(compress_us, 1),
        )
        return reply
    compress_us = (time.perf_counter_ns() - start) / 1000

    start = time.perf_counter_ns()
    try:
        problem = roundtrip_problem(text, codec.decompress(result.data, state))
    except Exception as exc:
        problem = f"decompress failed: {_describe(exc)}"
    decompress_us = (time.perf_counter_ns() - start) / 1000

    codec_size = len(result.data)
    expanded = codec_size > original_size
    metadata = json_safe(result.metadata)
    if sends_raw(original_size, codec_size, codec.falls_back_on_expansion):
        method, compressed_size = UNCOMPRESSED, original_size
        metadata.setdefault("fallback_reason", "expansion_detected")
    else:
        method, compressed_size = result.method, codec_size
    reply.update(
        compressed_size=compressed_size,
        compression_ratio=ratio(original_size, compressed_size),
        method=method,
        message_count=stats.count(),
        metadata=metadata,
    )
    if result.template_id is not None:
        reply["template_id"] = json_safe(result.template_id)
    reply.update(
        codec=codec.name,
        roundtrip_ok=problem is None,
        compress_us=round(compress_us, 1),
        decompress_us=round(decompress_us, 1),
        codec_size=codec_size,
        expanded=expanded,
    )
    if problem is not None:
        stats.roundtrip_failures += 1
        reply["error"] = problem
    return reply


def ratio(original_size: int, compressed_size: int) -> float:
    """original / compressed bytes; 1.0 for an empty message sent as it is (0 / 0)."""
    return original_size / compressed_size if compressed_size else 1.0


def sends_raw(original_size: int, codec_size: int, falls_back_on_expansion: bool) -> bool:
    """The expansion rule: the raw text goes on the wire instead of a codec's output that
    grew, unless the codec's own framing must be sent whatever its size (aura)."""
    return falls_back_on_expansion and codec_size > original_size


def answer(
    payload: bytes,
    is_text: bool,
    codec: Codec,
    state: Any,
    stats: ServerStats,
    *,
    min_compression_size: int,
    max_size: int,
) -> dict:
    """The reply to one incoming message (a frame's bytes and whether it was a text
    frame): the compression reply, or an error reply saying why it was not compressed."""
    text, problem = check_message(payload, is_text, max_size)
    if text is not None:
        return compress_reply(text, codec, state, stats, min_compression_size)
    assert problem is not None
    return error_reply(problem, codec.name, stats, original_size=len(payload))


def templates_reply(patterns: dict[int, str]) -> list[dict]:
    """The ``GET /templates`` body: ``[{id, pattern, slots}]``."""
    return PatternLibrary(patterns, source="codec").to_records() if patterns else []


def roundtrip_problem(text: str, decoded: Any) -> str | None:
    """None when ``decoded == text``; else where they part, in UTF-8 bytes."""
    if decoded == text:
        return None
    if isinstance(decoded, (bytes, bytearray)):
        got = bytes(decoded)
        kind = "bytes, not text"
    elif isinstance(decoded, str):
        got = decoded.encode("utf-8", "surrogatepass")
        kind = "bytes"
    else:
        return f"roundtrip mismatch: decompress returned {type(decoded).__name__}, not text"
    want = text.encode("utf-8")
    at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    return f"roundtrip mismatch: decoded {len(got)} {kind} (original {len(want)}) differ at byte {at}"


def health(codec: Codec, stats: ServerStats, *, min_compression_size: int, max_size: int, templates: int) -> dict:
    """The ``GET /health`` body."""
    return {
        "status": "ok",
        "codec": codec.name,
        "codec_package": codec.package or "stdlib",
        "codec_package_version": codec.package_version,
        "context": codec.context,
        "aura_lab_version": aura_lab_version(),
        "messages_served": stats.messages,
        "roundtrip_failures": stats.roundtrip_failures,
        "error_replies": stats.error_replies,
        "uptime_s": round(time.monotonic() - stats.started, 3),
        "min_compression_size": min_compression_size,
        "max_size": max_size,
        "templates": templates,
        "codec_info": json_safe(codec.info()),
    }


def aura_lab_version() -> str:
    try:
        from .. import __version__
    except ImportError:  # imported as a namespace package (a stale editable install)
        return importlib.metadata.version("aura-lab")
    return __version__


def json_safe(value: Any) -> Any:
    """A copy that ``json.dumps`` accepts and that stays valid JSON (no NaN)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {str(json_safe(k)) if not isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."
