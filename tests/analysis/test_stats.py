"""aura_lab.stats: the one place for percentiles, ratios and intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from aura_lab.analysis.stats import against, bootstrap_ci, divide, mean_interval, percentiles


def test_percentiles_of_known_arrays():
    values = list(range(1, 101))  # 1..100
    got = percentiles(values, (50, 90, 99))
    assert got == {"p50": pytest.approx(50.5), "p90": pytest.approx(90.1), "p99": pytest.approx(99.01)}
    assert percentiles([7.0]) == {k: 7.0 for k in ("p50", "p90", "p95", "p99", "p99.9")}
    assert percentiles([1, 2, float("nan"), 3], (0, 50, 100)) == {"p0": 1.0, "p50": 2.0, "p100": 3.0}


def test_percentiles_of_empty_input():
    assert percentiles([]) == {"p50": None, "p90": None, "p95": None, "p99": None, "p99.9": None}
    assert percentiles([float("nan")], (50,)) == {"p50": None}


def test_safe_ratio():
    assert divide(1, 0) is None
    assert divide(0, 0) is None
    assert divide(3, 2) == 1.5


def test_bootstrap_contains_estimate_and_narrows():
    rng = np.random.default_rng(1)
    small = rng.normal(10, 2, 50)
    large = rng.normal(10, 2, 5000)
    for statistic in (np.mean, np.median, lambda a: float(np.percentile(a, 90))):
        est_s, low_s, high_s = bootstrap_ci(small, statistic, n_boot=500)
        est_l, low_l, high_l = bootstrap_ci(large, statistic, n_boot=500)
        assert low_s <= est_s <= high_s
        assert low_l <= est_l <= high_l
        assert (high_l - low_l) < (high_s - low_s) / 3
    assert bootstrap_ci(small) == bootstrap_ci(small)  # seeded
    # the mean's interval of a large normal sample is the textbook one, +-1.96 sd / sqrt(n)
    _est, low, high = bootstrap_ci(large, n_boot=2000)
    assert (high - low) / 2 == pytest.approx(1.96 * np.std(large, ddof=1) / np.sqrt(large.size), rel=0.12)


def test_bootstrap_edge_cases():
    assert bootstrap_ci([]) == (None, None, None)
    assert bootstrap_ci([float("nan")]) == (None, None, None)
    assert bootstrap_ci([4.0]) == (4.0, None, None)  # one value: no interval, not a zero-width one
    est, low, high = bootstrap_ci([1.0, 1.0, 1.0])
    assert est == low == high == 1.0
    assert not any(math.isnan(x) for x in bootstrap_ci([1.0, 2.0]))


def test_mean_interval_is_students_t():
    values = [0.75, 0.82, 0.72, 0.90]
    mean, low, high = mean_interval(values)
    assert mean == pytest.approx(np.mean(values))
    half = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert (low, high) == pytest.approx((mean - half, mean + half))
    # more repeats of the same spread: a narrower interval
    _, low8, high8 = mean_interval(values * 2)
    assert low < low8 < high8 < high


def test_mean_interval_on_a_log_scale_is_the_geometric_mean():
    ratios = [0.5, 2.0, 1.0]
    mean, low, high = mean_interval(ratios, log=True)
    assert mean == pytest.approx(1.0)
    assert low == pytest.approx(1 / high)  # symmetric in log
    assert low < 0.5 < 2.0 < high
    with pytest.raises(ValueError, match="positive values only"):
        mean_interval([1.0, 0.0], log=True)


def test_mean_interval_edge_cases():
    assert mean_interval([]) == (None, None, None)
    assert mean_interval([float("nan")]) == (None, None, None)
    assert mean_interval([3.0]) == (3.0, None, None)  # one value: no interval
    assert mean_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_against_a_target():
    assert against(0.81, 0.95, 0.80, above=True) == "met"
    assert against(0.70, 0.79, 0.80, above=True) == "missed"
    assert against(0.72, 0.94, 0.80, above=True) == "undecided"
    assert against(2.1, 4.9, 5.0, above=False) == "met"
    assert against(5.0, 9.0, 5.0, above=False) == "missed"
    assert against(3.0, 7.0, 5.0, above=False) == "undecided"
    assert against(None, None, 5.0, above=False) == "undecided"
