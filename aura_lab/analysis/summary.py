"""The run summary: everything the peer printed, computed correctly, and more.

``summarise(df)`` works on the trace DataFrame of a run (main phase) and returns plain
JSON-able dicts, one per codec, and the verdict (``analysis.verdict``) over them.
Division by zero cannot happen: every ratio goes through ``stats.divide`` and an empty
selection says it is empty. A figure nobody measured is None (shown "not checked" or
"n/a"), never 0. The text form is ``analysis.text.format_summary``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import metrics
from .churn import churn_figures, first_filling
from .failures import FAILED_RAW_DEFINITION, failure_figures, with_failures_raw
from .stats import PERCENTILE_METHOD, divide, percentiles
from .verdict import verdict

LENGTH_BUCKETS = [
    (0, 50, "<50"),
    (50, 100, "50-100"),
    (100, 200, "100-200"),
    (200, 500, "200-500"),
    (500, 2000, "500-2000"),
    (2000, math.inf, "2000+"),
]
# the buckets of the peer's export (``compression.length_buckets``): ours up to 500 bytes,
# then one bucket for everything longer
PEER_LENGTH_BUCKETS = [*LENGTH_BUCKETS[:4], (500, math.inf, "500+")]
# sources whose text is real text (a corpus message, composed from corpus text, or
# replayed from logs) rather than synthesised from templates
TEXT_SOURCES = ("corpus", "answer", "paste", "replay")
TOP_TEMPLATES = 5  # templates listed as best and as worst (never the same one twice)
RANK_MIN_USES = 3  # templates used fewer times are left out of best and worst


def summarise(
    df: pd.DataFrame,
    phase: str | None = "main",
    primary_codec: str | None = None,
    *,
    slot_space: Mapping[int, int] | None = None,
    template_codecs: Iterable[str] | None = None,
    min_compression_size: int | None = None,
    n_boot: int = 1000,
) -> dict:
    """``{"codecs": {codec: {...}}, "verdict": {...}, "primary_codec": ..., "phase": ...,
    "empty": bool, ...}``.

    Every codec's ratios and byte totals are over the same messages: a message a codec
    failed on that another delivered counts for it as sent raw (``failures.with_failures_raw``).

    ``phase`` None takes every phase. ``primary_codec`` is the run's (``Manifest.primary_codec``); it comes first, the
    others in first-seen order (without it, the first codec seen). ``slot_space``
    (``{template_id: fillings available}``) lets churn be judged; ``template_codecs``
    names the codecs whose servers hold templates (their hit rate applies; None: a codec
    applies when it hit a template at least once); ``min_compression_size`` (bytes) is
    the servers' setting, which the verdict's threshold lever starts from."""
    frame = with_failures_raw(metrics.select(df, phase=phase) if len(df) else df)
    codecs = list(dict.fromkeys(frame["codec"].astype(str))) if len(frame) else []
    if primary_codec in codecs:
        codecs.remove(primary_codec)
        codecs.insert(0, primary_codec)
    with_templates = set(template_codecs) if template_codecs is not None else None
    summary: dict[str, Any] = {
        "phase": phase,
        "primary_codec": codecs[0] if codecs else primary_codec,
        "empty": len(frame) == 0,
        "percentile_method": PERCENTILE_METHOD,
        "hit_definition": metrics.HIT_DEFINITION,
        "loss_definition": metrics.LOSS_DEFINITION,
        "safe_ratio_definition": metrics.SAFE_RATIO_DEFINITION,
        "failed_raw_definition": FAILED_RAW_DEFINITION,
        "codecs": {
            codec: summarise_codec(
                metrics.select(frame, phase=None, codec=codec),
                slot_space=slot_space,
                has_templates=None if with_templates is None else codec in with_templates,
            )
            for codec in codecs
        },
    }
    summary["verdict"] = verdict(frame, summary, min_compression_size=min_compression_size, n_boot=n_boot)
    return summary


def summarise_codec(
    frame: pd.DataFrame, slot_space: Mapping[int, int] | None = None, has_templates: bool | None = None
) -> dict:
    """One codec's figures. ``has_templates``: whether its server holds templates (None:
    judged from the trace: any template hit)."""
    sent = int(frame["sent_at"].notna().sum())
    ok = metrics.select(frame, phase=None, ok=True)
    sized = metrics.sized(frame)
    start, end = frame["sent_at"].min(), frame["received_at"].max()
    duration = (end - start).total_seconds() if pd.notna(start) and pd.notna(end) else 0.0
    latency = ok["latency_ms"].dropna().to_numpy(dtype=float)
    original = int(sized["original_size"].sum())
    compressed = int(sized["compressed_size"].sum())
    loss = metrics.loss(frame)
    safe = metrics.safe_ratio(sized)
    hits = metrics.template_hits(ok)
    applies = bool(hits.any()) if has_templates is None else has_templates or bool(hits.any())
    checked = loss["checked"] > 0
    lossy = ok[metrics.roundtrip(ok).eq(False).fillna(False).to_numpy(bool)]
    return {
        "messages": len(frame),
        "sent": sent,
        "received": int(frame["received_at"].notna().sum()),
        "ok": len(ok),
        "duration_s": duration,
        "messages_per_second": divide(len(ok), duration),
        "delivered_rate": loss["delivered_share"],
        "lossless_rate": loss["lossless_share"],
        # delivered and known lossless, of every message: None unless every delivered
        # message was checked (it cannot read 100 % while messages are lost or unknown)
        "success_rate": divide(loss["lossless"], len(frame)) if loss["status"] == "checked" else None,
        "errors": int(len(frame) - len(ok)),
        "errors_by_kind": {str(k): int(v) for k, v in frame["error_kind"].dropna().astype(str).value_counts().items()},
        # the failed messages' bytes, and which of them count as sent raw in the ratios
        "failures": failure_figures(frame),
        "loss": loss,
        "lossy": loss["lossy"] > 0,
        "total_original_bytes": original,
        "total_compressed_bytes": compressed,
        "overall_ratio": metrics.overall_ratio(sized),
        "bandwidth_saved_percent": (1 - compressed / original) * 100 if original else None,
        "safe_ratio": safe,
        "safe_bandwidth_saved_percent": (1 - 1 / safe) * 100 if safe else None,
        "mean_message_ratio": metrics.mean_ratio(sized),
        "ratio_by_role": {role: metrics.overall_ratio(sized[sized["role"] == role]) for role in ("ai", "human")},
        "codec_ratio": metrics.codec_ratio(sized),
        "expanded_share": metrics.expanded_share(sized),
        "replies": _reply_figures(frame),
        "latency_ms": {
            "count": int(latency.size),
            "mean": float(latency.mean()) if latency.size else None,
            "min": float(latency.min()) if latency.size else None,
            "max": float(latency.max()) if latency.size else None,
            "stdev": float(latency.std(ddof=1)) if latency.size > 1 else None,
            **percentiles(latency),
        },
        "methods": {str(k): int(v) for k, v in metrics.methods(ok).dropna().value_counts().items()},
        "length_buckets": length_buckets(sized),
        "per_user_messages": _per_user(frame),
        "template_hit_rate_applies": applies,
        "template_hit_rate": metrics.template_hit_rate(ok) if applies else None,
        "template_precision": _template_precision(ok) if applies else None,
        # None (not 0) when nobody checked: "round-trip failures 0" would be a lie
        "roundtrip_failures": loss["lossy"] if checked else None,
        "roundtrip_checked": loss["checked"],
        "roundtrip_failures_by_method": {str(k): int(v) for k, v in lossy["method"].astype(str).value_counts().items()},
        "source_share": _source_share(frame),
        "templates": _template_figures(sized, slot_space),
        "reconnects": _per_user_total(frame, "reconnects"),
        "failovers": _per_user_total(frame, "failovers"),
        "servers": sorted(frame["server_url"].dropna().astype(str).unique().tolist()),
    }


def _reply_figures(frame: pd.DataFrame) -> dict | None:
    """Per streamed reply (None when no reply was streamed): counts, mean bytes and
    the ratio of each reply (sent over wire bytes), beside the per-frame figures."""
    table = metrics.replies(frame)
    if table.empty:
        return None
    known = table.dropna(subset=["wire_bytes"])
    frames = frame[frame["reply_id"].notna().to_numpy()]
    return {
        "replies": len(table),
        "frames": int(table["frames"].sum()),
        "frames_per_reply": float(table["frames"].mean()),
        "reply_bytes_mean": float(table["reply_bytes"].mean()),
        "sent_bytes_per_reply": float(known["sent_bytes"].mean()) if len(known) else None,
        "wire_bytes_per_reply": float(known["wire_bytes"].mean()) if len(known) else None,
        "ratio_per_reply_mean": float(known["ratio"].mean()) if len(known) else None,
        "ratio_per_reply_median": float(known["ratio"].median()) if len(known) else None,
        # the reply's own text over what it cost on the wire: what streaming costs
        "text_to_wire_ratio": metrics.ratio_of_sums(
            known["reply_bytes"].to_numpy(float), known["wire_bytes"].to_numpy(float)
        ),
        # per frame, what the codec made of it (below 1: it grew, whatever went on the wire)
        "frame_codec_ratio": metrics.codec_ratio(frames),
        "frames_expanded_share": metrics.expanded_share(frames),
    }


def _per_user_total(frame: pd.DataFrame, column: str) -> int:
    """Records carry each user's running count: the total is the sum of the maxima."""
    if not len(frame) or frame[column].isna().all():
        return 0
    return int(frame.groupby("user_id")[column].max().fillna(0).sum())


