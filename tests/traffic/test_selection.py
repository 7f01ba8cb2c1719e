"""aura_lab.selection: uniform and the peer's epsilon-greedy bias."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from aura_lab.errors import InputError
from aura_lab.traffic.selection import EpsilonGreedySelector, UniformSelector, make_selector

CANDIDATES = [10, 20, 30, 40]


def draw(selector, n=20_000, seed=3):
    rng = random.Random(seed)
    return Counter(selector.choose(CANDIDATES, rng) for _ in range(n))


def test_uniform():
    counts = draw(UniformSelector())
    assert set(counts) == set(CANDIDATES)
    assert all(abs(c / 20_000 - 0.25) < 0.02 for c in counts.values()), counts


def test_epsilon_greedy_exploits_higher_mean_ratio():
    selector = EpsilonGreedySelector(explore=0.0)
    for tid, ratio in ((10, 4.0), (20, 1.0), (30, 0.5), (40, 2.0)):
        for _ in range(5):
            selector.update(tid, ratio)
    assert selector.mean_ratio(10) == pytest.approx(4.0)
    # weights max(mean, 1)^2: 16, 1, 1, 4 -> 16/22 of the draws for template 10
    assert selector.weight(10) == 16 and selector.weight(30) == 1 and selector.weight(40) == 4
    counts = draw(selector)
    assert counts.most_common(1)[0][0] == 10
    assert abs(counts[10] / 20_000 - 16 / 22) < 0.02, counts
    assert abs(counts[40] / 20_000 - 4 / 22) < 0.02, counts


def test_epsilon_greedy_unseen_weight():
    selector = EpsilonGreedySelector(explore=0.0, unseen_weight=1.5)
    selector.update(10, 1.0)
    assert selector.weight(10) == 1.0 and selector.weight(20) == 1.5
    assert selector.stats() == {10: {"uses": 1, "mean_ratio": 1.0}}


def test_epsilon_greedy_explore_one_is_uniform():
    selector = EpsilonGreedySelector(explore=1.0)
    for _ in range(10):
        selector.update(10, 100.0)
    counts = draw(selector)
    assert all(abs(c / 20_000 - 0.25) < 0.02 for c in counts.values()), counts


def test_update_ignores_missing_ratio():
    selector = EpsilonGreedySelector()
    selector.update(10, None)
    selector.update(10, float("nan"))
    assert selector.mean_ratio(10) is None


def test_make_selector():
    assert isinstance(make_selector("uniform"), UniformSelector)
    assert make_selector("epsilon-greedy", explore=0.2).explore == 0.2
    with pytest.raises(InputError, match="selection"):
        make_selector("greedy")
    with pytest.raises(ValueError):
        EpsilonGreedySelector(explore=1.5)


def test_epsilon_greedy_kept_weights_choose_what_fresh_ones_would():
    """The weights are kept as the replies come (choosing computed ~35 of them per
    message): the choices are the ones computed from the means at choose time."""

    def fresh_choice(selector, candidates, rng):
        if rng.random() < selector.explore:
            return candidates[rng.randrange(len(candidates))]
        weights = []
        for t in candidates:
            mean = selector.mean_ratio(t)
            weights.append(selector.unseen_weight if mean is None else max(mean, 1.0) ** 2)
        return rng.choices(list(candidates), weights=weights)[0]

    kept, fresh = EpsilonGreedySelector(), EpsilonGreedySelector()
    rng_kept, rng_fresh, ratios = random.Random(1), random.Random(1), random.Random(2)
    candidates = list(range(40))
    for _ in range(5000):
        choice = kept.choose(candidates, rng_kept)
        assert choice == fresh_choice(fresh, candidates, rng_fresh)
        ratio = ratios.choice([ratios.uniform(0.5, 3.0), None, float("nan")])
        kept.update(choice, ratio)
        fresh.update(choice, ratio)
    assert all(kept.weight(t) == max(kept.mean_ratio(t) or 0, 1.0) ** 2 for t in kept.stats())
