"""Codecs side by side within a run, and two runs against each other.

``compare_runs`` gives, per codec and metric, A, B, the change, its 95 % bootstrap
interval, and whether it is a regression (``aura-lab compare``: a gate for CI).

The bootstrap resamples conversations (users), not messages: the messages of one
conversation are correlated (a codec with context takeover compresses a user's later
messages with the earlier ones), so resampling messages would make the intervals too
narrow. When both runs sent the same conversations (same seed and traffic options: the
same users sent the same texts) the draw is paired, the same users in both runs, so
the interval measures the change and not the spread between users; otherwise the two
runs are resampled independently. A metric is a regression only when
its whole interval lies beyond the threshold: worse by more than ``threshold`` of A
(relative), or, from a zero baseline (no errors in A), by more than ``threshold`` in
absolute terms. A change whose interval reaches back within the threshold is "worse",
not a regression: the runs cannot tell it from noise.

Latency is judged only when asked (``judge_latency``): an interval over conversations
sees the spread between conversations, not what differed between the two moments the
runs were made (the machine's load), and on a shared machine that alone moves loopback
latencies by more than 10 %. Its rows are always shown, with their intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import metrics
from .stats import CONFIDENCE, divide, percentile_interval, user_draws

# metric -> True when higher is better
HIGHER_IS_BETTER = {
    "overall_ratio": True,
    "safe_ratio": True,
    "mean_ratio": True,
    "latency_p50_ms": False,
    "latency_p99_ms": False,
    "error_rate": False,
    "roundtrip_failure_rate": False,
}
METRICS = tuple(HIGHER_IS_BETTER)
LATENCY_QUANTILES = {"latency_p50_ms": 50.0, "latency_p99_ms": 99.0}
LATENCY_METRICS = tuple(LATENCY_QUANTILES)
METHOD = (
    f"{CONFIDENCE:.0%} percentile bootstrap over conversations (users): paired when both runs sent the same "
    "conversations, else each run resampled on its own"
)


@dataclass
class _Sample:
    """One codec of one run, aggregated per user for the bootstrap: per-user sums, and
    the latencies sorted once with the user of each."""

    users: int
    original: np.ndarray  # bytes over sized rows
    wire: np.ndarray
    safe_wire: np.ndarray
    safe_known: bool  # every sized row was checked for loss
    ratio_sum: np.ndarray  # per-message ratios of ok rows, summed
    ratio_count: np.ndarray
    messages: np.ndarray
    errors: np.ndarray
    lossy: np.ndarray
    checked: np.ndarray
    latency: np.ndarray  # sorted
    latency_user: np.ndarray  # the user index of each sorted latency


def _sample(df: pd.DataFrame, users: pd.Index | None = None) -> _Sample:
    users = pd.Index(pd.unique(df["user_id"].dropna())) if users is None else users
    index = users.get_indexer(df["user_id"])
    n = len(users)

    def per_user(mask: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros(n)
        np.add.at(out, index[mask], 1.0 if values is None else values[mask])
        return out

    ok = metrics.is_ok(df).to_numpy()
    original = pd.to_numeric(df["original_size"], errors="coerce").to_numpy(float, na_value=np.nan)
    compressed = pd.to_numeric(df["compressed_size"], errors="coerce").to_numpy(float, na_value=np.nan)
    ratio = pd.to_numeric(df["ratio"], errors="coerce").to_numpy(float, na_value=np.nan)
    latency = pd.to_numeric(df["latency_ms"], errors="coerce").to_numpy(float, na_value=np.nan)
    lossy = metrics.lossy_flags(df)
    sized = ok & ~np.isnan(original) & ~np.isnan(compressed)
    with_ratio = ok & ~np.isnan(ratio)
    timed = ok & ~np.isnan(latency)
    order = np.argsort(latency[timed], kind="stable")
    checked = ok & ~np.isnan(lossy)
    return _Sample(
        users=n,
        original=per_user(sized, original),
        wire=per_user(sized, compressed),
        safe_wire=per_user(sized, np.where(lossy > 0, original, compressed)),
        safe_known=bool(sized.any()) and not np.isnan(lossy[sized]).any(),
        ratio_sum=per_user(with_ratio, ratio),
        ratio_count=per_user(with_ratio),
        messages=per_user(np.ones(len(df), bool)),
        errors=per_user(~ok),
        lossy=per_user(checked, np.nan_to_num(lossy)),
        checked=per_user(checked),
        latency=latency[timed][order],
        latency_user=index[timed][order],
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """numpy's 'linear' percentile of ``values`` (sorted) repeated ``weights`` times each."""
    cumulative = np.cumsum(weights)
    total = cumulative[-1] if cumulative.size else 0
    if total == 0:
        return np.nan
    h = (total - 1) * q / 100
    low = int(np.floor(h))
    at_low = values[np.searchsorted(cumulative, low, side="right")]
    at_high = values[np.searchsorted(cumulative, min(low + 1, total - 1), side="right")]
    return float(at_low + (h - low) * (at_high - at_low))


