"""Template selectors: which template the synthesiser uses next.

A selector has ``choose(candidates, rng) -> template_id`` and ``update(template_id,
ratio)``; the runner feeds it every reply for messages generated from a template.
Uniform is the default (realistic traffic); epsilon-greedy is the peer's selection bias.
Offline strategies (UCB1, Thompson sampling) live in ``aura_lab.analysis.selection``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from ..errors import InputError


class Selector(Protocol):
    def choose(self, candidates: Sequence[int], rng: random.Random) -> int: ...
    def update(self, template_id: int, ratio: float) -> None: ...


class UniformSelector:
    """Every candidate equally likely: the template mix of realistic traffic."""

    name = "uniform"

    def choose(self, candidates: Sequence[int], rng: random.Random) -> int:
        return candidates[rng.randrange(len(candidates))]

    def update(self, template_id: int, ratio: float) -> None:
        pass


class MeanRatioTracker:
    """What every learning selector knows: per template, the sum and count of the
    ratios fed back (``update``), hence the mean. None or NaN teaches nothing."""

    def __init__(self):
        self._sum: dict[int, float] = {}
        self._count: dict[int, int] = {}
        self._total = 0

    def update(self, template_id: int, ratio: float) -> None:
        if ratio is None or ratio != ratio:
            return
        self._sum[template_id] = self._sum.get(template_id, 0.0) + float(ratio)
        self._count[template_id] = self._count.get(template_id, 0) + 1
        self._total += 1

    def mean_ratio(self, template_id: int) -> float | None:
        n = self._count.get(template_id, 0)
        return self._sum[template_id] / n if n else None

    def stats(self) -> dict[int, dict]:
        return {t: {"uses": n, "mean_ratio": self.mean_ratio(t)} for t, n in self._count.items()}


class EpsilonGreedySelector(MeanRatioTracker):
    """The peer's bias: explore with probability ``explore``; otherwise pick a template
    with weight ``max(mean ratio, 1) ** 2`` (``unseen_weight`` for templates never seen)."""

    name = "epsilon-greedy"

    def __init__(self, explore: float = 0.3, unseen_weight: float = 1.5):
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore must be within 0..1, got {explore}")
        super().__init__()
        self.explore = explore
        self.unseen_weight = unseen_weight
        # each seen template's weight, kept as the replies come: a run chooses once per
        # message among ~35 candidates, and computing every weight then cost 35 µs
        self._weights: dict[int, float] = {}

    def update(self, template_id: int, ratio: float) -> None:
        super().update(template_id, ratio)
        mean = self.mean_ratio(template_id)
        if mean is not None:
            self._weights[template_id] = max(mean, 1.0) ** 2

    def weight(self, template_id: int) -> float:
        return self._weights.get(template_id, self.unseen_weight)

    def choose(self, candidates: Sequence[int], rng: random.Random) -> int:
        if rng.random() < self.explore:
            return candidates[rng.randrange(len(candidates))]
        get, unseen = self._weights.get, self.unseen_weight
        return rng.choices(candidates, weights=[get(t, unseen) for t in candidates])[0]


def make_selector(name: str, explore: float = 0.3) -> Selector:
    if name == "uniform":
        return UniformSelector()
    if name in ("epsilon-greedy", "epsilon_greedy"):
        return EpsilonGreedySelector(explore=explore)
    raise InputError(f"unknown selection {name!r}", where="selection", fix="use uniform or epsilon-greedy")