def length_buckets(sized: pd.DataFrame, buckets: Sequence[tuple[float, float, str]] = LENGTH_BUCKETS) -> list[dict]:
    """Per length bucket (UTF-8 bytes; ``buckets``: ``(low, high, label)``, low inclusive),
    over rows with sizes: messages, the bytes ratio (``ratio``: sum original / sum on the
    wire) and the mean of per-message ratios (``mean_ratio``: the peer's statistic, which
    its export writes per bucket of ``PEER_LENGTH_BUCKETS``)."""
    out = []
    for low, high, label in buckets:
        part = sized[(sized["length_bytes"] >= low) & (sized["length_bytes"] < high)]
        out.append(
            {
                "bucket": label,
                "messages": len(part),
                "ratio": metrics.overall_ratio(part),
                "mean_ratio": metrics.mean_ratio(part),
            }
        )
    return out


def _per_user(frame: pd.DataFrame) -> dict:
    counts = frame.groupby("user_id").size() if len(frame) else pd.Series(dtype=int)
    if counts.empty:
        return {"users": 0, "min": None, "median": None, "max": None}
    return {
        "users": int(counts.size),
        "min": int(counts.min()),
        "median": float(counts.median()),
        "max": int(counts.max()),
    }


def _template_precision(ok: pd.DataFrame) -> float | None:
    hit = ok[ok["server_template_id"].notna() & ok["template_id"].notna()]
    if hit.empty:
        return None
    same = [int(s) in set(map(int, ids)) for s, ids in zip(hit["server_template_id"], hit["template_ids"])]
    return float(np.mean(same))


