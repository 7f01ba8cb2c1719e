"""The peer's export JSON, both ways: ``peer_export(run)`` writes a run's figures under
the peer's keys (docs/formats.md), and ``summary_from_export(export)`` reads an export
back as a summary of aura-lab's shape, so every table and comparison takes it.

Under the peer's keys aura-lab writes what the peer writes, with the peer's type and the
peer's statistic, so a script written for the peer's files reads ours unchanged:
``compression.length_buckets`` a float per bucket (the mean of per-message ratios,
empty buckets left out), ``latencies.p95_ms`` and ``p99_ms`` as ``sorted[int(n * q)]``,
``config.warmup`` a boolean, ``timestamp`` the local end time without a zone. aura-lab's
own figures go under its own keys (``aura_lab``, and the added keys of docs/formats.md),
each labelled with its method.

An export holds totals and point figures only: a summary read from the peer's export
says "not checked" or "-" for everything else, and has no verdict (a verdict needs
intervals, and an interval needs per-message records).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from ..traces.peer import Export
from ..wire.labels import from_methods
from . import metrics
from .failures import with_failures_raw
from .stats import PEER_PERCENTILE_METHOD, PERCENTILE_METHOD, peer_percentile
from .summary import PEER_LENGTH_BUCKETS, length_buckets

BUCKET_RATIO_METHOD = "sum of original bytes / sum of bytes on the wire, over the bucket's messages"
PEER_BUCKET_METHOD = (
    "mean of the per-message ratios of the bucket's messages; the peer's buckets (<50, 50-100, 100-200, 200-500, "
    "500+ bytes); empty buckets left out"
)
EXPORT_PERCENTILES = "p95 and p99: " + PEER_PERCENTILE_METHOD + "; median: the middle value"
NO_VERDICT = (
    "No verdict: an export holds totals only, and a verdict needs per-message records (its intervals are over "
    "conversations)."
)


def peer_export(run: Any) -> dict:
    """The peer's export JSON for the run's primary codec (``run``: an
    ``analysis.run.Run``), extended with what the peer left out: seed, every option,
    corpus and metadata hashes, per-template performance, every codec's summary, and
    aura-lab's own percentiles and bucket ratios under ``aura_lab``."""
    summary, manifest = run.summary, run.manifest
    codecs = summary["codecs"]
    primary = codecs.get(run.primary_codec) if run.primary_codec else None
    options = manifest.options
    export: dict[str, Any] = {
        "timestamp": local_time(manifest.ended_at or manifest.started_at),
        "config": {
            "num_users": options.get("users"),
            "server_url": manifest.servers[0].url if manifest.servers else None,
            "warmup": bool(options.get("warmup_messages")),
            "warmup_messages": options.get("warmup_messages"),
            "seed": manifest.seed,
            "options": options,
            "files": manifest.files,
        },
        "run_id": manifest.run_id,
        "status": manifest.status,
    }
    if primary is None:
        export["summary"] = {"total_messages": 0, "empty": True}
        return export
    lat = primary["latency_ms"]
    loss = primary["loss"]
    export["summary"] = {
        "total_time": primary["duration_s"],
        "total_messages": primary["messages"],
        "messages_per_second": primary["messages_per_second"],
        # delivered and known lossless; null unless every delivered message was checked
        "success_rate": _percent(primary["success_rate"]),
        "delivered_rate": _percent(primary["delivered_rate"]),
        "lossless_rate": _percent(primary["lossless_rate"]),
        "roundtrip": loss["status"],  # checked | partly checked | not checked
        "roundtrip_checked_by": loss["checked_by"],
        "roundtrip_failures": primary["roundtrip_failures"],  # null when not checked, never 0
        "errors": primary["errors"],
        "overall_compression_ratio": primary["overall_ratio"],
        "safe_compression_ratio": primary["safe_ratio"],
        "lossy": primary["lossy"],
        "bandwidth_saved_percent": primary["bandwidth_saved_percent"],
    }
    export["verdict"] = summary.get("verdict")
    latencies = run.rows(ok=True)["latency_ms"].dropna().to_numpy(dtype=float)
    export["latencies"] = {
        "average_ms": lat["mean"],
        "median_ms": lat["p50"],
        "min_ms": lat["min"],
        "max_ms": lat["max"],
        "p95_ms": peer_percentile(latencies, 0.95),
        "p99_ms": peer_percentile(latencies, 0.99),
    }
    buckets = primary["length_buckets"]
    export["compression"] = {
        "total_original_size": primary["total_original_bytes"],
        "total_compressed_size": primary["total_compressed_bytes"],
        "overall_ratio": primary["overall_ratio"],
        "ai_ratio": primary["ratio_by_role"]["ai"],
        "human_ratio": primary["ratio_by_role"]["human"],
        "method_counts": primary["methods"],
        # the peer's buckets (one for 500 bytes and more), not the summary's
        "length_buckets": {
            b["bucket"]: b["mean_ratio"]
            for b in length_buckets(metrics.sized(_primary_rows(run)), PEER_LENGTH_BUCKETS)
            if b["messages"]
        },
    }
    export["template_performance"] = primary["templates"]
    export["codecs"] = codecs
    export["aura_lab"] = {
        "codec": run.primary_codec,
        "started_at": manifest.started_at,
        "ended_at": manifest.ended_at,
        "peer_keys": {
            "timestamp": "the run's end, local time of this machine, no zone (UTC: aura_lab.ended_at)",
            "latencies": EXPORT_PERCENTILES,
            "compression.length_buckets": PEER_BUCKET_METHOD,
        },
        "latencies": {
            "percentile_method": PERCENTILE_METHOD,
            **{f"{key}_ms": lat[key] for key in ("mean", "min", "max", "stdev", "p50", "p90", "p95", "p99", "p99.9")},
            "count": lat["count"],
        },
        "length_buckets": {
            "ratio_method": BUCKET_RATIO_METHOD,
            "mean_ratio_method": PEER_BUCKET_METHOD.split(";")[0],
            "buckets": {
                b["bucket"]: {"count": b["messages"], "ratio": b["ratio"], "mean_ratio": b.get("mean_ratio")}
                for b in buckets
            },
        },
    }
    return export


