"""Size distributions: how many bytes a message (or how many messages a conversation)
should have, described in a few numbers for a profile's JSON and sampled fast.

A ``SizeModel`` is one of two kinds:

- ``parametric``: a scipy.stats family with its parameters (chosen by AIC when a
  profile is fitted);
- ``quantiles``: the quantile function through given points ``(p, value)``, a monotone
  cubic (PCHIP) of log(value) against the normal score of p, so that a log-normal
  shape is a straight line between the points. Beyond the first and last point the
  tails go on as straight lines (log-normal tails) with the slope of the adjacent
  segment; when ``mean`` is given, the upper tail's slope is instead the one that gives
  the distribution that mean (published figures give a mean beside their quantiles,
  and the human tail is heavy: the adjacent slope would overshoot it several-fold).

Both are cut to ``[low, high]``. Sampling goes through a table of the quantile function
on 8,192 cells, interpolated in log space: one uniform draw, a few float operations.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from functools import cache, cached_property
from statistics import NormalDist
from typing import Any

import numpy as np

from ..errors import InputError

KINDS = ("parametric", "quantiles")
FAMILIES = ("lognorm", "gamma", "weibull_min", "expon", "norm")
_SHAPES = {"lognorm": 1, "gamma": 1, "weibull_min": 1, "expon": 0, "norm": 0}  # scipy's shape parameters
TABLE_CELLS = 8192
MAX_SIZE = 1 << 20  # bytes: the embedded servers' largest message
_SLOPE_LIMIT = 20.0  # log units per standard deviation: steeper than any real tail


@dataclass(frozen=True)
class SizeModel:
    """A distribution of positive sizes (bytes, or messages per conversation).
    ``fit`` holds how it was chosen (n, KS, AIC of the candidates): information only."""

    kind: str
    family: str | None = None
    params: tuple[float, ...] = ()
    points: tuple[tuple[float, float], ...] = ()  # (probability, value), for quantiles
    mean: float | None = None  # quantiles: the mean the upper tail is fitted to
    low: float = 1.0
    high: float = float(MAX_SIZE)
    fit: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "parametric" and self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.kind == "parametric":
            shapes = _SHAPES[str(self.family)]
            params = self.params
            if len(params) != shapes + 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in params):
                raise ValueError(
                    f"{self.family} takes {shapes + 2} finite params (shapes, loc, scale), got {list(params)}"
                )
            if any(abs(v) > 1e12 for v in params):  # sizes are at most MAX_SIZE bytes: no fit gives these
                raise ValueError(f"{self.family}'s params must be within +-1e12, got {list(params)}")
            if any(v <= 0 for v in (*params[:shapes], params[-1])):
                raise ValueError(f"{self.family}'s shape and scale params must be above 0, got {list(params)}")
        if self.kind == "quantiles":
            ps = [p for p, _ in self.points]
            values = [v for _, v in self.points]
            if len(self.points) < 2:
                raise ValueError("needs at least two (probability, value) points")
            if not all(0 < p < 1 for p in ps) or any(b <= a for a, b in itertools.pairwise(ps)):
                raise ValueError(f"probabilities must rise strictly inside (0, 1), got {ps}")
            if not all(v > 0 and math.isfinite(v) for v in values) or any(b < a for a, b in itertools.pairwise(values)):
                raise ValueError(f"values must be positive and never fall, got {values}")
        if not (0 < self.low <= self.high <= MAX_SIZE):
            raise ValueError(f"need 0 < low <= high <= {MAX_SIZE}, got low {self.low}, high {self.high}")

    # -- the quantile function ---------------------------------------------------------

    def ppf(self, u) -> np.ndarray:
        """Sizes at probabilities ``u`` (an array in [0, 1]), cut to ``[low, high]``."""
        u = np.asarray(u, dtype=float)
        if self.kind == "parametric":
            from scipy import stats  # only fitted profiles need it (a slow import)

            values = getattr(stats, self.family)(*self.params).ppf(u)  # type: ignore[arg-type]
            values = np.nan_to_num(values, nan=self.high, posinf=self.high, neginf=self.low)
            return np.clip(values, self.low, self.high)
        return np.exp(self._log_quantiles(probit(u), self._upper_slope))

    def _log_quantiles(self, z: np.ndarray, upper_slope: float) -> np.ndarray:
        """log(size) at normal scores ``z``: PCHIP through the points, straight tails."""
        z_points = probit(np.array([p for p, _ in self.points]))
        y_points = np.log([v for _, v in self.points])
        y = pchip(z_points, y_points, np.clip(z, z_points[0], z_points[-1]))
        lower_slope = (y_points[1] - y_points[0]) / (z_points[1] - z_points[0])
        below, above = z < z_points[0], z > z_points[-1]
        y[below] = y_points[0] + lower_slope * (z[below] - z_points[0])
        y[above] = y_points[-1] + upper_slope * (z[above] - z_points[-1])
        return np.clip(y, math.log(self.low), math.log(self.high))

    @cached_property
    def _upper_slope(self) -> float:
        """The upper tail's slope: the adjacent segment's, or the one giving ``mean``
        (found by bisection: the mean rises with the slope)."""
        z = probit(np.array([p for p, _ in self.points[-2:]]))
        y = np.log([v for _, v in self.points[-2:]])
        adjacent = float((y[1] - y[0]) / (z[1] - z[0]))
        if self.mean is None:
            return adjacent
        grid = _grid_scores()

        def gap(slope: float) -> float:
            return _table_mean(self._log_quantiles(grid, slope)) - self.mean  # type: ignore[operator]

        if gap(0.0) > 0:
            raise ValueError(f"mean {self.mean:g} is below what the points allow ({gap(0.0) + self.mean:.0f})")
        if gap(_SLOPE_LIMIT) < 0:
            raise ValueError(f"mean {self.mean:g} is beyond what the points and high {self.high:g} allow")
        low, high = 0.0, _SLOPE_LIMIT
        while high - low > 1e-7:
            middle = (low + high) / 2
            low, high = (middle, high) if gap(middle) < 0 else (low, middle)
        return (low + high) / 2

    @cached_property
    def _table(self) -> list[float]:
        """log(size) at u = k / TABLE_CELLS, k = 0..TABLE_CELLS."""
        if self.kind == "quantiles":
            logs = self._log_quantiles(_grid_scores(), self._upper_slope)
        else:
            logs = np.log(self.ppf(np.linspace(0, 1, TABLE_CELLS + 1)))
        return [float(v) for v in logs]

    # -- sampling and figures ----------------------------------------------------------

    def sample(self, rng: random.Random) -> float:
        """One size, from one uniform draw (log-linear between table points)."""
        x = rng.random() * TABLE_CELLS
        i = int(x)
        table = self._table
        return math.exp(table[i] + (x - i) * (table[i + 1] - table[i]))

    def cdf(self, values) -> np.ndarray:
        """Share of the distribution at or below each value (from the sampling table)."""
        logs = np.log(np.maximum(np.asarray(values, dtype=float), 1e-300))
        table = np.array(self._table)
        return np.interp(logs, table, np.linspace(0, 1, TABLE_CELLS + 1), left=0.0, right=1.0)

    def expected(self) -> float:
        """The mean of what ``sample`` draws."""
        return _table_mean(np.array(self._table))

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "parametric":
            out.update(family=self.family, params=list(self.params))
        else:
            out["points"] = [[p, v] for p, v in self.points]
            if self.mean is not None:
                out["mean"] = self.mean
        out.update(low=self.low, high=self.high)
        if self.fit:
            out["fit"] = self.fit
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> SizeModel:
        """A model from its JSON form; errors name the field (``where``) and the fix."""
        if not isinstance(data, dict):
            raise InputError("must be an object with a 'kind'", where=where)
        try:
            points = tuple((float(p), float(v)) for p, v in data.get("points", ()))
            params = tuple(float(x) for x in data.get("params", ()))
            mean = data.get("mean")
            model = cls(
                kind=data.get("kind"),  # type: ignore[arg-type]
                family=data.get("family"),
                params=params,
                points=points,
                mean=None if mean is None else float(mean),
                low=float(data.get("low", 1.0)),
                high=float(data.get("high", MAX_SIZE)),
                fit=dict(data["fit"]) if isinstance(data.get("fit"), dict) else {},
            )
            model.expected()  # a mean the points cannot give fails now, with the field
            return model
        except (TypeError, ValueError) as exc:
            raise InputError(str(exc), where=where, fix="write it as `aura-lab profile` does") from None


_NORMAL = NormalDist()


def probit(u) -> np.ndarray:
    """The standard normal quantile of each probability (-/+ 40 at 0 and 1)."""
    u = np.asarray(u, dtype=float)
    flat = [_NORMAL.inv_cdf(p) if 0 < p < 1 else (-40.0 if p <= 0 else 40.0) for p in u.ravel()]
    return np.array(flat, dtype=float).reshape(u.shape)


@cache
def _grid_scores() -> np.ndarray:
    """The normal scores of the sampling table's probabilities (computed once)."""
    return probit(np.linspace(0, 1, TABLE_CELLS + 1))


