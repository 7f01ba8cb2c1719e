"""Revisions: the reuse share drawn from a profile's content figures, spans of earlier
text with fresh text around them, and generated conversations that reuse their own
text as much as the profile says (measured as analysis.content measures real logs)."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from aura_lab.analysis.content import content_figures
from aura_lab.analysis.realism import generated_conversations
from aura_lab.errors import InputError
from aura_lab.traffic.conversations import CHAT_ROLES
from aura_lab.traffic.generator import GeneratorConfig, generate
from aura_lab.traffic.profile import PUBLISHED_FIGURES, load_profile
from aura_lab.traffic.reuse import content_from_dict, draw_share, reuse_points, revise, span_bytes


def with_reuse(some: float, most: float, kinds: dict | None = None):
    """The assistant profile with both roles' reuse figures replaced."""
    figures = {"reuse": {"p50": 0.0}, "reuse_some": some, "reuse_most": most, "reuse_kinds": kinds}
    return dataclasses.replace(load_profile("assistant"), content={role: figures for role in CHAT_ROLES})


@pytest.fixture(scope="module")
def published_figures():
    return content_figures(generated_conversations("assistant", 600, seed=5))


def test_shares_drawn_follow_the_points():
    rng = random.Random(1)
    points = reuse_points(PUBLISHED_FIGURES["assistant"])
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(points))
    draws = [draw_share(points, rng) for _ in range(20_000)]
    assert sum(d >= 0.3 for d in draws) / len(draws) == pytest.approx(0.136, abs=0.01)
    assert sum(d >= 0.7 for d in draws) / len(draws) == pytest.approx(0.036, abs=0.006)
    # a floor: messages that cannot reuse are left out of the draw, the rest reuse more
    floored = [draw_share(points, rng, floor=0.5) for _ in range(20_000)]
    assert sum(d >= 0.3 for d in floored) / len(floored) == pytest.approx(0.272, abs=0.015)
    assert reuse_points({}) == [(0.0, 0.0), (1.0, 0.0)]
    none = reuse_points({"reuse": {"p90": 0.0}, "reuse_some": 0.0, "reuse_most": 0.0})
    assert max(draw_share(none, rng) for _ in range(1000)) == 0.0


def test_span_size_and_revisions():
    assert span_bytes(0.9, 31) == 0  # shorter than a run: nothing to count
    assert span_bytes(0.005, 500) == 0 and span_bytes(0.02, 500) == 36  # less than one run; one
    assert span_bytes(1.0, 400) == 400 and 190 <= span_bytes(0.5, 400) <= 220
    code = "\n".join(f"def step_{i}(x):\n    return x + {i}" for i in range(12))
    fresh = lambda n: "word " * (n // 5)
    text = revise("code", code, 900, fresh, random.Random(2), ["print('changed here')"])
    assert "```\n" + code.split("\n")[0] in text and "print('changed here')" in text
    assert text.count("```") == 2 and abs(len(text) - 900) < 120
    quoted = revise("quote", "the answer you gave", 200, fresh, random.Random(3))
    assert "the answer you gave" in quoted


def test_generated_reuse_follows_the_published_figures(published_figures):
    """Done when: over 600 conversations of the assistant profile, the shares of messages
    reusing >= 30 % and >= 70 % of their text are near the profile's, per role (real
    assistant 13.6 % / 3.6 %, human 10 % / 5.6 %; the generator without revisions gave
    0.7 % of replies)."""
    for role in CHAT_ROLES:
        got, want = published_figures[role], PUBLISHED_FIGURES[role]
        assert got["reuse_some"] == pytest.approx(want["reuse_some"], abs=0.035), role
        assert got["reuse_most"] == pytest.approx(want["reuse_most"], abs=0.02), role
    kinds = published_figures["assistant"]["reuse_kinds"]
    assert all(kinds[k] > 0.05 for k in ("code", "quote", "repeat")), kinds


def test_more_reuse_in_the_profile_more_in_the_traffic():
    heavy = content_figures(generated_conversations(with_reuse(0.5, 0.25), 150, seed=2))
    none = content_figures(generated_conversations(with_reuse(0.0, 0.0), 150, seed=2))
    for role in CHAT_ROLES:
        assert heavy[role]["reuse_some"] > 0.3 and none[role]["reuse_some"] < 0.05, role
    quoting = content_figures(generated_conversations(with_reuse(0.5, 0.25, {"quote": 1.0}), 150, seed=2))
    assert quoting["human"]["reuse_kinds"]["quote"] > 0.7


def test_same_seed_same_revisions():
    config = GeneratorConfig(seed=9, profile=with_reuse(0.6, 0.3))
    first = [m.text for m in generate(config, 300)]
    assert first == [m.text for m in generate(config, 300)]
    assert first != [m.text for m in generate(dataclasses.replace(config, seed=10), 300)]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"robot": {}}, "content: unknown role 'robot'"),
        ({"human": {"reuse_some": 1.5}}, "content.human.reuse_some: must be a share from 0 to 1"),
        ({"human": {"reuse_some": 0.1, "reuse_most": 0.2}}, "content.human.reuse_most: must not exceed"),
        ({"assistant": {"alone": {"p50": 2.0, "p90": 1.5}}}, "content.assistant.alone: percentiles must not decrease"),
        ({"assistant": {"gain": {"p50": "high"}}}, "content.assistant.gain.p50: must be a number"),
        ({"assistant": {"reuse": {"p99": 0.1}}}, "content.assistant.reuse: unknown percentile 'p99'"),
        ({"assistant": {"reuse_kinds": {"code": 0.5}}}, "content.assistant.reuse_kinds: the shares must add up to 1"),
        ({"assistant": {"colour": 1}}, "content.assistant: unknown key 'colour'"),
    ],
)
def test_bad_content_figures_name_the_field(data, message):
    with pytest.raises(InputError) as err:
        content_from_dict(data, "team.json", CHAT_ROLES)
    assert str(err.value).startswith("team.json: ") and message in str(err.value), str(err.value)
