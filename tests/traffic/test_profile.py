"""Traffic profiles: size models (quantile functions and families), the built-in
``assistant`` profile against the published figures, profile files and their errors."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

import numpy as np
import pytest
from scipy import stats
from scipy.interpolate import PchipInterpolator

from aura_lab.errors import InputError
from aura_lab.traffic.conversations import band_of
from aura_lab.traffic.generator import GeneratorConfig, generate
from aura_lab.traffic.profile import (
    PEER,
    PUBLISHED_FIGURES,
    PUBLISHED_MESSAGES,
    PUBLISHED_PROBABILITIES,
    PUBLISHED_SHARES,
    PUBLISHED_SIZES,
    load_profile,
    profile_from_dict,
)
from aura_lab.traffic.sizes import SizeModel, pchip

# -- size models ------------------------------------------------------------------------------


def test_pchip_is_scipys():
    x = np.array([-1.64, -0.67, 0.0, 0.67, 1.64])
    for y in (np.log([15, 53, 114, 371, 4132]), np.array([0.0, 1.0, 1.0, 3.0, 2.5])):
        at = np.linspace(x[0], x[-1], 301)
        assert np.allclose(pchip(x, y, at), PchipInterpolator(x, y)(at), atol=1e-12)


def test_quantile_model_goes_through_its_points_and_its_mean():
    points = tuple(zip(PUBLISHED_PROBABILITIES, (15.0, 53.0, 114.0, 371.0, 4132.0)))
    model = SizeModel("quantiles", points=points, mean=775.0, high=65536)
    assert np.allclose(model.ppf([p for p, _ in points]), [v for _, v in points], rtol=1e-9)
    grid = model.ppf(np.linspace(0.001, 0.999, 999))
    assert (np.diff(grid) >= 0).all()
    assert model.expected() == pytest.approx(775.0, rel=1e-3)
    # the adjacent slope alone would make the human tail far heavier than the published mean
    assert SizeModel("quantiles", points=points, high=65536).expected() > 1.3 * 775


def test_sampling_follows_the_model():
    model = SizeModel("parametric", family="lognorm", params=(0.8, 0.0, 300.0))
    import random

    rng = random.Random(3)
    draws = np.array([model.sample(rng) for _ in range(20_000)])
    assert stats.kstest(draws, "lognorm", args=(0.8, 0.0, 300.0)).statistic < 0.02


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "nope"}, "kind must be one of"),
        ({"kind": "quantiles", "points": [[0.5, 10]]}, "at least two"),
        ({"kind": "quantiles", "points": [[0.5, 10], [0.4, 20]]}, "rise strictly"),
        ({"kind": "quantiles", "points": [[0.2, 10], [0.4, 5]]}, "never fall"),
        ({"kind": "parametric", "family": "cauchy"}, "family must be one of"),
        ({"kind": "quantiles", "points": [[0.2, 10], [0.8, 20]], "mean": 1.0}, "below what the points allow"),
        # these made every message 1 MiB (or 1 byte) without a word
        ({"kind": "parametric", "family": "weibull_min", "params": [float("nan")] * 3}, "3 finite params"),
        ({"kind": "parametric", "family": "weibull_min", "params": [2.0]}, "3 finite params"),
        ({"kind": "parametric", "family": "lognorm", "params": [-1.0, 0.0, 300.0]}, "must be above 0"),
        ({"kind": "parametric", "family": "expon", "params": [0.0, 1e308]}, "within +-1e12"),
    ],
)
def test_bad_models_are_named(data, message):
    with pytest.raises(InputError) as err:
        model = SizeModel.from_dict(data, "p.json: sizes.human.first")
        model.expected()
    assert "p.json: sizes.human.first" in str(err.value) or message in str(err.value)
    assert message in str(err.value)


# -- the built-in assistant profile against the published figures -----------------------------


@pytest.fixture(scope="module")
def assistant_traffic():
    """40,000 messages of the default profile, grouped by conversation."""
    messages = generate(GeneratorConfig(seed=3), 40_000)
    conversations = defaultdict(list)
    for m in messages:
        conversations[m.user_id].append(m)
    conversations.pop(messages[-1].user_id)  # the last one may be cut short
    return conversations


def test_assistant_profile_is_the_default_and_two_sided():
    assert GeneratorConfig().profile.name == "assistant"
    assert load_profile(None).two_sided and not PEER.two_sided


def test_assistant_profile_within_ks_010_of_the_published_figures(assistant_traffic):
    """The generated sizes' CDF at every published quantile, per role and band, and the
    share per size band, per role (which the profile was not built from: a check)."""
    by_band, by_role = defaultdict(list), defaultdict(list)
    for messages in assistant_traffic.values():
        seen: dict[str, int] = defaultdict(int)
        for m in messages:
            role = "assistant" if m.role == "ai" else "human"
            seen[role] += 1
            size = len(m.text.encode("utf-8"))
            by_band[(role, band_of(seen[role]))].append(size)
            by_role[role].append(size)
    worst = {}
    for (role, band), sizes in sorted(by_band.items()):
        values = np.array(sizes)
        quantiles, _ = PUBLISHED_SIZES[role][band]
        gaps = [abs((values <= q).mean() - p) for p, q in zip(PUBLISHED_PROBABILITIES, quantiles)]
        worst[(role, band)] = max(gaps)
        print(f"{role:<9} {band:<6} n {values.size:>6}  largest CDF gap at the published quantiles {max(gaps):.3f}")
    for role, sizes in by_role.items():
        values = np.array(sizes)
        edges = {"<50": (0, 50), "50-200": (50, 200), "200-500": (200, 500), "500-2000": (500, 2000)}
        edges["2000+"] = (2000, np.inf)
        shares = {k: ((values >= a) & (values < b)).mean() for k, (a, b) in edges.items()}
        gap = max(abs(shares[k] - PUBLISHED_SHARES[role][k]) for k in edges)
        worst[(role, "size bands")] = gap
        print(f"{role:<9} shares per size band: " + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))
    assert max(worst.values()) <= 0.10, worst
    # counts: q is the p-quantile when P(N < q) <= p <= P(N <= q); the gap is how far p is outside
    lengths = np.array([len(m) for m in assistant_traffic.values()])
    gaps = [max(0.0, (lengths < q).mean() - p, p - (lengths <= q).mean()) for p, q in PUBLISHED_MESSAGES[0]]
    print(
        f"messages per conversation: largest gap at the published quantiles {max(gaps):.3f}, mean {lengths.mean():.2f}"
    )
    assert max(gaps) <= 0.10 and lengths.mean() == pytest.approx(PUBLISHED_MESSAGES[1], rel=0.05)


def test_conversations_alternate_and_open_with_the_human(assistant_traffic):
    for messages in assistant_traffic.values():
        roles = [m.role for m in messages]
        assert roles[0] == "human"
        assert all(a != b for a, b in itertools.pairwise(roles))
        assert [m.turn for m in messages] == list(range(len(messages)))


# -- profile files ------------------------------------------------------------------------------


def test_a_profile_file_round_trips(tmp_path):
    profile = load_profile("assistant")
    path = profile.save(tmp_path / "p.json")
    again = load_profile(str(path))
    assert again.name == "assistant" and again.two_sided
    for role, bands in profile.sizes.items():
        for band, model in bands.items():
            u = np.linspace(0.01, 0.99, 50)
            assert np.allclose(again.size_model(role, band).ppf(u), model.ppf(u))
    assert load_profile(str(PEER.save(tmp_path / "peer.json"))) is PEER


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("format"), "not an aura-lab profile"),
        (lambda d: d.update(version=99), "version 99"),
        (lambda d: d["sizes"].update(robot={}), "unknown role 'robot'"),
        (lambda d: d["sizes"]["human"].update(middle={}), "unknown band 'middle'"),
        (lambda d: d["sizes"]["human"]["first"].update(points=[[0.5, "x"]]), "sizes.human.first"),
        (lambda d: d.update(first_role={"human": 0.5}), "add up to 1"),
        (lambda d: d["content_mix"]["assistant"].update(code=3), "share from 0 to 1"),
        (lambda d: d["content"]["human"].update(reuse_most=-1), "content.human.reuse_most: must be a share"),
        (lambda d: d["content"]["assistant"]["alone"].update(p10=9), "content.assistant.alone: percentiles"),
    ],
)
def test_bad_profile_files_name_the_file_and_field(tmp_path, mutate, message):
    data = load_profile("assistant").to_dict()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_profile(str(path))
    assert str(path) in str(err.value) and message in str(err.value), str(err.value)


def test_unknown_profile_name():
    with pytest.raises(InputError, match="no built-in profile 'realistic'"):
        load_profile("realistic")
    with pytest.raises(InputError, match=r"profile file not found"):
        load_profile("missing.json")


def test_profile_from_dict_rejects_non_profiles():
    with pytest.raises(InputError):
        profile_from_dict([], "x.json")


def test_command_line_names_the_profile_flag(capsys, tmp_path):
    from aura_lab.cli import main

    assert main(["generate", "--profile", "realistic"]) == 2
    assert "--profile: no built-in profile 'realistic'" in capsys.readouterr().err
    assert main(["run", "--profile", str(tmp_path / "missing.json"), "--quiet"]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["generate", "--corpus", "none"]) == 2
    assert "--corpus: the assistant profile composes every message from a corpus" in capsys.readouterr().err
    assert main(["generate", "--corpus", "none", "--profile", "peer", "--n", "3"]) == 0
    assert main(["run", "--replay", str(tmp_path), "--turns", "2-3", "--quiet"]) == 2
    assert "--turns: a replay plays each conversation as logged" in capsys.readouterr().err


def test_to_dict_is_the_callers_own_copy():
    """The built-in profiles are cached: changing what to_dict() gave changes nothing."""
    share = load_profile("assistant").code_share()
    data = load_profile("assistant").to_dict()
    data["content_mix"]["assistant"]["code"] = 3
    assert load_profile("assistant").code_share() == share


def test_content_figures_round_trip_and_old_files_get_the_published_ones(tmp_path):
    profile = load_profile("assistant")
    data = profile.to_dict()
    data["content"]["human"]["reuse_some"] = 0.25
    again = profile_from_dict(json.loads(json.dumps(data)), "p.json")
    assert again.content_figures("human")["reuse_some"] == 0.25
    assert again.content["assistant"] == PUBLISHED_FIGURES["assistant"]
    saved = load_profile(str(again.save(tmp_path / "p.json")))
    assert saved.content == again.content
    del data["content"]  # a profile file written before content figures
    old = profile_from_dict(data, "old.json")
    assert old.content == {} and old.content_figures("assistant") == PUBLISHED_FIGURES["assistant"]


def test_messages_that_cannot_reuse():
    """The human opens every conversation (nothing before it to reuse) and a third of
    human messages are shorter than a run: most reuse draws are for replies."""
    shares = load_profile("assistant").cannot_reuse
    assert 0.3 < shares["human"] < 0.5 and shares["assistant"] < 0.03