def _figures(s: _Sample, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for each row of ``counts`` (draws x users; a row of ones is the run)."""
    out = {
        "overall_ratio": _ratio(counts @ s.original, counts @ s.wire),
        "safe_ratio": _ratio(counts @ s.original, counts @ s.safe_wire)
        if s.safe_known
        else np.full(len(counts), np.nan),
        "mean_ratio": _ratio(counts @ s.ratio_sum, counts @ s.ratio_count),
        "error_rate": _ratio(counts @ s.errors, counts @ s.messages),
        "roundtrip_failure_rate": _ratio(counts @ s.lossy, counts @ s.checked),
    }
    for metric, q in LATENCY_QUANTILES.items():
        out[metric] = np.array([_weighted_percentile(s.latency, row[s.latency_user], q) for row in counts])
    return out


def _point(s: _Sample) -> dict[str, float | None]:
    got = _figures(s, np.ones((1, s.users)))
    return {m: (None if np.isnan(v[0]) else float(v[0])) for m, v in got.items()}


def _boot(samples: list[_Sample], n_boot: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Bootstrap figures of each sample, all from the same draws of users (the samples
    share one user index: a paired comparison)."""
    users = samples[0].users
    chunks: list[list[dict[str, np.ndarray]]] = [[] for _ in samples]
    for counts in user_draws(users, n_boot, rng):
        for got, s in zip(chunks, samples):
            got.append(_figures(s, counts))
    return [{m: np.concatenate([c[m] for c in got]) for m in METRICS} for got in chunks]


def _conversation_order(df: pd.DataFrame) -> pd.DataFrame:
    keys = ["user_id", "turn", "text"]
    order = keys[:2] + (["frame_index"] if "frame_index" in df else [])  # a streamed reply's frames in order
    rows = df[list(dict.fromkeys(keys + order))].astype({"text": "string"})
    return rows.sort_values(order, kind="stable")[keys].reset_index(drop=True)


def _signatures(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(users, signature of each user's conversation)``, both sorted by signature then
    user: a hash of its (turn, text) rows in order. ``rows``: ``_conversation_order``."""
    hashed = pd.util.hash_pandas_object(rows[["turn", "text"]], index=False).to_numpy(np.uint64)
    position = rows.groupby("user_id", sort=False).cumcount().to_numpy(np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):  # wrapping uint64 arithmetic is the point
        mixed = hashed * (position * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1))
    users = rows["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    signatures = np.add.reduceat(mixed, starts)
    order = np.lexsort((users[starts], signatures))
    return users[starts][order], signatures[order]


def pair_users(a: pd.DataFrame, b: pd.DataFrame) -> dict | None:
    """``{user of B: user of A}`` when both frames hold the same conversations: each user
    of B sent the same texts at the same turns as one user of A (two runs of one seed and
    traffic options, or a run and the peer's trace files written from it, whose users are
    numbered from 1); None otherwise. Their users can then be paired. Users are matched
    by a hash of their conversations, then the match is checked row by row."""
    if len(a) != len(b) or not len(a):
        return None
    rows_a, rows_b = _conversation_order(a), _conversation_order(b)
    if rows_a.equals(rows_b):
        return {user: user for user in pd.unique(rows_a["user_id"])}
    users_a, signatures_a = _signatures(rows_a)
    users_b, signatures_b = _signatures(rows_b)
    if len(users_a) != len(users_b) or not np.array_equal(signatures_a, signatures_b):
        return None
    pairs = dict(zip(users_b.tolist(), users_a.tolist()))
    renamed = _conversation_order(rows_b.assign(user_id=rows_b["user_id"].map(pairs).astype(rows_a["user_id"].dtype)))
    return pairs if renamed.equals(rows_a) else None  # a hash collision pairs nothing


def point_figures(df: pd.DataFrame) -> dict[str, float | None]:
    """Every metric in ``METRICS`` over one codec's rows, as ``compare_runs`` computes its
    A and B (latency percentiles interpolated)."""
    return _point(_sample(df))


def _by_codec(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(c): g for c, g in df.groupby("codec", observed=True, sort=True)}


def compare_codecs(df: pd.DataFrame, phase: str | None = None) -> pd.DataFrame:
    """One row per codec: messages, whether it lost messages, and every metric in
    ``METRICS`` (latency in ms; ``safe_ratio`` None when loss was not checked)."""
    df = metrics.select(df, phase=phase)
    rows = []
    for codec, g in _by_codec(df).items():
        loss = metrics.loss(g)
        rows.append(
            {"codec": codec, "messages": len(g), "loss": loss["status"], "lossy": loss["lossy"], **_point(_sample(g))}
        )
    return pd.DataFrame(rows, columns=["codec", "messages", "loss", "lossy", *METRICS])


def judge(metric: str, a: float | None, low: float | None, high: float | None, threshold: float) -> bool:
    """A regression: the whole interval (relative change, or absolute when A is 0) lies
    beyond ``threshold`` in the metric's worse direction."""
    if a is None or low is None or high is None:
        return False
    return high < -threshold if HIGHER_IS_BETTER[metric] else low > threshold


COLUMNS = [
    "codec",
    "metric",
    "a",
    "b",
    "delta",
    "relative_delta",
    "delta_low",
    "delta_high",
    "paired",
    "judged_on",
    "change_low",
    "change_high",
    "higher_is_better",
    "worse",
    "judged",
    "regression",
    "note",
]


def compare_runs(
    df_a: pd.DataFrame,
    df_b: pd.DataFrame,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float = 0.10,
    phase: str | None = None,
    judge_latency: bool = False,
) -> pd.DataFrame:
    """Per codec present in both runs and per metric: a, b, delta (b - a), relative
    delta (delta / |a|), the 95 % interval of the delta (users resampled; ``paired``
    when both runs sent the same conversations, ``pair_users``),
    ``judged_on`` ("relative", or "absolute" when a is 0) with the interval of that
    change (``change_low``, ``change_high``), ``worse`` (the point estimate, direction
    aware), ``judged`` (latency only with ``judge_latency``) and ``regression`` (judged,
    and the whole interval beyond ``threshold``)."""
    df_a, df_b = metrics.select(df_a, phase=phase), metrics.select(df_b, phase=phase)
    runs_a, runs_b = _by_codec(df_a), _by_codec(df_b)
    rng = np.random.default_rng(seed)
    rows = []
    for codec in sorted(set(runs_a) & set(runs_b)):
        pairs = pair_users(runs_a[codec], runs_b[codec])
        paired = pairs is not None
        users = pd.Index(sorted(pd.unique(runs_a[codec]["user_id"].dropna()))) if paired else None
        rows_b = runs_b[codec].assign(user_id=runs_b[codec]["user_id"].map(pairs)) if pairs else runs_b[codec]
        sample_a, sample_b = _sample(runs_a[codec], users), _sample(rows_b, users)
        value_a, value_b = _point(sample_a), _point(sample_b)
        if paired:
            boot_a, boot_b = _boot([sample_a, sample_b], n_boot, rng)
        else:
            (boot_a,), (boot_b,) = _boot([sample_a], n_boot, rng), _boot([sample_b], n_boot, rng)
        for m in METRICS:
            a, b = value_a[m], value_b[m]
            delta = None if a is None or b is None else b - a
            delta_low, delta_high = percentile_interval(boot_b[m] - boot_a[m])
            relative = a is not None and a != 0
            with np.errstate(invalid="ignore", divide="ignore"):
                change = (boot_b[m] - boot_a[m]) / np.abs(boot_a[m]) if relative else boot_b[m] - boot_a[m]
            change_low, change_high = percentile_interval(change)
            worse = delta is not None and (delta < 0 if HIGHER_IS_BETTER[m] else delta > 0)
            judged = judge_latency or m not in LATENCY_METRICS
            rows.append(
                {
                    "codec": codec,
                    "metric": m,
                    "a": a,
                    "b": b,
                    "delta": delta,
                    "relative_delta": divide(delta, abs(a)) if delta is not None and a is not None else None,
                    "delta_low": delta_low,
                    "delta_high": delta_high,
                    "paired": paired,
                    "judged_on": "relative" if relative else "absolute",
                    "change_low": change_low,
                    "change_high": change_high,
                    "higher_is_better": HIGHER_IS_BETTER[m],
                    "worse": worse,
                    "judged": judged,
                    "regression": judged and worse and judge(m, a, change_low, change_high, threshold),
                    "note": None,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def regressions_by_codec(table: pd.DataFrame) -> dict[str, int | None]:
    """How many metrics of each codec are regressions (0 for a codec without any; None
    for a codec nothing could be judged on: no interval exists)."""
    return {
        str(c): int(g["regression"].sum()) if g["change_low"].notna().any() else None
        for c, g in table.groupby("codec", sort=False)
    }