def local_time(utc_iso: str | None) -> str | None:
    """A UTC ISO 8601 time as the peer writes times: local time of this machine, no zone."""
    if not utc_iso:
        return None
    return datetime.fromisoformat(utc_iso).astimezone().replace(tzinfo=None).isoformat()


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


# -- reading an export back ------------------------------------------------------------------


def summary_from_export(export: Export) -> dict:
    """A summary of aura-lab's shape from an export: aura-lab's own export carries every
    codec's summary and the verdict, taken as they are; the peer's gives one codec, its
    label inferred from its methods ("aura" when they are AURA's), with every figure the
    export lacks None ("not checked" in tables, never 0) and no verdict."""
    codecs: Any = export.data.get("codecs")
    if export.written_by == "aura-lab" and _whole_summaries(codecs):
        return {
            "phase": "main",
            "primary_codec": next(iter(codecs)),
            "empty": False,
            "percentile_method": PERCENTILE_METHOD,
            "hit_definition": metrics.HIT_DEFINITION,
            "loss_definition": metrics.LOSS_DEFINITION,
            "safe_ratio_definition": metrics.SAFE_RATIO_DEFINITION,
            "codecs": codecs,
            "verdict": export.data.get("verdict") or {"lines": [NO_VERDICT], "method": None},
            "warmup": None,
            "from_export": str(export.path),
        }
    label = export_label(export)
    return {
        "phase": "main",
        "primary_codec": label,
        "empty": not export.get("summary.total_messages", 0),
        "percentile_method": EXPORT_PERCENTILES,
        "hit_definition": f"share of method {metrics.TEMPLATE_METHOD} in the export's method counts",
        "loss_definition": metrics.LOSS_DEFINITION,
        "safe_ratio_definition": metrics.SAFE_RATIO_DEFINITION,
        "codecs": {label: _codec_from_export(export)},
        "verdict": {"lines": [NO_VERDICT], "method": None},
        "warmup": None,
        "from_export": str(export.path),
    }