def pchip(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Monotone piecewise cubic Hermite interpolation (Fritsch and Carlson, as scipy's
    PchipInterpolator) of the points (x, y) at ``at`` (within [x0, xn])."""
    h = np.diff(x)
    delta = np.diff(y) / h
    d = np.zeros_like(y)
    if len(x) == 2:
        d[:] = delta[0]
    else:
        w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
        same = delta[:-1] * delta[1:] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            d[1:-1] = np.where(same, (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:]), 0.0)
        d[0] = _end_slope(h[0], h[1], delta[0], delta[1])
        d[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    i = np.clip(np.searchsorted(x, at, side="right") - 1, 0, len(x) - 2)
    t = (at - x[i]) / h[i]
    t2, t3 = t * t, t * t * t
    return (
        (2 * t3 - 3 * t2 + 1) * y[i]
        + (t3 - 2 * t2 + t) * h[i] * d[i]
        + (-2 * t3 + 3 * t2) * y[i + 1]
        + (t3 - t2) * h[i] * d[i + 1]
    )


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3 * m0):
        return 3 * m0
    return float(d)


def _table_mean(log_table: np.ndarray) -> float:
    """The mean of a log-linear quantile table: per cell, (e^b - e^a) / (b - a)."""
    a, b = log_table[:-1], log_table[1:]
    d = b - a
    flat = np.abs(d) < 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = np.where(flat, np.exp((a + b) / 2), (np.exp(b) - np.exp(a)) / np.where(flat, 1, d))
    return float(cells.mean())
