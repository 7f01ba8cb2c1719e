"""The one definition of each figure aura-lab reports, and of the rows it is over.

Row selectors: ``select(df, phase=, codec=, ok=)``; the figures: overall ratio (sum of
original bytes / sum of bytes on the wire), mean ratio (mean of per-message ratios),
template hit rate, error rate, UNCOMPRESSED share. Each figure has a kernel on plain
arrays (the bootstrap in ``compare`` calls those thousands of times) and a DataFrame
form; both give ``None`` for an empty selection, never a division by zero.

Template hit: a message hit a template when the server says it encoded it with one:
its reply carried a template id, or its method is BINARY_SEMANTIC. For AURA's
compressor the two are the same messages (it reports a template id exactly for
BINARY_SEMANTIC); the method is the only sign in the peer's own traces, which have no
template id column. The share is over successful replies.

Loss: a delivered message (``status: ok``) is *lossless* when
``decompress(compress(m)) == m`` was checked and held, *lossy* when it was checked and
failed, *unchecked* when nobody checked (a server that does not report round trips, and
no ``--verify``). The *safe ratio* is what a safe deployment would get: sum of original
bytes / sum of bytes on the wire, a lossy message counted as sent raw, as is a failed one (``analysis.failures``);
it is unknown (``None``, "not checked") unless every sized message was checked.

Wire ratio: the overall ratio of whole WebSocket frames, each size plus its frame
header (``wire.frames``: 2-10 bytes, and a 4-byte mask on what a client sends), so a
short message's saving is seen as the network sees it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..wire.frames import client_sent, header_sizes
from ..wire.protocol import TEMPLATE_METHOD, UNCOMPRESSED

__all__ = [
    "HIT_DEFINITION",
    "LOSS_DEFINITION",
    "NOT_CHECKED",
    "SAFE_RATIO_DEFINITION",
    "TEMPLATE_METHOD",
    "UNCOMPRESSED",
    "behind_schedule",
    "client_load",
    "codec_ratio",
    "error_rate",
    "expanded_share",
    "framed",
    "is_ok",
    "loss",
    "lossy_flags",
    "mean_ratio",
    "methods",
    "overall_ratio",
    "ratio_of_sums",
    "replies",
    "roundtrip",
    "safe_ratio",
    "safe_ratio_of_sums",
    "select",
    "send_lateness",
    "sized",
    "template_hit_rate",
    "template_hits",
    "uncompressed_share",
    "wire_ratio",
]

HIT_DEFINITION = "the server reported a template id, or the method is BINARY_SEMANTIC"
LOSS_DEFINITION = (
    "lossless: decompress(compress(m)) == m was checked and held; lossy: checked and failed; "
    "unchecked: nobody checked (the server does not report it and --verify was not given)"
)
SAFE_RATIO_DEFINITION = "original bytes / bytes on the wire, a lossy or failed message counted as sent raw"
WIRE_RATIO_DEFINITION = (
    "(original bytes + frame headers) / (bytes on the wire + frame headers); RFC 6455 headers: 2 bytes up to "
    "125, 4 up to 65535, else 10, plus a 4-byte mask on a client's frame (a human's message)"
)
NOT_CHECKED = "not checked"  # how every figure nobody measured is shown: never as 0
COUNTED_RAW = "counted_raw"  # a column: the row is a failed message counted as sent raw (analysis.failures)


# -- row selectors ------------------------------------------------------------------------


def is_ok(df: pd.DataFrame) -> pd.Series:
    """True for rows whose reply was ``status: ok`` (False for errors and missing status)."""
    return df["status"].astype("string").eq("ok").fillna(False).astype(bool)


def select(df: pd.DataFrame, *, phase: str | None = "main", codec: str | None = None, ok: bool = False) -> pd.DataFrame:
    """The rows of one phase (``None``: every phase), one codec (``None``: every codec),
    and only successful replies when ``ok``."""
    keep = pd.Series(True, index=df.index)
    if phase is not None and "phase" in df:
        keep &= df["phase"].astype("string").eq(phase).fillna(False)
    if codec is not None:
        keep &= df["codec"].astype("string").eq(codec).fillna(False)
    if ok:
        keep &= is_ok(df)
    return df[keep.to_numpy()]


def sized(df: pd.DataFrame) -> pd.DataFrame:
    """Successful rows that carry both sizes, and failed ones ``COUNTED_RAW``: the rows every ratio is over."""
    keep = is_ok(df).to_numpy() & df["original_size"].notna().to_numpy() & df["compressed_size"].notna().to_numpy()
    return df[keep | np.asarray(df.get(COUNTED_RAW, False), bool)]


def methods(df: pd.DataFrame) -> pd.Series:
    """The method of each row, upper-case (servers spell it either way)."""
    return df["method"].astype("string").str.upper()


# -- kernels on arrays ----------------------------------------------------------------------


def ratio_of_sums(original: np.ndarray, compressed: np.ndarray) -> float | None:
    """sum(original) / sum(compressed) over the pairs where both are known."""
    original = np.asarray(original, dtype=float)
    compressed = np.asarray(compressed, dtype=float)
    known = ~(np.isnan(original) | np.isnan(compressed))
    denominator = compressed[known].sum()
    return float(original[known].sum() / denominator) if denominator else None


def safe_ratio_of_sums(original: np.ndarray, compressed: np.ndarray, lossy: np.ndarray) -> float | None:
    """sum(original) / sum(wire), where a lossy message's wire size is its original size
    (a safe sender would have sent it raw). ``lossy`` is 1.0 / 0.0, NaN when unchecked:
    any unchecked pair makes the figure unknown (None)."""
    original = np.asarray(original, dtype=float)
    compressed = np.asarray(compressed, dtype=float)
    lossy = np.asarray(lossy, dtype=float)
    known = ~(np.isnan(original) | np.isnan(compressed))
    if np.isnan(lossy[known]).any():
        return None
    wire = np.where(lossy[known] > 0, original[known], compressed[known])
    total = wire.sum()
    return float(original[known].sum() / total) if total else None


def mean_of(values: np.ndarray) -> float | None:
    """The mean of the known values; None when there are none."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


