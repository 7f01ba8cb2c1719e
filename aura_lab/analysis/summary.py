"""The run summary: everything the peer printed, computed correctly, and more.

``summarise(df)`` works on the trace DataFrame of a run (main phase) and returns plain
JSON-able dicts, one per codec. Division by zero cannot happen: every ratio goes through
``stats.safe_ratio`` and an empty selection says it is empty.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from . import metrics
from .stats import PERCENTILE_METHOD, percentiles, safe_ratio

LENGTH_BUCKETS = [
    (0, 50, "<50"),
    (50, 100, "50-100"),
    (100, 200, "100-200"),
    (200, 500, "200-500"),
    (500, 2000, "500-2000"),
    (2000, math.inf, "2000+"),
]
# sources whose text is real text (a corpus message, composed from corpus text, or
# replayed from logs) rather than synthesised from templates
TEXT_SOURCES = ("corpus", "answer", "paste", "replay")
# The peer's churn rule: a template used more than CHURN_MIN_USES times whose slot
# fillings repeat (diversity below CHURN_MIN_DIVERSITY) is flagged
CHURN_MIN_USES = 3
CHURN_MIN_DIVERSITY = 0.6


def first_filling(slot_values) -> tuple[str, ...]:
    """The slot values of a message's first template, as a hashable tuple (empty for a
    corpus message or a template without slots)."""
    if slot_values is None or len(slot_values) == 0 or slot_values[0] is None:
        return ()
    return tuple(str(v) for v in slot_values[0])


def slot_diversity(fillings, uses: int) -> float | None:
    """Distinct fillings / uses; None for a template without slots (nothing to vary)."""
    distinct = {f for f in fillings if f}
    return len(distinct) / uses if distinct and uses else None


def is_churn(uses: int, diversity: float | None) -> bool:
    return diversity is not None and uses > CHURN_MIN_USES and diversity < CHURN_MIN_DIVERSITY


def summarise(df: pd.DataFrame, phase: str = "main", primary_codec: str | None = None) -> dict:
    """``{"codecs": {codec: {...}}, "primary_codec": ..., "phase": ..., "empty": bool}``.

    ``primary_codec`` is the run's (``Manifest.primary_codec``); it comes first, the
    others in first-seen order. Without it, the first codec seen is taken."""
    frame = metrics.select(df, phase=phase) if len(df) else df
    codecs = list(dict.fromkeys(frame["codec"].astype(str))) if len(frame) else []
    if primary_codec in codecs:
        codecs.remove(primary_codec)
        codecs.insert(0, primary_codec)
    return {
        "phase": phase,
        "primary_codec": codecs[0] if codecs else primary_codec,
        "empty": len(frame) == 0,
        "percentile_method": PERCENTILE_METHOD,
        "hit_definition": metrics.HIT_DEFINITION,
        "codecs": {codec: summarise_codec(metrics.select(frame, phase=None, codec=codec)) for codec in codecs},
    }


def summarise_codec(frame: pd.DataFrame) -> dict:
    sent = int(frame["sent_at"].notna().sum())
    ok = metrics.select(frame, phase=None, ok=True)
    sized = metrics.sized(frame)
    start, end = frame["sent_at"].min(), frame["received_at"].max()
    duration = (end - start).total_seconds() if pd.notna(start) and pd.notna(end) else 0.0
    latency = ok["latency_ms"].dropna().to_numpy(dtype=float)
    original = int(sized["original_size"].sum())
    compressed = int(sized["compressed_size"].sum())
    overall = metrics.overall_ratio(sized)
    return {
        "messages": len(frame),
        "sent": sent,
        "received": int(frame["received_at"].notna().sum()),
        "ok": len(ok),
        "duration_s": duration,
        "messages_per_second": safe_ratio(len(ok), duration),
        "success_rate": safe_ratio(len(ok), len(frame)),
        "errors": int(len(frame) - len(ok)),
        "errors_by_kind": {str(k): int(v) for k, v in frame["error_kind"].dropna().astype(str).value_counts().items()},
        "total_original_bytes": original,
        "total_compressed_bytes": compressed,
        "overall_ratio": overall,
        "bandwidth_saved_percent": (1 - compressed / original) * 100 if original else None,
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
        "template_hit_rate": metrics.template_hit_rate(ok),
        "template_precision": _template_precision(ok),
        "roundtrip_failures": int((ok["roundtrip_ok"] == False).sum()),  # noqa: E712 - nullable boolean
        "roundtrip_checked": int(ok["roundtrip_ok"].notna().sum()),
        "roundtrip_failures_by_method": {
            str(k): int(v)
            for k, v in ok[ok["roundtrip_ok"] == False]["method"].astype(str).value_counts().items()  # noqa: E712
        },
        "source_share": _source_share(frame),
        "templates": _template_figures(sized),
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


def length_buckets(sized: pd.DataFrame) -> list[dict]:
    """Messages and bytes ratio per length bucket (UTF-8 bytes), over rows with sizes."""
    out = []
    for low, high, label in LENGTH_BUCKETS:
        part = sized[(sized["length_bytes"] >= low) & (sized["length_bytes"] < high)]
        out.append({"bucket": label, "messages": len(part), "ratio": metrics.overall_ratio(part)})
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
            "corpus_share": safe_ratio(corpus, len(part)),
            "synthetic_share": safe_ratio(len(part) - corpus, len(part)),
        }
    return out


def _template_figures(sized: pd.DataFrame, top: int = 5) -> dict:
    used = sized[sized["template_id"].notna()]
    if used.empty:
        return {"count": 0, "top": [], "bottom": [], "low_diversity": []}
    rows: list[dict[str, Any]] = []
    for tid, part in used.groupby("template_id", observed=True):
        uses = len(part)
        diversity = slot_diversity(map(first_filling, part["slot_values"]), uses)
        rows.append(
            {
                "template_id": int(tid),
                "uses": uses,
                "overall_ratio": metrics.overall_ratio(part),
                "mean_ratio": float(part["ratio"].mean()),
                "slot_diversity": diversity,
            }
        )
    rows.sort(key=lambda r: (-(r["overall_ratio"] or 0), r["template_id"]))
    ranked = [r for r in rows if r["uses"] >= CHURN_MIN_USES] or rows
    return {
        "count": len(rows),
        "top": ranked[:top],
        "bottom": ranked[::-1][:top],
        "low_diversity": [r for r in rows if is_churn(r["uses"], r["slot_diversity"])],
    }


def _fmt(value, spec: str = ".2f", suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{spec}}{suffix}"


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def format_summary(summary: dict, title: str = "") -> str:
    """The summary as text, codecs side by side."""
    codecs = summary["codecs"]
    if summary.get("empty") or not codecs:
        return f"{title}\nThe run is empty: no {summary.get('phase', 'main')} messages were recorded.".strip()
    names = list(codecs)
    width = max(14, *(len(n) + 2 for n in names))
    lines = [title] if title else []
    if summary.get("traffic"):
        lines.append(f"traffic: {summary['traffic']}")

    def row(label, getter, spec=".2f", suffix=""):
        cells = [_fmt(getter(codecs[n]), spec, suffix) for n in names]
        lines.append(f"{label:<28}" + "".join(f"{c:>{width}}" for c in cells))

    lines.append(f"{'':<28}" + "".join(f"{n:>{width}}" for n in names))
    row("messages (sent)", lambda c: c["sent"], "d")
    row("replies ok", lambda c: c["ok"], "d")
    row("errors", lambda c: c["errors"], "d")
    row("success", lambda c: None if c["success_rate"] is None else c["success_rate"] * 100, ".1f", "%")
    row("duration", lambda c: c["duration_s"], ".1f", " s")
    row("messages/s", lambda c: c["messages_per_second"], ".1f")
    row("original bytes", lambda c: c["total_original_bytes"], "d")
    row("compressed bytes", lambda c: c["total_compressed_bytes"], "d")
    row("overall ratio", lambda c: c["overall_ratio"], ".3f")
    row("bandwidth saved", lambda c: c["bandwidth_saved_percent"], ".1f", "%")
    row("ratio, AI messages", lambda c: c["ratio_by_role"]["ai"], ".3f")
    row("ratio, human messages", lambda c: c["ratio_by_role"]["human"], ".3f")
    row(
        "template hit rate",
        lambda c: None if c["template_hit_rate"] is None else c["template_hit_rate"] * 100,
        ".1f",
        "%",
    )
    row(
        "template precision",
        lambda c: None if c["template_precision"] is None else c["template_precision"] * 100,
        ".1f",
        "%",
    )
    row("round-trip failures", lambda c: c["roundtrip_failures"], "d")
    if any(c.get("codec_ratio") is not None for c in codecs.values()):
        row("codec output ratio", lambda c: c.get("codec_ratio"), ".3f")
        row("codec output grew", lambda c: _percent(c.get("expanded_share")), ".1f", "%")
    for key in ("mean", "p50", "p90", "p95", "p99", "p99.9", "max"):
        row(f"latency {key}", lambda c, k=key: c["latency_ms"][k], ".2f", " ms")
    for bucket in range(len(LENGTH_BUCKETS)):
        label = LENGTH_BUCKETS[bucket][2]
        row(f"ratio {label} bytes", lambda c, b=bucket: c["length_buckets"][b]["ratio"], ".3f")
    if any(c.get("replies") for c in codecs.values()):
        for label, key, spec in (
            ("streamed replies", "replies", "d"),
            ("frames per reply", "frames_per_reply", ".1f"),
            ("reply text bytes (mean)", "reply_bytes_mean", ".0f"),
            ("bytes sent per reply", "sent_bytes_per_reply", ".0f"),
            ("wire bytes per reply", "wire_bytes_per_reply", ".0f"),
            ("ratio per reply (median)", "ratio_per_reply_median", ".3f"),
            ("reply text / wire bytes", "text_to_wire_ratio", ".3f"),
            ("codec output ratio, frames", "frame_codec_ratio", ".3f"),
        ):
            row(label, lambda c, k=key: (c.get("replies") or {}).get(k), spec)
    lines.append(
        f"latency percentiles: {summary.get('percentile_method', PERCENTILE_METHOD)}; "
        "latency counts from the send (closed loop) or the scheduled send (open loop)"
    )
    primary = summary.get("primary_codec") if summary.get("primary_codec") in codecs else names[0]
    first = codecs[primary]
    lines.append("")
    for name in names:
        c = codecs[name]
        methods = ", ".join(f"{m} {n}" for m, n in c["methods"].items()) or "-"
        lines.append(f"[{name}] methods: {methods}")
        if c["errors_by_kind"]:
            lines.append(f"[{name}] errors: " + ", ".join(f"{k} {v}" for k, v in c["errors_by_kind"].items()))
        if c["roundtrip_failures"]:
            by = ", ".join(f"{m} {n}" for m, n in c["roundtrip_failures_by_method"].items())
            lines.append(
                f"[{name}] LOSSY: {c['roundtrip_failures']} of {c['roundtrip_checked']} messages did not "
                f"survive decompress(compress(m)) == m ({by})"
            )
    shares = first["source_share"]
    lines.append(
        "corpus share: "
        + ", ".join(
            f"{role} {_fmt(_percent(s['corpus_share']), '.0f', '%')} of {s['messages']}" for role, s in shares.items()
        )
    )
    users = first["per_user_messages"]
    lines.append(
        f"users: {users['users']}, messages per user min {users['min']} median {users['median']} max {users['max']}; "
        f"reconnects {first['reconnects']}, failovers {first['failovers']}"
    )
    templates = first["templates"]
    if templates["count"]:
        lines.append(f"templates used: {templates['count']} ({primary})")
        for label in ("top", "bottom"):
            items = ", ".join(
                f"#{t['template_id']} {_fmt(t['overall_ratio'], '.2f')} ({t['uses']})" for t in templates[label]
            )
            lines.append(f"  {label}: {items}")
        for t in templates["low_diversity"]:
            lines.append(
                f"  churn warning: template #{t['template_id']} used {t['uses']} times with slot diversity "
                f"{t['slot_diversity']:.2f} (< {CHURN_MIN_DIVERSITY})"
            )
    return "\n".join(lines)
