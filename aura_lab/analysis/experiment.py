"""An experiment's tidy table: for each traffic, variant, codec and metric, the baseline's
value, the variant's, the relative change and its 95 % interval.

The interval is ``analysis.compare``'s bootstrap over conversations (users), not a second
one: the replicates' conversations are pooled (each replicate's users kept apart), and
``compare_runs`` resamples them, paired when the variant sent exactly the baseline's
messages (common random numbers), else each side on its own. Figures that are not its
own metrics go through it in its own terms: the wire ratio is its overall ratio of the
frames' sizes (``metrics.framed``), and a per-message mean (template hit rate, compress
and decompress time) its mean ratio of that figure. Beside it, the change in each
replicate, and a t interval over replicates (``replicate_low``/``replicate_high``, with 2
replicates or more): the spread between runs, which a bootstrap over one run's
conversations cannot see when the conversations of a run are not independent (a
learning selector shares what it learnt).

Codecs are compared by position: the baseline's first codec with the variant's first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import metrics
from .compare import compare_runs
from .stats import CONFIDENCE, mean_interval

#: metric -> True when higher is better
EXPERIMENT_METRICS = {
    "overall_ratio": True,
    "safe_ratio": True,
    "wire_ratio": True,
    "mean_ratio": True,
    "template_hit_rate": True,
    "roundtrip_failure_rate": False,
    "compress_us": False,
    "decompress_us": False,
}
HEADLINE = ("overall_ratio", "safe_ratio", "wire_ratio")
USER_STRIDE = 1_000_000  # replicate r's user u becomes r * USER_STRIDE + u in the pooled table
COLUMNS = [
    "traffic",
    "variant",
    "codec_index",
    "baseline_codec",
    "codec",
    "metric",
    "baseline",
    "value",
    "relative_delta",
    "low",
    "high",
    "interval",
    "paired",
    "higher_is_better",
    "replicates",
    "replicate_deltas",
    "replicate_low",
    "replicate_high",
    "lossy_baseline",
    "lossy_variant",
]
METHOD = (
    f"{CONFIDENCE:.0%} percentile bootstrap over conversations (users), replicates pooled: paired when the variant "
    "sent exactly the baseline's messages, else each side resampled on its own; t interval over replicates beside it"
)


def codec_rows(df: pd.DataFrame, index: int) -> pd.DataFrame:
    """The main-phase rows of the run's ``index``-th codec (its manifest order)."""
    main = metrics.select(df, phase="main")
    labels = list(dict.fromkeys(main["codec"].astype(str)))
    return main[main["codec"].astype(str) == labels[index]] if index < len(labels) else main.iloc[0:0]


