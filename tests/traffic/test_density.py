"""Density: answers weighted so that replies compress alone as the profile says."""

from __future__ import annotations

import dataclasses
import random

from aura_lab.analysis.content import content_figures
from aura_lab.analysis.realism import generated_conversations
from aura_lab.traffic.density import alone_ratio, density_weights, draw, weighted_order
from aura_lab.traffic.profile import load_profile


def test_weights_favour_the_densities_the_profile_asks_for():
    densities = [1.5 + i / 100 for i in range(150)]  # 1.5 to 2.99
    dense = density_weights(densities, {"p10": 2.6, "p50": 2.8, "p90": 2.95})
    plain = density_weights(densities, {"p10": 1.5, "p50": 1.6, "p90": 1.7})
    assert abs(sum(dense) / len(dense) - 1) < 1e-9
    assert dense[-1] > 4 * dense[0] and plain[0] > 4 * plain[-1]
    assert density_weights(densities, None) == [1.0] * 150
    rng = random.Random(1)
    cumulative = [sum(dense[: i + 1]) for i in range(150)]
    picks = [densities[draw(rng, cumulative)] for _ in range(2000)]
    assert sorted(picks)[1000] > 2.5
    assert sorted(weighted_order(rng, [0, 1, 2], dense)) == [0, 1, 2]
    assert alone_ratio("abc " * 100) > 10 > alone_ratio("a")


def test_replies_are_denser_when_the_profile_says_so():
    assistant = load_profile("assistant")
    plain_figures = {**assistant.content["assistant"], "alone": {"p10": 1.4, "p50": 1.6, "p90": 1.75}}
    plain = dataclasses.replace(assistant, content={**assistant.content, "assistant": plain_figures})
    dense_alone = content_figures(generated_conversations(assistant, 150, seed=4))["assistant"]["alone"]
    plain_alone = content_figures(generated_conversations(plain, 150, seed=4))["assistant"]["alone"]
    assert dense_alone["p50"] > plain_alone["p50"] + 0.05, (dense_alone, plain_alone)
    assert dense_alone["p75"] > plain_alone["p75"] + 0.1, (dense_alone, plain_alone)