def _whole_summaries(codecs: Any) -> bool:
    """aura-lab's export holds every codec's whole summary under ``codecs``."""
    return (
        isinstance(codecs, dict) and bool(codecs) and all(isinstance(c, dict) and "loss" in c for c in codecs.values())
    )


def export_label(export: Export) -> str:
    """The codec label of an export's figures: aura-lab's primary codec, else "aura" when
    its method counts show AURA's methods, else "peer"."""
    own = export.get("aura_lab.codec")
    if isinstance(own, str) and own:
        return own
    label = from_methods(export.get("compression.method_counts", {}))
    return label.codec if label else "peer"


def _primary_rows(run: Any) -> pd.DataFrame:
    """The primary codec's records, its failed messages that another codec delivered
    counted as sent raw, as in the summary (``failures.with_failures_raw``)."""
    return metrics.select(with_failures_raw(run.rows(codec=None)), phase=None, codec=run.primary_codec)


def _codec_from_export(export: Export) -> dict:
    """One codec's summary from the peer's export (keys as ``summary.summarise_codec``)."""
    get = export.get
    messages = int(get("summary.total_messages", 0))
    errors = int(get("summary.errors", 0))
    ok = messages - errors
    methods = {str(k): int(v) for k, v in get("compression.method_counts", {}).items()}
    counted = sum(methods.values())
    means = export.length_buckets()
    unchecked = {"lossless": 0, "lossy": 0, "unchecked": ok, "checked": 0, "checked_by": {}}
    share = ok / messages if messages else None
    return {
        "messages": messages,
        "sent": messages,
        "received": None,
        "ok": ok,
        "duration_s": get("summary.total_time"),
        "messages_per_second": get("summary.messages_per_second"),
        "delivered_rate": share,
        "lossless_rate": None,
        "success_rate": None,
        "errors": errors,
        "errors_by_kind": {},
        "failures": None,  # the export counts errors, not which messages they were or their sizes
        "loss": {
            "messages": messages,
            "delivered": ok,
            **unchecked,
            "status": metrics.NOT_CHECKED,
            "delivered_share": share,
            "lossless_share": None,
        },
        "lossy": False,
        "total_original_bytes": get("compression.total_original_size"),
        "total_compressed_bytes": get("compression.total_compressed_size"),
        "overall_ratio": get("compression.overall_ratio", get("summary.overall_compression_ratio")),
        "bandwidth_saved_percent": get("summary.bandwidth_saved_percent"),
        "safe_ratio": None,
        "safe_bandwidth_saved_percent": None,
        "mean_message_ratio": None,
        "codec_ratio": None,  # the peer's export has no codec output size
        "expanded_share": None,
        "replies": None,  # nor streamed replies
        "ratio_by_role": {"ai": get("compression.ai_ratio"), "human": get("compression.human_ratio")},
        "latency_ms": {
            "count": None,
            "mean": get("latencies.average_ms"),
            "min": get("latencies.min_ms"),
            "max": get("latencies.max_ms"),
            "stdev": None,
            "p50": get("latencies.median_ms"),
            "p90": None,
            "p95": get("latencies.p95_ms"),
            "p99": get("latencies.p99_ms"),
            "p99.9": None,
            "method": EXPORT_PERCENTILES,
        },
        "methods": methods,
        # the peer's buckets, as its export names them (its 500+ is two of aura-lab's)
        "length_buckets": [
            {"bucket": label, "messages": None, "ratio": None, "mean_ratio": means.get(label)}
            for _, _, label in PEER_LENGTH_BUCKETS
        ],
        "per_user_messages": {"users": get("config.num_users"), "min": None, "median": None, "max": None},
        "template_hit_rate_applies": metrics.TEMPLATE_METHOD in methods,
        "template_hit_rate": methods[metrics.TEMPLATE_METHOD] / counted if metrics.TEMPLATE_METHOD in methods else None,
        "template_precision": None,
        "roundtrip_failures": None,
        "roundtrip_checked": 0,
        "roundtrip_failures_by_method": {},
        "source_share": {},
        "templates": {"count": 0, "top": [], "bottom": [], "low_diversity": [], "churn_checked": False},
        "reconnects": None,
        "failovers": None,
        "servers": [get("config.server_url")] if get("config.server_url") else [],
    }
