"""How dense a text is (its ratio compressed alone) and how to draw texts so that the
traffic's density follows a profile's.

Real assistant replies are more repetitive than most hand-written answers: their ratio
compressed alone (raw deflate, level 6, as ``aura_lab.analysis.content`` measures it)
has a median of 2.16 where the bundled answers' is about 1.9. The generator cannot
change an answer's text, but it can choose which answers it composes from:
``density_weights`` gives each answer a weight so that the answers drawn follow the
profile's ``alone`` percentiles (equal-count bins of the corpus's densities, each
weighted by the profile's share of that range over the corpus's, capped so that a few
dense answers do not take over). Pure: no randomness here, the caller draws.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import zlib
from collections.abc import Sequence

LEVEL = 6  # as analysis.content measures
BINS = 10
MAX_WEIGHT = 8.0  # times the mean weight


def alone_ratio(text: str) -> float:
    """UTF-8 bytes of ``text`` over its raw deflate bytes (level 6)."""
    data = text.encode("utf-8", "surrogatepass")
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return len(data) / max(1, len(compressor.compress(data) + compressor.flush()))


def _cdf(points: list[tuple[float, float]], value: float) -> float:
    """Share of a distribution below ``value``, linear in log value between its
    ``(probability, value)`` points and beyond them at the slope of the nearest two."""
    x = math.log(value)
    logs = [(p, math.log(v)) for p, v in points]
    if len(logs) == 1:
        return 0.0 if x < logs[0][1] else 1.0
    for (p0, x0), (p1, x1) in itertools.pairwise(logs):
        if x <= x1 or (p1, x1) == logs[-1]:
            if x1 == x0:
                return p1 if x >= x1 else p0
            return min(1.0, max(0.0, p0 + (p1 - p0) * (x - x0) / (x1 - x0)))
    return 1.0


def density_weights(densities: Sequence[float], alone: dict[str, float] | None) -> list[float]:
    """A weight per text (mean 1) so that texts drawn by weight have densities spread as
    the ``alone`` percentiles (``{"p10": ..., "p90": ...}``) say; all 1 without them."""
    n = len(densities)
    points = sorted((int(k[1:]) / 100, v) for k, v in (alone or {}).items() if v and v > 0)
    if n < BINS or len(points) < 2:
        return [1.0] * n
    order = sorted(range(n), key=lambda i: densities[i])
    weights = [1.0] * n
    for b in range(BINS):
        members = order[b * n // BINS : (b + 1) * n // BINS]
        low = 0.0 if b == 0 else _cdf(points, densities[members[0]])
        high = 1.0 if b == BINS - 1 else _cdf(points, densities[order[(b + 1) * n // BINS]])
        for i in members:
            weights[i] = max(high - low, 1e-3) * BINS
    mean = sum(weights) / n
    weights = [min(w / mean, MAX_WEIGHT) for w in weights]
    mean = sum(weights) / n
    return [w / mean for w in weights]


def draw(rng: random.Random, cumulative: Sequence[float]) -> int:
    """An index drawn by weight (``cumulative``: the running sums of the weights)."""
    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def weighted_order(rng: random.Random, items: Sequence[int], weights: Sequence[float]) -> list[int]:
    """``items`` shuffled, heavier ones earlier (a draw without replacement by weight)."""
    keys = [rng.random() ** (1 / max(weights[i], 1e-9)) for i in items]
    return [i for _, i in sorted(zip(keys, items), reverse=True)]
