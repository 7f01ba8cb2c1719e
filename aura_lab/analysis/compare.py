"""Codecs side by side within a run, and two runs against each other.

``compare_runs`` gives, per codec and metric, A, B, the change and its 95 % bootstrap
interval, and whether it is a regression (``aura-lab compare``: a gate for CI).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .stats import percentiles, safe_ratio

# metric -> True when higher is better
HIGHER_IS_BETTER = {
    "overall_ratio": True,
    "mean_ratio": True,
    "latency_p50_ms": False,
    "latency_p99_ms": False,
    "error_rate": False,
    "roundtrip_failure_rate": False,
}
METRICS = tuple(HIGHER_IS_BETTER)


def _arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The per-message columns the metrics need, as float arrays (NaN for missing)."""
    ok = metrics.is_ok(df).to_numpy()
    roundtrip = df["roundtrip_ok"].astype("boolean") if "roundtrip_ok" in df else pd.Series(pd.NA, index=df.index)
    return {
        "ok": ok,
        "original": pd.to_numeric(df["original_size"], errors="coerce").to_numpy(float, na_value=np.nan),
        "compressed": pd.to_numeric(df["compressed_size"], errors="coerce").to_numpy(float, na_value=np.nan),
        "ratio": pd.to_numeric(df["ratio"], errors="coerce").to_numpy(float, na_value=np.nan),
        "latency": pd.to_numeric(df["latency_ms"], errors="coerce").to_numpy(float, na_value=np.nan),
        "roundtrip_failed": (~roundtrip).astype("Float64").to_numpy(float, na_value=np.nan),
    }


def _metrics(a: dict[str, np.ndarray], idx: np.ndarray | None = None) -> dict[str, float | None]:
    """Every metric over the messages ``idx`` (all when None). Ratios over successful
    messages only; overall ratio is sum original / sum compressed bytes."""
    cols = a if idx is None else {k: v[idx] for k, v in a.items()}
    ok = cols["ok"]
    sized = ok & ~np.isnan(cols["original"]) & ~np.isnan(cols["compressed"])
    latency = percentiles(cols["latency"][ok], (50, 99))
    roundtrip = cols["roundtrip_failed"][~np.isnan(cols["roundtrip_failed"])]
    return {
        "overall_ratio": metrics.ratio_of_sums(cols["original"][sized], cols["compressed"][sized]),
        "mean_ratio": metrics.mean_of(cols["ratio"][ok]),
        "latency_p50_ms": latency["p50"],
        "latency_p99_ms": latency["p99"],
        "error_rate": float(1 - ok.mean()) if ok.size else None,
        "roundtrip_failure_rate": float(roundtrip.mean()) if roundtrip.size else None,
    }


def _by_codec(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(c): g for c, g in df.groupby("codec", observed=True, sort=True)}


def compare_codecs(df: pd.DataFrame, phase: str | None = None) -> pd.DataFrame:
    """One row per codec: messages and every metric in ``METRICS`` (latency in ms)."""
    df = metrics.select(df, phase=phase)
    rows = [{"codec": codec, "messages": len(g), **_metrics(_arrays(g))} for codec, g in _by_codec(df).items()]
    return pd.DataFrame(rows, columns=["codec", "messages", *METRICS])


def _delta(a: float | None, b: float | None) -> tuple[float | None, float | None]:
    """(b - a, (b - a) / |a|); ``None`` where undefined."""
    if a is None or b is None:
        return None, None
    return b - a, safe_ratio(b - a, abs(a))


def _is_regression(metric: str, a: float | None, delta: float | None, threshold: float) -> bool:
    """Worse by more than ``threshold`` of A. From a zero baseline (no errors in A) a
    relative change is undefined: the absolute change of the rate is judged instead."""
    if delta is None:
        return False
    worse_by = -delta if HIGHER_IS_BETTER[metric] else delta
    return worse_by / (abs(a) if a else 1.0) > threshold


def compare_runs(
    df_a: pd.DataFrame,
    df_b: pd.DataFrame,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float = 0.10,
    phase: str | None = None,
) -> pd.DataFrame:
    """Per codec present in both runs and per metric: a, b, delta (b - a), relative
    delta (delta / |a|), the 95 % bootstrap interval of the delta (messages of each run
    resampled independently), ``worse`` (direction-aware) and ``regression`` (worse by
    more than ``threshold``, relative; absolute when a is 0)."""
    df_a, df_b = metrics.select(df_a, phase=phase), metrics.select(df_b, phase=phase)
    runs_a, runs_b = _by_codec(df_a), _by_codec(df_b)
    rng = np.random.default_rng(seed)
    rows = []
    for codec in sorted(set(runs_a) & set(runs_b)):
        arrays_a, arrays_b = _arrays(runs_a[codec]), _arrays(runs_b[codec])
        value_a, value_b = _metrics(arrays_a), _metrics(arrays_b)
        n_a, n_b = len(runs_a[codec]), len(runs_b[codec])
        deltas: dict[str, list[float]] = {m: [] for m in METRICS}
        for _ in range(n_boot):
            boot_a = _metrics(arrays_a, rng.integers(0, n_a, n_a))
            boot_b = _metrics(arrays_b, rng.integers(0, n_b, n_b))
            for m in METRICS:
                got_a, got_b = boot_a[m], boot_b[m]
                if got_a is not None and got_b is not None:
                    deltas[m].append(got_b - got_a)
        for m in METRICS:
            delta, relative = _delta(value_a[m], value_b[m])
            interval = percentiles(deltas[m], (2.5, 97.5))
            worse = delta is not None and (delta < 0 if HIGHER_IS_BETTER[m] else delta > 0)
            rows.append(
                {
                    "codec": codec,
                    "metric": m,
                    "a": value_a[m],
                    "b": value_b[m],
                    "delta": delta,
                    "relative_delta": relative,
                    "delta_low": interval["p2.5"],
                    "delta_high": interval["p97.5"],
                    "higher_is_better": HIGHER_IS_BETTER[m],
                    "worse": worse,
                    "regression": _is_regression(m, value_a[m], delta, threshold),
                }
            )
    columns = [
        "codec",
        "metric",
        "a",
        "b",
        "delta",
        "relative_delta",
        "delta_low",
        "delta_high",
        "higher_is_better",
        "worse",
        "regression",
    ]
    return pd.DataFrame(rows, columns=columns)


def format_comparison(table: pd.DataFrame) -> str:
    if table.empty:
        return "no codec in common between the two runs"
    shown = table.drop(columns=["higher_is_better"]).copy()
    shown["regression"] = shown["regression"].map({True: "REGRESSION", False: ""})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")
