import random

import pandas as pd
import pytest

from aura_lab.analysis.selection import (
    ThompsonSelector,
    UCB1Selector,
    mix_divergence,
    simulate_selection,
)
from aura_lab.errors import InputError
from tests.support.traces import frame_from_records, trace_frame


def _trace(pairs_by_template, uses=10):
    records = []
    for tid, (original, compressed) in pairs_by_template.items():
        records += [
            {
                "codec": "deflate",
                "template_id": tid,
                "status": "ok",
                "original_size": original,
                "compressed_size": compressed,
                "ratio": original / compressed,
            }
        ] * uses
    return frame_from_records(records)


ONE_GOOD = {0: (400, 100), **{t: (100, 100) for t in range(1, 10)}}  # template 0: ratio 4


def test_learning_strategies_beat_uniform_on_one_good_template():
    result = simulate_selection(_trace(ONE_GOOD), n_messages=3000, seed=1)
    summary = result.summary.set_index("strategy")
    assert list(result.summary["strategy"]) == ["uniform", "epsilon-greedy", "ucb1", "thompson"]
    assert summary.loc["uniform", "gain_over_uniform"] == 0
    for name in ("epsilon-greedy", "ucb1", "thompson"):
        assert summary.loc[name, "gain_over_uniform"] > 0.2
        assert summary.loc[name, "tv_distance"] > summary.loc["uniform", "tv_distance"]
        assert summary.loc[name, "kl_divergence"] > summary.loc["uniform", "kl_divergence"]
    # uniform replays the realistic (here uniform) mix: nearly no divergence
    assert summary.loc["uniform", "tv_distance"] < 0.05
    # every message of uniform has ratio 4 with p=1/10: sum 400+9*100 over 10*100 bytes
    assert summary.loc["uniform", "overall_ratio"] == pytest.approx(1300 / 1000, rel=0.05)


def test_cumulative_ratio_replays_sizes_not_ratios():
    # two pairs for one template: sum original / sum compressed, not the mean of ratios
    records = [
        {"codec": "deflate", "template_id": 5, "status": "ok", "original_size": o, "compressed_size": c, "ratio": o / c}
        for o, c in ((100, 50), (300, 50))
    ]
    result = simulate_selection(frame_from_records(records), strategies=("uniform",), n_messages=500)
    curve = result.curves
    assert len(curve) == 500 and curve["message"].tolist() == list(range(1, 501))
    final = curve["cumulative_ratio"].iloc[-1]
    assert 2.0 < final < 6.0
    assert final == pytest.approx(4.0, rel=0.1)  # (100 + 300) / (50 + 50) on average


def test_deterministic_for_a_seed():
    df = trace_frame()
    a = simulate_selection(df, n_messages=800, seed=3, codec="aura")
    b = simulate_selection(df, n_messages=800, seed=3, codec="aura")
    c = simulate_selection(df, n_messages=800, seed=4, codec="aura")
    assert a.summary.equals(b.summary) and a.curves.equals(b.curves)
    assert not a.curves.equals(c.curves)
    assert a.realistic_mix.sum() == pytest.approx(1.0)


def test_several_codecs_need_a_codec_choice():
    with pytest.raises(InputError, match="codec"):
        simulate_selection(trace_frame(), n_messages=10)


def test_mix_divergence():
    realistic = pd.Series({1: 50.0, 2: 50.0})
    assert mix_divergence({1: 50, 2: 50}, realistic) == (pytest.approx(0.0), pytest.approx(0.0))
    kl, tv = mix_divergence({1: 100}, realistic)
    assert tv == pytest.approx(0.5) and kl > 0.5


def test_selectors_follow_the_protocol():
    rng = random.Random(0)
    for selector in (UCB1Selector(), ThompsonSelector()):
        for _ in range(200):
            t = selector.choose([1, 2, 3], rng)
            assert t in (1, 2, 3)
            selector.update(t, 3.0 if t == 2 else 1.0)
        selector.update(1, float("nan"))  # ignored
        picks = [selector.choose([1, 2, 3], rng) for _ in range(50)]
        assert picks.count(2) > 40
    ucb = UCB1Selector()  # tries every template once before trusting means
    first = []
    for _ in range(3):
        first.append(ucb.choose([7, 8, 9], rng))
        ucb.update(first[-1], 1.0)
    assert sorted(first) == [7, 8, 9]
