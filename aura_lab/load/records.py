"""Trace records: the one place where what happened to a message becomes a record of
the trace schema (``aura_lab.traces.schema``)."""

from __future__ import annotations

import time

from ..traces.schema import COLUMNS, writable
from ..traffic.compose import utf8_size
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


class Record(tuple):
    """A trace record: a tuple in ``COLUMNS`` order (the writer turns records into
    columns in chunks; a dict per record cost 1.08x the runner's rate), read by column
    name as a dict is (``record["status"]``, ``record.get("ratio")``)."""

    __slots__ = ()

    def __getitem__(self, key):
        return tuple.__getitem__(self, _INDEX[key] if type(key) is str else key)

    def get(self, key: str, default=None):
        index = _INDEX.get(key)
        return default if index is None else tuple.__getitem__(self, index)

    def as_dict(self) -> dict:
        return dict(zip(COLUMNS, self))


_INDEX = {name: i for i, name in enumerate(COLUMNS)}


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
) -> Record:
    """One record: the message (or ``frame``, the part of it sent, when a reply is
    streamed), where it went, what came back. Latency (ms) counts from the send, or in
    an open loop from the scheduled send when that came first: a late send's wait counts,
    and a send the event loop's timer let go early (uvloop's timers have a millisecond's
    grain: up to ~1 ms) does not shorten the figure below the round trip."""
    reply = result.reply
    text = message.text if frame is None else frame
    latency = None
    if result.received_ns is not None:
        start = result.sent_ns
        if open_loop and (start is None or scheduled_ns < start):
            start = scheduled_ns
        if start is not None:
            latency = (result.received_ns - start) / 1e6
    length_bytes = utf8_size(text)
    method = reply.get("method")
    roundtrip_ok, roundtrip_by = roundtrip(result)
    # in COLUMNS order (tests/load/test_records.py checks it against the schema)
    return Record(
        (
            run_id,
            phase,
            label,
            result.url,
            message.user_id,
            message.role or None,  # a replay of records without a role
            message.turn,
            message.source,
            message.template_id,
            # the message's own tuples (immutable): no copy, and a record of atomic values
            # and tuples is one the garbage collector stops tracking
            message.template_ids,
            message.slot_values,
            message.target_min,
            message.target_max,
            text,
            len(text),
            length_bytes,
            clock.wall(scheduled_ns),
            clock.wall(result.sent_ns),
            clock.wall(result.received_ns),
            latency,
            result.status,
            result.error_kind,
            error_text(result.error if result.error is not None else _reply_error(reply)),
            writable(str(method).upper()) if method is not None else None,
            int_or_none(reply.get("template_id")),
            int_or_none(reply.get("original_size")),
            int_or_none(reply.get("compressed_size")),
            float_or_none(reply.get("compression_ratio")),
            roundtrip_ok,
            roundtrip_by,
            float_or_none(reply.get("compress_us")),
            float_or_none(reply.get("decompress_us")),
            reconnects,
            failovers,
            message.conversation_id,
            message.message_index,
            reply_id,
            frame_index,
            length_bytes if frame is None else utf8_size(message.text),
            int_or_none(reply.get("codec_size")),
        )
    )


def roundtrip(result: Exchange) -> tuple[bool | None, str | None]:
    """``roundtrip_ok`` and who checked it: the server when its reply says, else the
    client when it checked the message itself (``--verify``), else nobody (null)."""
    said = result.reply.get("roundtrip_ok")
    if isinstance(said, bool):
        return said, "server"
    if result.verified is not None:
        return result.verified, "client"
    return None, None


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


def int_or_none(value) -> int | None:
    """A reply's integer field as a trace int32, or None (absent, not a number, out of range)."""
    if type(value) is int:  # the common case first (bool is not int's type)
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**31) <= number < 2**31 else None


def float_or_none(value) -> float | None:
    """A reply's number field as a float, or None."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        return None
