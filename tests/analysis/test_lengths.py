import random

import numpy as np
import pytest
from scipy import stats as sps

from aura_lab.analysis.lengths import fit_distribution, fit_lengths
from aura_lab.traffic.lengths import PEER_LENGTHS
from tests.support.traces import frame_from_records, trace_frame

AI = (0.45, 160.0)  # lognorm shape, scale (characters)
HUMAN = (0.6, 50.0)


def _lognormal_trace(n_users=150, n_turns=20, codecs=("deflate",), seed=1):
    rng = np.random.default_rng(seed)
    records = []
    for user in range(n_users):
        role = "ai" if user % 2 == 0 else "human"
        shape, scale = AI if role == "ai" else HUMAN
        lengths = np.clip(np.round(sps.lognorm.rvs(shape, scale=scale, size=n_turns, random_state=rng)), 1, None)
        for turn, length in enumerate(lengths):
            for codec in codecs:
                records.append(
                    {
                        "run_id": "r",
                        "codec": codec,
                        "user_id": user,
                        "role": role,
                        "turn": turn,
                        "length_chars": int(length),
                        "status": "ok",
                    }
                )
    return frame_from_records(records)


def test_fit_distribution_picks_lognorm_for_lognormal_data():
    values = sps.lognorm.rvs(0.5, scale=120, size=3000, random_state=np.random.default_rng(0))
    fits = fit_distribution(values)
    assert [f.aic for f in fits] == sorted(f.aic for f in fits)
    assert {f.distribution for f in fits} == {"lognorm", "gamma", "weibull_min", "expon", "norm"}
    best = fits[0]
    assert best.distribution == "lognorm"
    assert best.params[1] == 0  # floc=0
    assert best.params[0] == pytest.approx(0.5, rel=0.05)
    assert best.params[2] == pytest.approx(120, rel=0.05)
    assert best.ks_pvalue > 0.01 and best.ks_stat < 0.05
    assert fits[-1].ks_stat > best.ks_stat


def test_fit_distribution_drops_degenerate_input():
    assert fit_distribution([5, 5, 5]) == []
    assert fit_distribution([]) == []


def test_fits_table_is_tidy_with_one_choice_per_group():
    model = fit_lengths(_lognormal_trace())
    fits = model.fits
    assert list(fits.columns) == [
        "role",
        "band",
        "n",
        "distribution",
        "params",
        "aic",
        "ks_stat",
        "ks_pvalue",
        "chosen",
    ]
    assert (fits.groupby(["role", "band"])["chosen"].sum() == 1).all()
    # 75 users per role, 20 turns: opening 75, early 150, middle 525, late 750, all 1500
    ai = fits[(fits["role"] == "ai") & fits["chosen"]].set_index("band")["n"]
    assert ai.to_dict() == {"opening": 75, "early": 150, "middle": 525, "late": 750, "all": 1500}
    assert set(fits[fits["chosen"]]["distribution"]) == {"lognorm"}


def test_one_message_per_codec_is_counted_once():
    one = fit_lengths(_lognormal_trace(n_users=40, codecs=("deflate",)))
    two = fit_lengths(_lognormal_trace(n_users=40, codecs=("deflate", "aura")))
    assert one.fits["n"].tolist() == two.fits["n"].tolist()


def test_fit_sample_refit_recovers_parameters():
    model = fit_lengths(_lognormal_trace())
    rng = random.Random(3)
    for role, (_shape, scale) in (("ai", AI), ("human", HUMAN)):
        drawn = [model.sample_length(role, "late", rng) for _ in range(4000)]
        refit = next(f for f in fit_distribution(drawn) if f.distribution == "lognorm")
        fitted = model.chosen[(role, "late")]
        assert refit.params[0] == pytest.approx(fitted.params[0], rel=0.10)
        assert refit.params[2] == pytest.approx(fitted.params[2], rel=0.10)
        assert fitted.params[2] == pytest.approx(scale, rel=0.10)


def test_target_range_is_narrow_around_a_fitted_length():
    model = fit_lengths(_lognormal_trace())
    rng = random.Random(5)
    ranges = [model.target_range("ai", 10, 20, rng) for _ in range(2000)]
    assert all(1 <= low < high <= 2301 for low, high in ranges)
    midpoints = [(low + high) / 2 for low, high in ranges]
    assert np.median(midpoints) == pytest.approx(160, rel=0.10)
    # deterministic for a seeded rng
    assert [model.target_range("human", 3, 20, random.Random(9)) for _ in range(3)] == [
        model.target_range("human", 3, 20, random.Random(9)) for _ in range(3)
    ]


def test_fallbacks_role_wide_then_peer_table():
    trace = _lognormal_trace(n_users=150, n_turns=3)  # opening 75, early 150 per role
    model = fit_lengths(trace, min_samples=100)
    assert model.fit_for("ai", "opening") is model.chosen[("ai", "all")]  # 75 < 100
    assert model.fit_for("ai", "early") is model.chosen[("ai", "early")]
    only_ai = fit_lengths(trace[trace["role"] == "ai"])
    rng_a, rng_b = random.Random(1), random.Random(1)
    assert only_ai.target_range("human", 5, 20, rng_a) == PEER_LENGTHS.target_range("human", 5, 20, rng_b)


def test_fit_on_a_real_trace():
    model = fit_lengths(trace_frame(), min_samples=30)
    assert not model.fits.empty and set(model.fits["role"]) == {"ai", "human"}
    low, high = model.target_range("ai", 0, 10, random.Random(0))
    assert 1 <= low < high


def test_messages_without_a_role_are_fitted_as_one_group_that_serves_both_roles():
    """The peer's traces carry no role: their lengths are fitted as ``any``, and a model
    with no fit for a role draws that role's lengths from it."""
    trace = _lognormal_trace(n_users=60, n_turns=10)
    trace["role"] = None
    model = fit_lengths(trace)
    assert model.roles == ["any"]
    assert model.fit_for("ai", "opening") is model.chosen[("any", "opening")]
    assert model.fit_for("human", "no such band") is model.chosen[("any", "all")]
    lengths = [model.target_range("ai", 5, 10, random.Random(i))[0] for i in range(200)]
    assert 20 < np.median(lengths) < 200  # drawn from the fit (medians 160 and 50), not the peer's table