# -- figures over a DataFrame ---------------------------------------------------------------


def overall_ratio(df: pd.DataFrame) -> float | None:
    """Sum of original bytes / sum of bytes on the wire, over successful replies."""
    rows = sized(df)
    return ratio_of_sums(rows["original_size"].to_numpy(float), rows["compressed_size"].to_numpy(float))


def mean_ratio(df: pd.DataFrame) -> float | None:
    """Mean of the per-message ratios, over successful replies and ``COUNTED_RAW`` ones (the peer's "mean ratio")."""
    rows = df[is_ok(df).to_numpy() | np.asarray(df.get(COUNTED_RAW, False), bool)]
    return mean_of(pd.to_numeric(rows["ratio"], errors="coerce").to_numpy(float, na_value=np.nan))


def template_hits(df: pd.DataFrame) -> pd.Series:
    """True for each row that hit a template (see the module's note)."""
    hit = methods(df).eq(TEMPLATE_METHOD).fillna(False)
    if "server_template_id" in df:
        hit = hit | df["server_template_id"].notna()
    return hit.astype(bool)


def template_hit_rate(df: pd.DataFrame) -> float | None:
    """Share of successful replies that hit a template."""
    ok = df[is_ok(df).to_numpy()]
    return float(template_hits(ok).mean()) if len(ok) else None


def error_rate(df: pd.DataFrame) -> float | None:
    """Share of rows whose reply was not ``ok``."""
    return float(1 - is_ok(df).mean()) if len(df) else None


def uncompressed_share(df: pd.DataFrame) -> float | None:
    """Share of successful replies sent UNCOMPRESSED."""
    ok = df[is_ok(df).to_numpy()]
    return float(methods(ok).eq(UNCOMPRESSED).fillna(False).mean()) if len(ok) else None