def _source_share(frame: pd.DataFrame) -> dict:
    out = {}
    for role in ("ai", "human"):
        part = frame[frame["role"] == role]
        corpus = int(part["source"].isin(TEXT_SOURCES).sum())
        out[role] = {
            "messages": len(part),
            "corpus_share": divide(corpus, len(part)),
            "synthetic_share": divide(len(part) - corpus, len(part)),
        }
    return out


def _template_figures(sized: pd.DataFrame, slot_space: Mapping[int, int] | None, top: int = TOP_TEMPLATES) -> dict:
    """Per template used: uses, ratios, churn figures; the best and worst by overall
    ratio among templates used at least ``RANK_MIN_USES`` times (every template when
    none was), worst never repeating one of the best; the churn list, worst first."""
    used = sized[sized["template_id"].notna()]
    empty = {"count": 0, "top": [], "bottom": [], "low_diversity": [], "churn_checked": slot_space is not None}
    if used.empty:
        return empty
    rows: list[dict[str, Any]] = []
    for tid, part in used.groupby("template_id", observed=True):
        uses = len(part)
        available = None if slot_space is None else slot_space.get(int(tid))
        rows.append(
            {
                "template_id": int(tid),
                "uses": uses,
                "overall_ratio": metrics.overall_ratio(part),
                "mean_ratio": float(part["ratio"].mean()),
                "fillings_available": available,
                **churn_figures(map(first_filling, part["slot_values"]), uses, available),
            }
        )
    rows.sort(key=lambda r: (-(r["overall_ratio"] or 0), r["template_id"]))
    ranked = [r for r in rows if r["uses"] >= RANK_MIN_USES] or rows
    best = ranked[:top]
    shown = {r["template_id"] for r in best}
    churn = [r for r in rows if r["low_diversity"]]
    churn.sort(key=lambda r: (r["diversity_vs_uniform"], -r["uses"], r["template_id"]))
    return {
        "count": len(rows),
        "ranked_min_uses": RANK_MIN_USES if ranked is not rows else 1,
        "top": best,
        "bottom": [r for r in ranked[::-1] if r["template_id"] not in shown][:top],
        "low_diversity": churn,
        "churn_checked": slot_space is not None,
    }
