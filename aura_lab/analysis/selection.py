"""Offline template-selection simulator: which strategy would have compressed best,
and how far would it have pulled the template mix away from realistic traffic?

Drawing a message from template ``t`` replays one (original_size, compressed_size) pair
observed for ``t`` in the trace, picked at random; the overall ratio is sum original /
sum compressed bytes, as in every summary. The realistic mix is the observed template
frequencies of the trace.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..traffic.selection import EpsilonGreedySelector, MeanRatioTracker, Selector, make_selector

STRATEGIES = ("uniform", "epsilon-greedy", "ucb1", "thompson")
MIX_SMOOTHING = 0.5  # additive (Jeffreys) smoothing of template counts before KL


class UCB1Selector(MeanRatioTracker):
    """UCB1: every template once, then the highest ``mean + c * sqrt(2 ln N / n_t)``.

    Ratios are not bounded to [0, 1] as UCB1's bound assumes, so ``c`` (in ratio units)
    sets how wide the exploration bonus is."""

    name = "ucb1"

    def __init__(self, c: float = 1.0):
        super().__init__()
        self.c = c

    def choose(self, candidates: Sequence[int], rng: random.Random) -> int:
        unseen = [t for t in candidates if t not in self._count]
        if unseen:
            return unseen[rng.randrange(len(unseen))]
        log_total = math.log(max(self._total, 1))

        def score(t: int) -> float:
            return (self.mean_ratio(t) or 0.0) + self.c * math.sqrt(2 * log_total / self._count[t])

        return max(candidates, key=score)


class ThompsonSelector(MeanRatioTracker):
    """Thompson sampling with a Gaussian posterior on each template's mean ratio.

    Prior N(``prior_mean``, ``prior_sd``^2) (1.0: no compression); observation noise
    ``noise_sd``. Each choice samples every template's mean and takes the largest."""

    name = "thompson"

    def __init__(self, prior_mean: float = 1.0, prior_sd: float = 1.0, noise_sd: float = 1.0):
        super().__init__()
        self.prior_mean = prior_mean
        self.prior_precision = 1.0 / prior_sd**2
        self.noise_precision = 1.0 / noise_sd**2

    def posterior(self, template_id: int) -> tuple[float, float]:
        """(mean, sd) of the posterior on the template's mean ratio."""
        n = self._count.get(template_id, 0)
        precision = self.prior_precision + n * self.noise_precision
        mean = (
            self.prior_precision * self.prior_mean + self.noise_precision * self._sum.get(template_id, 0.0)
        ) / precision
        return mean, 1.0 / math.sqrt(precision)

    def choose(self, candidates: Sequence[int], rng: random.Random) -> int:
        best, best_draw = candidates[0], -math.inf
        for t in candidates:
            draw = rng.gauss(*self.posterior(t))
            if draw > best_draw:
                best, best_draw = t, draw
        return best


@dataclass
class SelectionResult:
    """``curves``: strategy, message (1-based), cumulative_ratio. ``summary``: one row a
    strategy. ``realistic_mix``: template -> share in the trace."""

    curves: pd.DataFrame
    summary: pd.DataFrame
    realistic_mix: pd.Series


def make_strategy(name: str, explore: float = 0.3) -> Selector:
    if name in ("uniform", "epsilon-greedy"):
        return make_selector(name, explore)
    if name == "ucb1":
        return UCB1Selector()
    if name == "thompson":
        return ThompsonSelector()
    raise InputError(f"unknown strategy {name!r}", where="strategies", fix=f"use some of {', '.join(STRATEGIES)}")


def template_pairs(df: pd.DataFrame, codec: str | None = None) -> dict[int, np.ndarray]:
    """template_id -> array of (original_size, compressed_size) rows observed for it."""
    rows = df[df["status"].astype("string").eq("ok").fillna(False)]
    if codec is not None:
        rows = rows[rows["codec"].astype(str) == codec]
    elif rows["codec"].nunique() > 1:
        raise InputError(
            f"the trace holds several codecs ({', '.join(sorted(map(str, rows['codec'].unique())))})",
            where="simulate_selection",
            fix="pass codec=... to replay one codec's sizes",
        )
    rows = rows.dropna(subset=["template_id", "original_size", "compressed_size"])
    rows = rows[rows["compressed_size"] > 0]
    return {
        int(t): g[["original_size", "compressed_size"]].to_numpy(float)
        for t, g in rows.groupby("template_id", observed=True, sort=True)
    }


