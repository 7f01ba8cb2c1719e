"""Which minimum compression size pays? Replays a run's conversations through a codec
in-process, once per candidate threshold (``min_compression_size``, UTF-8 bytes), as the
server would have handled them at that threshold.

Each conversation (a user's messages, in turn order) goes through one connection, with
the codec's connection state as the server keeps it (``ConnectionStates``: one per
direction, ``wire.frames.direction_of`` the message's role), and each message through
the server's own reply function (``wire.protocol.compress_reply``: the threshold, the
round-trip check, the raw text where the codec's output grew). A stateful codec
(``deflate-stream``) compresses a message with what the earlier ones left in its
context, and a threshold changes what they left: hence one replay per threshold, not one
compression reused. At the run's own threshold a codec's ``overall_ratio`` is then the
run's (the same messages, the same contexts). ``lossy_messages`` counts the messages
whose round trip failed; ``safe_ratio`` counts them as sent raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ..codecs import CODECS, parse_codec
from ..codecs.base import ConnectionStates
from ..errors import InputError
from ..paths import scratch_cwd
from ..wire.frames import direction_of
from ..wire.protocol import UNCOMPRESSED, ServerStats, compress_reply
from .stats import divide

THRESHOLDS = range(20, 61, 5)
Conversations = list[list[tuple[str, str]]]  # per conversation: (role, text) in send order


def conversations_of(messages: pd.DataFrame | Sequence[str]) -> Conversations:
    """A run's messages as conversations: a trace frame's rows (one codec's) grouped by
    ``user_id`` in ``turn`` order, each with its ``role``; plain texts are each a
    conversation of one human message (no context carried over)."""
    if not isinstance(messages, pd.DataFrame):
        return [[("human", str(text))] for text in messages]
    rows = messages[messages["text"].notna()]
    order = [c for c in ("user_id", "turn") if c in rows]
    rows = rows.sort_values(order, kind="stable") if order else rows
    roles = rows["role"].astype(str) if "role" in rows else pd.Series("human", index=rows.index)
    users = rows["user_id"] if "user_id" in rows else pd.Series(range(len(rows)), index=rows.index)
    grouped: dict[object, list[tuple[str, str]]] = {}
    for user, role, text in zip(users, roles, rows["text"].astype(str)):
        grouped.setdefault(user, []).append((role, text))
    return list(grouped.values())


def _replay(conversations: Conversations, spec: str, threshold: int, **codec_options) -> dict:
    """The conversations through ``spec`` at ``threshold``, as the server handles them:
    the totals of one sweep row."""
    parsed = parse_codec(spec)
    original = sent = safe = compressed = lossy = messages = 0
    with scratch_cwd() as scratch:  # aura-compression writes its state into the working directory
        codec = parsed.build(**{**parsed.defaults(min_compression_size=threshold, workdir=str(scratch)),
                                **codec_options})  # fmt: skip
        stats = ServerStats()
        try:
            for conversation in conversations:
                states = ConnectionStates(codec)
                for role, text in conversation:
                    text = text.encode("utf-8", "replace").decode("utf-8")  # a text frame is valid UTF-8
                    reply = compress_reply(text, codec, states(direction_of(role)), stats, threshold)
                    size = reply["original_size"]
                    on_wire = reply.get("compressed_size", size) if reply["status"] == "ok" else size
                    lost = reply.get("roundtrip_ok") is not True
                    messages += 1
                    original += size
                    sent += on_wire
                    safe += size if lost else on_wire
                    lossy += lost
                    compressed += reply["status"] == "ok" and reply.get("method") != UNCOMPRESSED
        finally:
            codec.close()
    return {"messages": messages, "messages_compressed": compressed, "original_bytes": original,
            "sent_bytes": sent, "lossy_messages": lossy, "safe_bytes": safe}  # fmt: skip


def threshold_sweep(
    messages: pd.DataFrame | Sequence[str],
    codec_name: str,
    thresholds: Iterable[int] = THRESHOLDS,
    **codec_options,
) -> pd.DataFrame:
    """One row per threshold: threshold (bytes), messages, messages_compressed,
    uncompressed_share, original_bytes, sent_bytes, overall_ratio, lossy_messages (round
    trip failed) and safe_ratio (those counted as sent raw), from ``messages`` (a run's
    rows of one codec, or plain texts: ``conversations_of``) replayed at each threshold."""
    conversations = conversations_of(messages)
    rows = []
    for threshold in sorted(int(t) for t in thresholds):
        totals = _replay(conversations, codec_name, threshold, **codec_options)
        count = totals["messages"]
        rows.append(
            {
                "threshold": threshold,
                "messages": count,
                "messages_compressed": totals["messages_compressed"],
                "uncompressed_share": 1 - totals["messages_compressed"] / count if count else None,
                "original_bytes": totals["original_bytes"],
                "sent_bytes": totals["sent_bytes"],
                "overall_ratio": divide(totals["original_bytes"], totals["sent_bytes"]),
                "lossy_messages": totals["lossy_messages"],
                "safe_ratio": divide(totals["original_bytes"], totals["safe_bytes"]),
            }
        )
    return pd.DataFrame(rows)


def threshold_sweeps(
    messages: pd.DataFrame | Sequence[str], codecs: Iterable[str], thresholds: Iterable[int] = THRESHOLDS
) -> tuple[pd.DataFrame, list[str]]:
    """``threshold_sweep`` for each of a run's codecs that can be replayed here (a
    ``codec`` column), and the codecs left out (an external server's, ``peer``)."""
    thresholds = list(thresholds)
    frames, skipped = [], []
    for codec in codecs:
        if parse_codec_name(codec) in CODECS:
            frames.append(threshold_sweep(messages, codec, thresholds).assign(codec=codec))
        else:
            skipped.append(codec)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), skipped


def parse_codec_name(spec: str) -> str:
    """The registry name of a codec spec (``aura:templates=F`` -> ``aura``); the spec
    itself when it names no codec of ours."""
    try:
        return parse_codec(spec).name
    except InputError:  # an external server's label
        return spec
