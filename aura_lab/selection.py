"""Template selectors: which template the synthesiser uses next.

A selector has ``choose(candidates, rng) -> template_id`` and ``update(template_id,
ratio)``; the runner feeds it every reply for messages generated from a template.
Uniform is the default (realistic traffic); epsilon-greedy is the peer's selection bias.
Offline strategies (UCB1, Thompson sampling) live in ``aura_lab.analysis.selection``.
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Protocol, Sequence


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


class EpsilonGreedySelector:
    """The peer's bias: explore with probability ``explore``; otherwise pick a template
    with weight ``max(mean ratio, 1) ** 2`` (``unseen_weight`` for templates never seen)."""

    name = "epsilon-greedy"

    def __init__(self, explore: float = 0.3, unseen_weight: float = 1.5):
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore must be within 0..1, got {explore}")
        self.explore = explore
        self.unseen_weight = unseen_weight
        self._sum: dict[int, float] = defaultdict(float)
        self._count: dict[int, int] = defaultdict(int)

    def mean_ratio(self, template_id: int) -> float | None:
        n = self._count.get(template_id, 0)
        return self._sum[template_id] / n if n else None

    def weight(self, template_id: int) -> float:
        mean = self.mean_ratio(template_id)
        return self.unseen_weight if mean is None else max(mean, 1.0) ** 2

    def choose(self, candidates: Sequence[int], rng: random.Random) -> int:
        if rng.random() < self.explore:
            return candidates[rng.randrange(len(candidates))]
        return rng.choices(list(candidates), weights=[self.weight(t) for t in candidates])[0]

    def update(self, template_id: int, ratio: float) -> None:
        if ratio is None or ratio != ratio:  # None or NaN: nothing learned
            return
        self._sum[template_id] += float(ratio)
        self._count[template_id] += 1

    def stats(self) -> dict[int, dict]:
        return {t: {"uses": self._count[t], "mean_ratio": self.mean_ratio(t)} for t in self._count}


def make_selector(name: str, explore: float = 0.3) -> Selector:
    if name == "uniform":
        return UniformSelector()
    if name in ("epsilon-greedy", "epsilon_greedy"):
        return EpsilonGreedySelector(explore=explore)
    from .errors import InputError

    raise InputError(f"unknown selection {name!r}", where="--selection", fix="use uniform or epsilon-greedy")