def mix_divergence(
    counts: dict[int, int], realistic: pd.Series, smoothing: float = MIX_SMOOTHING
) -> tuple[float, float]:
    """(KL(strategy mix || realistic mix) in nats, total variation distance), both over
    the trace's templates; KL on counts smoothed by ``smoothing``, TV on raw shares."""
    ids = list(realistic.index)
    chosen = np.array([counts.get(t, 0) for t in ids], dtype=float)
    real_counts = realistic.to_numpy(float)
    p = (chosen + smoothing) / (chosen.sum() + smoothing * len(ids))
    q = (real_counts + smoothing) / (real_counts.sum() + smoothing * len(ids))
    kl = float(np.sum(p * np.log(p / q)))
    tv = float(0.5 * np.abs(chosen / max(chosen.sum(), 1) - real_counts / real_counts.sum()).sum())
    return kl, tv


def _replay(
    selector: Selector,
    pairs: dict[int, np.ndarray],
    n_messages: int,
    rng: random.Random,
    warmup_messages: int,
    explore_after_warmup: float,
):
    candidates = list(pairs)
    counts: dict[int, int] = {}
    original = compressed = 0.0
    cumulative = np.empty(n_messages)
    for i in range(n_messages):
        if i == warmup_messages and isinstance(selector, EpsilonGreedySelector):
            selector.explore = explore_after_warmup  # the peer explores less after warmup
        template = selector.choose(candidates, rng)
        size_original, size_compressed = pairs[template][rng.randrange(len(pairs[template]))]
        original += size_original
        compressed += size_compressed
        selector.update(template, size_original / size_compressed)
        counts[template] = counts.get(template, 0) + 1
        cumulative[i] = original / compressed
    return cumulative, counts


def simulate_selection(
    df: pd.DataFrame,
    strategies: Sequence[str] = STRATEGIES,
    n_messages: int = 5000,
    seed: int = 0,
    codec: str | None = None,
    warmup_messages: int = 200,
    explore: float = 0.3,
    explore_after_warmup: float = 0.2,
) -> SelectionResult:
    """Replay ``n_messages`` template choices per strategy. Epsilon-greedy is the peer's:
    ``explore`` until ``warmup_messages`` messages, ``explore_after_warmup`` after.
    Deterministic for a ``seed``."""
    if n_messages < 1:
        raise InputError(f"n_messages must be >= 1, got {n_messages}", where="simulate_selection")
    pairs = template_pairs(df, codec)
    if not pairs:
        raise InputError(
            "no successful templated messages with sizes to replay",
            where="simulate_selection",
            fix="use a trace whose messages carry template_id, original_size and compressed_size",
        )
    realistic = pd.Series({t: len(v) for t, v in pairs.items()}, dtype=float).sort_index()
    names = list(dict.fromkeys(strategies))
    curves, summary = [], []
    for name in dict.fromkeys(["uniform", *names]):  # uniform is always the baseline
        rng = random.Random(f"aura-lab:selection:{seed}:{name}")
        cumulative, counts = _replay(
            make_strategy(name, explore), pairs, n_messages, rng, warmup_messages, explore_after_warmup
        )
        kl, tv = mix_divergence(counts, realistic)
        summary.append(
            {
                "strategy": name,
                "messages": n_messages,
                "overall_ratio": float(cumulative[-1]),
                "kl_divergence": kl,
                "tv_distance": tv,
                "templates_used": len(counts),
            }
        )
        if name in names:
            curves.append(
                pd.DataFrame(
                    {"strategy": name, "message": np.arange(1, n_messages + 1), "cumulative_ratio": cumulative}
                )
            )
    table = pd.DataFrame(summary)
    baseline = float(table.loc[table["strategy"] == "uniform", "overall_ratio"].iloc[0])
    table["gain_over_uniform"] = table["overall_ratio"] / baseline - 1
    table = table[table["strategy"].isin(names)].set_index("strategy").loc[names].reset_index()
    realistic_mix = (realistic / realistic.sum()).rename("share")
    realistic_mix.index.name = "template_id"
    return SelectionResult(pd.concat(curves, ignore_index=True), table, realistic_mix)
