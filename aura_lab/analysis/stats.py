"""The one place where percentiles, ratios and intervals are computed, and targets
judged by an interval: the bootstrap over conversations (``user_draws``, drawn once for
many figures and codecs, and ``percentile_interval``), ``scipy.stats.bootstrap`` for
one sample's statistic, and Student's t for a few repeats."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

LATENCY_PERCENTILES = (50, 90, 95, 99, 99.9)
CONFIDENCE = 0.95  # of every interval a report shows
BOOT_CHUNK = 200  # bootstrap draws per matrix product: bounded memory for many users
# numpy's default linear interpolation between closest ranks; stated in every summary
PERCENTILE_METHOD = "linear interpolation between closest ranks (numpy 'linear')"
# the peer's: the value at rank int(n * q) of the sorted values; used under the peer's
# keys of the export, so its readers get the statistic they expect
PEER_PERCENTILE_METHOD = "the peer's: sorted(values)[int(n * q)], no interpolation"


def percentiles(values: Sequence[float], qs: Sequence[float] = LATENCY_PERCENTILES) -> dict[str, float | None]:
    """``{"p50": ..., "p99.9": ...}``; ``None`` for each when there are no values."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return {f"p{q:g}": None for q in qs}
    got = np.percentile(arr, qs, method="linear")
    return {f"p{q:g}": float(v) for q, v in zip(qs, got)}


def peer_percentile(values: Sequence[float], q: float) -> float | None:
    """The peer's percentile (``PEER_PERCENTILE_METHOD``) of ``values`` at ``q`` in
    [0, 1); ``None`` when there are no values."""
    arr = np.sort(np.asarray(values, dtype=float))
    arr = arr[~np.isnan(arr)]
    return float(arr[min(int(arr.size * q), arr.size - 1)]) if arr.size else None


def divide(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or ``None`` when the denominator is zero."""
    return float(numerator) / float(denominator) if denominator else None


def user_draws(users: int, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The bootstrap over conversations: ``n_boot`` resamples of ``users`` users (with
    replacement), as counts (draws x users: how often each user was drawn), ``BOOT_CHUNK``
    draws at a time. A figure built from per-user sums is then ``counts @ sums``, for
    every draw at once; the same draws serve every codec of a run (paired)."""
    for start in range(0, n_boot, BOOT_CHUNK):
        size = min(BOOT_CHUNK, n_boot - start)
        yield rng.multinomial(users, np.full(users, 1 / users), size=size).astype(float)


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """The central ``confidence`` interval of bootstrap samples (numpy's 'linear'
    percentiles), draws without a finite figure left out; ``None``s when none has one."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return None, None
    low, high = np.percentile(samples, [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2], method="linear")
    return float(low), float(high)


_BOOT_VALUES = 4_000_000  # values resampled at once: a template used 200,000 times stays within ~40 MB


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[..., float] = np.mean,
    n_boot: int = 1000,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float | None, float | None, float | None]:
    """(estimate, low, high) by ``scipy.stats.bootstrap``'s percentile bootstrap, in
    batches of bounded memory. ``None``s for no values; no interval (``None``, ``None``)
    from one value or with ``n_boot`` below 2 (0: the estimate only); equal values give
    a zero-width one."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return None, None, None
    estimate = float(statistic(arr))
    if arr.size == 1 or n_boot < 2:
        return estimate, None, None
    if np.ptp(arr) == 0:
        return estimate, estimate, estimate
    from scipy import stats  # a slow import, for reports only

    found = stats.bootstrap(
        (arr,),
        statistic,
        n_resamples=n_boot,
        batch=max(1, _BOOT_VALUES // arr.size),
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return estimate, float(found.confidence_interval.low), float(found.confidence_interval.high)


def mean_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, log: bool = False
) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): Student's t interval of the mean (``scipy.stats``), for a few
    independent repeats of one measurement (a benchmark's alternations), where a
    bootstrap of three to five values can only give back their range. ``log``: of the
    values' logarithms, given back as their geometric mean and its interval (ratios and
    times, which spread by factors). ``None``s for no values; no interval (``None``,
    ``None``) from one value."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return None, None, None
    if log and (arr <= 0).any():
        raise ValueError(f"mean_interval(log=True) takes positive values only, got {arr.min():g}")
    x = np.log(arr) if log else arr
    back = np.exp if log else (lambda v: v)
    mean = float(back(x.mean()))
    if arr.size == 1:
        return mean, None, None
    if np.ptp(x) == 0:
        return mean, mean, mean
    from scipy import stats  # a slow import, for benchmarks and reports only

    low, high = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
    return mean, float(back(low)), float(back(high))


def against(low: float | None, high: float | None, target: float, above: bool) -> str:
    """A target judged by an interval: "met" when all of it is on the target's side
    (``above``: at or above ``target``; else below it), "missed" when none of it is,
    "undecided" when it straddles the target or there is none."""
    if low is None or high is None:
        return "undecided"
    if above:
        return "met" if low >= target else "missed" if high < target else "undecided"
    return "met" if high < target else "missed" if low >= target else "undecided"