def pool(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Replicates' rows of one codec in one table, each replicate's users apart, under one
    label (so that ``compare_runs`` sees one codec); latency blanked (offline it is the
    codec's time, and it is not compared here)."""
    parts = []
    for r, df in enumerate(frames):
        part = df.copy()
        part["user_id"] = part["user_id"].astype("int64") + r * USER_STRIDE
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out.assign(codec="codec", latency_ms=np.nan) if len(out) else out


def _as_mean(df: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    """``df`` with ``values`` where compare's mean-of-per-message kernel reads (``ratio``)."""
    return df.assign(ratio=values)


def _per_message(df: pd.DataFrame) -> dict[str, np.ndarray]:
    called = df["codec_size"].notna().to_numpy() if "codec_size" in df else np.ones(len(df), bool)
    return {
        "template_hit_rate": metrics.template_hits(df).to_numpy(float),
        "compress_us": np.where(called, pd.to_numeric(df["compress_us"], errors="coerce"), np.nan),
        "decompress_us": np.where(called, pd.to_numeric(df["decompress_us"], errors="coerce"), np.nan),
    }


def point_figures(df: pd.DataFrame) -> dict[str, float | None]:
    """Every experiment metric of one codec's rows, as the bootstrap's point estimate."""
    ok = df[metrics.is_ok(df).to_numpy()]
    loss = metrics.loss(df)
    out = {
        "overall_ratio": metrics.overall_ratio(df),
        "safe_ratio": metrics.safe_ratio(df),
        "wire_ratio": metrics.wire_ratio(df),
        "mean_ratio": metrics.mean_ratio(df),
        "roundtrip_failure_rate": loss["lossy"] / loss["checked"] if loss["checked"] else None,
    }
    for name, values in _per_message(ok).items():
        out[name] = metrics.mean_of(values)
    return out


def _bootstrap(a: pd.DataFrame, b: pd.DataFrame, n_boot: int, seed: int) -> dict[str, dict]:
    """metric -> ``compare_runs`` row (a: baseline, b: variant)."""
    out: dict[str, dict] = {}

    def rows(x: pd.DataFrame, y: pd.DataFrame) -> dict[str, dict]:
        table = compare_runs(x, y, n_boot=n_boot, seed=seed, phase=None)
        return {str(r["metric"]): r for r in table.to_dict("records")}

    if a.empty or b.empty:  # a side without records: nothing measured, nothing compared
        return {m: dict(_NOTHING) for m in EXPERIMENT_METRICS}
    plain = rows(a, b)
    for metric in ("overall_ratio", "safe_ratio", "mean_ratio", "roundtrip_failure_rate"):
        out[metric] = plain[metric]
    out["wire_ratio"] = rows(metrics.framed(a), metrics.framed(b))["overall_ratio"]
    per_a, per_b = _per_message(a), _per_message(b)
    for name in per_a:
        out[name] = rows(_as_mean(a, per_a[name]), _as_mean(b, per_b[name]))["mean_ratio"]
    return out


_NOTHING = {"a": None, "b": None, "change_low": None, "change_high": None, "judged_on": "relative", "paired": False}


def replicate_interval(deltas: Sequence[float]) -> tuple[float | None, float | None]:
    """A t interval for the mean of the replicates' changes (``stats.mean_interval``;
    None with fewer than 2 finite values)."""
    _mean, low, high = mean_interval([d for d in deltas if d is not None and math.isfinite(d)], CONFIDENCE)
    return low, high


def _change(base: float | None, value: float | None) -> float | None:
    if base is None or value is None:
        return None
    return (value - base) / abs(base) if base else value - base


def compare_arm(
    base: Sequence[pd.DataFrame],
    variant: Sequence[pd.DataFrame],
    traffic: str,
    name: str,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[dict]:
    """The tidy rows of one variant against the baseline on one traffic: ``base`` and
    ``variant`` are each replicate's traces (the same replicates, in order)."""
    out = []
    n_codecs = len(dict.fromkeys(metrics.select(base[0], phase="main")["codec"].astype(str)))
    for k in range(n_codecs):
        base_k = [codec_rows(df, k) for df in base]
        var_k = [codec_rows(df, k) for df in variant]
        booted = _bootstrap(pool(base_k), pool(var_k), n_boot, seed)
        per_replicate = [(point_figures(b), point_figures(v)) for b, v in zip(base_k, var_k)]
        lossy = (any(metrics.loss(b)["lossy"] for b in base_k), any(metrics.loss(v)["lossy"] for v in var_k))
        for metric, higher in EXPERIMENT_METRICS.items():
            row = booted[metric]
            deltas = [_change(b[metric], v[metric]) for b, v in per_replicate]
            low, high = replicate_interval([d for d in deltas if d is not None])
            out.append(
                {
                    "traffic": traffic,
                    "variant": name,
                    "codec_index": k + 1,
                    "baseline_codec": str(base_k[0]["codec"].iloc[0]) if len(base_k[0]) else None,
                    "codec": str(var_k[0]["codec"].iloc[0]) if len(var_k[0]) else None,
                    "metric": metric,
                    "baseline": row["a"],
                    "value": row["b"],
                    "relative_delta": _change(row["a"], row["b"]),
                    "low": row["change_low"],
                    "high": row["change_high"],
                    "interval": row["judged_on"],
                    "paired": bool(row["paired"]),
                    "higher_is_better": higher,
                    "replicates": len(per_replicate),
                    "replicate_deltas": ";".join("" if d is None else f"{d:.6g}" for d in deltas),
                    "replicate_low": low,
                    "replicate_high": high,
                    "lossy_baseline": lossy[0],
                    "lossy_variant": lossy[1],
                }
            )
    return out


def results_table(rows: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)