def framed(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``original_size`` and ``compressed_size`` each grown by the header of
    its WebSocket frame (``wire.frames``; the direction from ``role``): the sizes the
    network carries. Every figure of sizes, over these rows, is a figure on the wire."""
    roles = df["role"] if "role" in df else pd.Series(None, index=df.index)
    masked = client_sent(roles.astype("string").fillna("").to_numpy())
    out = df.copy()
    for column in ("original_size", "compressed_size"):
        sizes = pd.to_numeric(df[column], errors="coerce").to_numpy(float, na_value=np.nan)
        out[column] = sizes + header_sizes(sizes, masked)
    return out


def wire_ratio(df: pd.DataFrame) -> float | None:
    """The overall ratio of whole frames (sizes plus frame headers), over successful replies."""
    rows = framed(sized(df))
    return ratio_of_sums(rows["original_size"].to_numpy(float), rows["compressed_size"].to_numpy(float))


# -- loss ---------------------------------------------------------------------------------


def roundtrip(df: pd.DataFrame) -> pd.Series:
    """``roundtrip_ok`` as a nullable boolean (null: nobody checked)."""
    if "roundtrip_ok" not in df:
        return pd.Series(pd.NA, index=df.index, dtype="boolean")
    return df["roundtrip_ok"].astype("boolean")


def loss(df: pd.DataFrame) -> dict:
    """Counts over the rows given: ``messages``, ``delivered`` (ok replies), and among the
    delivered ``lossless``, ``lossy``, ``unchecked``, ``checked``; ``checked_by``
    (``{"server": n, "client": n}``); ``status``: "checked", "partly checked" or
    "not checked"; ``delivered_share`` (of messages) and ``lossless_share`` (of checked;
    None when nothing was checked, never 0)."""
    ok = df[is_ok(df).to_numpy()]
    said = roundtrip(ok)
    lossless, lossy = int(said.eq(True).sum()), int(said.eq(False).sum())
    checked = lossless + lossy
    by: dict[str, int] = {}
    if "roundtrip_by" in ok and checked:
        counts = ok.loc[said.notna().to_numpy(), "roundtrip_by"].astype("string").fillna("server").value_counts()
        by = {str(k): int(v) for k, v in counts.items()}
    unchecked = len(ok) - checked
    status = "checked" if not unchecked else NOT_CHECKED if not checked else "partly checked"
    return {
        "messages": len(df),
        "delivered": len(ok),
        "lossless": lossless,
        "lossy": lossy,
        "unchecked": unchecked,
        "checked": checked,
        "checked_by": by,
        "status": status,
        "delivered_share": float(len(ok) / len(df)) if len(df) else None,
        "lossless_share": float(lossless / checked) if checked else None,
    }


def lossy_flags(df: pd.DataFrame) -> np.ndarray:
    """Per row: 1.0 lossy, 0.0 lossless, NaN unchecked (the kernels' form)."""
    said = roundtrip(df)
    return (~said).astype("Float64").to_numpy(float, na_value=np.nan)


def safe_ratio(df: pd.DataFrame) -> float | None:
    """The safe ratio over successful replies with sizes (see the module's note); None
    when some of them were not checked."""
    rows = sized(df)
    return safe_ratio_of_sums(
        rows["original_size"].to_numpy(float), rows["compressed_size"].to_numpy(float), lossy_flags(rows)
    )


# -- what the codec itself produced, and streamed replies -----------------------------------


def codec_ratio(df: pd.DataFrame) -> float | None:
    """Sum of original bytes / sum of the codec's own output, over successful replies
    where the codec was called (``codec_size`` known). Below 1 the codec expanded the
    traffic, even where the server sent the raw text instead (the wire ratio says 1.0)."""
    if "codec_size" not in df:
        return None
    rows = sized(df).dropna(subset=["codec_size"])
    return ratio_of_sums(rows["original_size"].to_numpy(float), rows["codec_size"].to_numpy(float))


def expanded_share(df: pd.DataFrame) -> float | None:
    """Share of successful replies, among those where the codec was called, whose codec
    output was larger than the message."""
    if "codec_size" not in df:
        return None
    rows = sized(df).dropna(subset=["codec_size"])
    return float((rows["codec_size"] > rows["original_size"]).mean()) if len(rows) else None


def replies(df: pd.DataFrame) -> pd.DataFrame:
    """One row per streamed reply (rows carrying a ``reply_id``) of one codec: frames
    sent, frames answered ok with sizes, the reply's own text (bytes), bytes sent
    (envelopes and resent text included), bytes on the wire, and its ratio
    (sent / wire, over its sized frames)."""
    columns = ["reply_id", "frames", "frames_ok", "reply_bytes", "sent_bytes", "wire_bytes", "ratio"]
    if "reply_id" not in df or not df["reply_id"].notna().any():
        return pd.DataFrame(columns=columns)
    framed = df[df["reply_id"].notna().to_numpy()]
    ok = sized(framed)
    table = framed.groupby("reply_id", observed=True).agg(
        frames=("reply_id", "size"), reply_bytes=("message_bytes", "first")
    )
    sums = ok.groupby("reply_id", observed=True).agg(
        frames_ok=("reply_id", "size"), sent_bytes=("original_size", "sum"), wire_bytes=("compressed_size", "sum")
    )
    table = table.join(sums, how="left").fillna({"frames_ok": 0})
    with np.errstate(divide="ignore", invalid="ignore"):
        table["ratio"] = (table["sent_bytes"] / table["wire_bytes"]).where(table["wire_bytes"] > 0)
    return table.reset_index()[columns]


# The client's process at this share of one core over the main phase was saturated: its
# asyncio loop (one thread) had no idle time, so replies waited in its queue before being
# timestamped, and latencies include the client's own queueing.
CLIENT_SATURATED_SHARE = 0.9


def client_load(cpu_s: float, wall_s: float, messages: int, cores: int = 1) -> dict:
    """The client's own cost over a phase: CPU seconds of its process (``process_time``)
    and wall seconds, per message in microseconds; ``cpu_share`` is CPU over wall per
    core the client can use (one: the event loop is one thread); ``saturated`` when it
    reaches ``CLIENT_SATURATED_SHARE``. Per-message figures are None without messages."""
    share = cpu_s / wall_s / cores if wall_s > 0 else None
    return {
        "messages": messages,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "cpu_us_per_message": cpu_s / messages * 1e6 if messages else None,
        "wall_us_per_message": wall_s / messages * 1e6 if messages else None,
        "cpu_share": share,
        "saturated": share is not None and messages > 0 and share >= CLIENT_SATURATED_SHARE,
    }


def send_lateness(df: pd.DataFrame) -> dict | None:
    """How late the sends of an open loop were: ``sent_at - scheduled_at`` in ms over the
    messages (first frames) that were sent, p50 / p99 / max (linear interpolation;
    negative when sent early: uvloop's timers have a millisecond's grain);
    ``pace``: the schedule's span (first to last scheduled send) over the sends' span (first
    scheduled to last sent), 1.0 when the last send kept its time; and ``after_reply_p50`` /
    ``after_reply_p99``: lateness counted from the user's previous reply when that came
    after the schedule, ``sent_at - max(scheduled_at, previous received_at)``. A user sends
    its next message only after the reply to the one before, so a send is also late when
    that reply came late (the server's, the network's or the client's doing); the client's
    own part lies between the two figures: a reply that waited in the socket while the
    client was busy is stamped when the client reads it, so that wait counts as the
    reply's. Over the sends whose previous exchange (if any) has a reply (after a timeout
    or a lost connection the wait is not known). With several codecs the rows given are
    one codec's: the wait for the others' replies counts as lateness after the reply.
    None when no row has both times (a closed loop schedules at the send)."""
    if df.empty or "scheduled_at" not in df:
        return None
    firsts = df["frame_index"].isna() | (df["frame_index"] == 0) if "frame_index" in df else None
    rows = df[firsts] if firsts is not None else df
    rows = rows[rows["sent_at"].notna() & rows["scheduled_at"].notna()]
    if rows.empty:
        return None
    ms = (rows["sent_at"] - rows["scheduled_at"]).dt.total_seconds().to_numpy(dtype=float) * 1000
    first = rows["scheduled_at"].min()
    scheduled_span = (rows["scheduled_at"].max() - first).total_seconds()
    sent_span = (rows["sent_at"].max() - first).total_seconds()
    after = _after_reply_lateness(df, firsts)
    return {
        "count": int(ms.size),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "pace": scheduled_span / sent_span if sent_span > 0 else None,
        "after_reply_p50": float(np.percentile(after, 50)) if after is not None and after.size else None,
        "after_reply_p99": float(np.percentile(after, 99)) if after is not None and after.size else None,
    }


def _after_reply_lateness(df: pd.DataFrame, firsts: pd.Series | None) -> np.ndarray | None:
    """``sent_at - max(scheduled_at, previous reply)`` in ms, per user in send order (every
    frame counts as an exchange; the lateness is over first frames); see ``send_lateness``."""
    if "user_id" not in df or "received_at" not in df:
        return None
    sent = df[df["sent_at"].notna()]
    order = sent.sort_values(["user_id", "sent_at"], kind="stable")
    by_user = order.groupby("user_id", sort=False)
    previous = by_user["received_at"].shift(1)
    known = previous.notna() | (by_user.cumcount() == 0)  # a reply before, or no exchange before
    keep = known & order["scheduled_at"].notna()
    if firsts is not None:
        keep &= firsts.loc[order.index]
    start = order["scheduled_at"].where(~(previous > order["scheduled_at"]), previous)
    return (order["sent_at"] - start)[keep].dt.total_seconds().to_numpy(dtype=float) * 1000


BEHIND_PACE = 0.9  # sends that took over 1/BEHIND_PACE of the schedule's span fell behind
TIMER_GRAIN_MS = 1.0  # epoll waits whole ms (asyncio rounds up; uvloop wakes ~1 ms early or late)


def behind_schedule(lateness: dict | None, arrival_rate: float | None) -> bool:
    """An open loop fell behind its schedule when its sends queued up: half of them were
    late by more than the mean interval between a user's sends (``1 / arrival_rate``
    seconds) and by more than the timers' grain (one user at 3,500 messages a second has a
    mean interval of 0.29 ms, which no event loop's timer keeps), or its sends took more
    than 1/0.9 of its schedule's span (``pace`` under ``BEHIND_PACE``). Latencies
    (counted from the schedule) then include that wait."""
    if not lateness or not arrival_rate:
        return False
    pace = lateness.get("pace")
    late = lateness["p50"] > max(1000 / arrival_rate, TIMER_GRAIN_MS)
    return late or (pace is not None and pace < BEHIND_PACE)
