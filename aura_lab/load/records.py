"""Trace records: the one place where what happened to a message becomes a record of
the trace schema (``aura_lab.traces.schema``)."""

from __future__ import annotations

import time

from ..traffic.generator import GeneratedMessage
from ..wire.judge import Exchange


class Clock:
    """perf_counter_ns for intervals, anchored once to the wall clock for timestamps."""

    def __init__(self) -> None:
        self.wall0 = time.time_ns()
        self.mono0 = time.perf_counter_ns()

    def wall(self, mono_ns: int | None) -> int | None:
        """A perf_counter_ns reading as UTC nanoseconds since the epoch."""
        return None if mono_ns is None else self.wall0 + (mono_ns - self.mono0)


def build_record(
    run_id: str,
    phase: str,
    label: str,
    message: GeneratedMessage,
    result: Exchange,
    scheduled_ns: int,
    open_loop: bool,
    clock: Clock,
    reconnects: int,
    failovers: int,
    frame: str | None = None,
    frame_index: int | None = None,
    reply_id: str | None = None,
) -> dict:
    """One record: the message (or ``frame``, the part of it sent, when a reply is
    streamed), where it went, what came back. Latency (ms) counts from the scheduled
    send in an open loop and from the send otherwise."""
    reply = result.reply
    text = message.text if frame is None else frame
    latency = None
    if result.received_ns is not None:
        start = scheduled_ns if open_loop else result.sent_ns
        if start is not None:
            latency = (result.received_ns - start) / 1e6
    return {
        "run_id": run_id,
        "phase": phase,
        "codec": label,
        "server_url": result.url,
        "user_id": message.user_id,
        "role": message.role or None,  # a replay of records without a role
        "turn": message.turn,
        "source": message.source,
        "template_id": message.template_id,
        "template_ids": list(message.template_ids),
        "slot_values": [list(v) for v in message.slot_values],
        "target_min": message.target_min,
        "target_max": message.target_max,
        "text": text,
        "length_chars": len(text),
        "length_bytes": len(text.encode("utf-8", "surrogatepass")),
        "scheduled_at": clock.wall(scheduled_ns),
        "sent_at": clock.wall(result.sent_ns),
        "received_at": clock.wall(result.received_ns),
        "latency_ms": latency,
        "status": result.status,
        "error_kind": result.error_kind,
        "error": error_text(result.error if result.error is not None else _reply_error(reply)),
        "method": writable(str(reply["method"]).upper()) if reply.get("method") is not None else None,
        "server_template_id": int_or_none(reply.get("template_id")),
        "original_size": int_or_none(reply.get("original_size")),
        "compressed_size": int_or_none(reply.get("compressed_size")),
        "ratio": float_or_none(reply.get("compression_ratio")),
        **roundtrip(result),
        "compress_us": float_or_none(reply.get("compress_us")),
        "decompress_us": float_or_none(reply.get("decompress_us")),
        "reconnects": reconnects,
        "failovers": failovers,
        "conversation_id": message.conversation_id,
        "message_index": message.message_index,
        "reply_id": reply_id,
        "frame_index": frame_index,
        "message_bytes": len(message.text.encode("utf-8", "surrogatepass")),
        "codec_size": int_or_none(reply.get("codec_size")),
    }


def roundtrip(result: Exchange) -> dict:
    """``roundtrip_ok`` and who checked it: the server when its reply says, else the
    client when it checked the message itself (``--verify``), else nobody (null)."""
    said = result.reply.get("roundtrip_ok")
    if isinstance(said, bool):
        return {"roundtrip_ok": said, "roundtrip_by": "server"}
    if result.verified is not None:
        return {"roundtrip_ok": result.verified, "roundtrip_by": "client"}
    return {"roundtrip_ok": None, "roundtrip_by": None}


def _reply_error(reply: dict) -> str | None:
    error = reply.get("error")
    return str(error) if error else None


MAX_ERROR_CHARS = 500  # an error text is kept to this many characters in a record


def error_text(text: str | None) -> str | None:
    """An error text as a record keeps it: writable, and cut at ``MAX_ERROR_CHARS``
    characters with the length it had (a server may put megabytes in its ``error``)."""
    if text is not None and len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}… (cut: {len(text):,} characters in all)"
    return writable(text)


def writable(text: str | None) -> str | None:
    """Text from a reply as the trace file can hold it: JSON's ``\\ud800`` escapes give
    lone surrogates, which UTF-8 (and so Parquet) refuses; they are kept as escapes."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def int_or_none(value) -> int | None:
    """A reply's integer field as a trace int32, or None (absent, not a number, out of range)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**31) <= number < 2**31 else None


def float_or_none(value) -> float | None:
    """A reply's number field as a float, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        return None
