"""The peer's wire protocol, client side, without I/O: what one reply frame says about
the message it answers (docs/protocol.md).

``judge_reply`` turns a raw frame into an ``Exchange``: an answer, or an error of a
stated kind. Both the WebSocket link and the in-process link use it, so a reply is
judged the same way whichever way it came.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

# Reply fields the peer's server always sends on success.
REQUIRED_FIELDS = ("status", "original_size", "compressed_size", "compression_ratio", "method")
# interrupted: the run stopped before the reply came (set by the load engine)
ERROR_KINDS = ("timeout", "closed", "connect", "server_error", "bad_reply", "mismatched_reply", "interrupted")
_REQUIRED = frozenset(REQUIRED_FIELDS)
_NUMBERS = ("original_size", "compressed_size", "compression_ratio")
# byte counts a reply states (codec_size is optional); what a trace's int32 column holds
_SIZES = ("original_size", "compressed_size", "codec_size")
MAX_SIZE = 2**31 - 1


@dataclass(slots=True)
class Exchange:
    """What happened to one message on one link. Times are time.perf_counter_ns()."""

    url: str
    sent_ns: int | None
    received_ns: int | None
    status: str
    error_kind: str | None = None
    error: str | None = None
    reply: dict = field(default_factory=dict)
    # the client's own round-trip check (``--verify``), when the reply does not say
    verified: bool | None = None


def parse_reply(raw: str) -> Any:
    """A reply frame's JSON, exactly as ``json.loads`` reads it, at orjson's speed (3x on
    a typical reply). orjson refuses NaN, Infinity, numbers beyond a double, lone
    surrogates (escaped or not) and deep nesting, and reads integers beyond 64 bits as
    floats: those frames (rare) go to ``json.loads``, so they are judged and recorded as
    they always were."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
    return json.loads(raw) if _has_huge_float(value) else value


def _has_huge_float(value: Any) -> bool:
    """A float of 2**63 or more anywhere in ``value``: maybe an integer orjson could not
    hold as one (a float literal that large reads the same either way)."""
    kind = type(value)
    if kind is float:
        return abs(value) >= 9.2e18
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return False
    for item in value:
        kind = type(item)
        if (kind is float and abs(item) >= 9.2e18) or ((kind is dict or kind is list) and _has_huge_float(item)):
            return True
    return False


def judge_reply(url: str, sent: int, received: int, raw, text: str) -> Exchange:
    """Classify a raw reply frame: ok, or an error of a stated kind."""
    if isinstance(raw, bytes):
        return Exchange(url, sent, received, "error", "bad_reply", "binary frame instead of JSON text")
    try:
        reply = parse_reply(raw)
    except json.JSONDecodeError as exc:
        return Exchange(url, sent, received, "error", "bad_reply", f"reply is not JSON: {exc.msg}")
    except (ValueError, RecursionError) as exc:  # a number too long for int(), absurd nesting
        return Exchange(url, sent, received, "error", "bad_reply", f"unreadable JSON: {type(exc).__name__}")
    if not isinstance(reply, dict):
        return Exchange(url, sent, received, "error", "bad_reply", "reply is not a JSON object")
    if "original_message" in reply and reply["original_message"] != text:
        return Exchange(url, sent, received, "error", "mismatched_reply", "reply echoes a different message", reply)
    if reply.get("status") == "error":
        return Exchange(
            url,
            sent,
            received,
            "error",
            "server_error",
            str(reply.get("error") or "server replied status: error"),
            reply,
        )
    if not reply.keys() >= _REQUIRED:
        missing = [f for f in REQUIRED_FIELDS if f not in reply]
        return Exchange(url, sent, received, "error", "bad_reply", f"reply lacks {', '.join(missing)}", reply)
    if reply["status"] != "ok":
        return Exchange(url, sent, received, "error", "bad_reply", f"unknown status {reply.get('status')!r}", reply)
    # JSON numbers are exactly int or float (bool is neither type)
    bad = [f for f in _NUMBERS if type(reply[f]) is not int and type(reply[f]) is not float]
    if bad:
        return Exchange(url, sent, received, "error", "bad_reply", f"non-numeric {', '.join(bad)}", reply)
    problem = _figure_problem(reply)
    if problem:  # recorded without its figures: none of them is to be believed
        figures = {*_SIZES, "compression_ratio"}
        kept = {k: v for k, v in reply.items() if k not in figures}
        return Exchange(url, sent, received, "error", "bad_reply", problem, kept)
    return Exchange(url, sent, received, "ok", None, None, reply)


def _figure_problem(reply: dict) -> str | None:
    """What is wrong with a reply's figures, or None: sizes are whole numbers of bytes in
    0..MAX_SIZE, the ratio a finite number >= 0. A negative, NaN or infinite figure taken
    as ok would reach every ratio and the summary (a -45-byte message, -Infinity)."""
    for name in _SIZES:
        value = reply.get(name)
        if name == "codec_size" and value is None:
            continue  # optional: a server that does not say
        if type(value) is float and math.isfinite(value) and value.is_integer():
            value = int(value)  # 45.0: a whole number written as a float
        if type(value) is not int or not 0 <= value <= MAX_SIZE:
            return f"{name} must be a whole number of bytes in 0..{MAX_SIZE}, got {value!r}"
    ratio = reply["compression_ratio"]
    if (type(ratio) is float and not math.isfinite(ratio)) or ratio < 0:  # an int of any size is finite
        return f"compression_ratio must be a finite number >= 0, got {ratio!r}"
    return None
