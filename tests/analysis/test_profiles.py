"""Fitting profiles to logs: families by AIC with a quantile fallback, the fitted
profile reproduces held-out logs, no message text in the file; ``aura-lab profile``."""

from __future__ import annotations

import json
import random
import string

import numpy as np
import pytest

from aura_lab.analysis.content import content_figures
from aura_lab.analysis.profiles import fit_profile, fit_size, profile_table
from aura_lab.analysis.realism import format_realism, generated_conversations, realism
from aura_lab.cli import main
from aura_lab.traces.logs import LogReport, read_logs
from aura_lab.traffic.conversations import Conversation, LogMessage
from aura_lab.traffic.profile import load_profile
from tests.support.logs import make_conversations, write_openai, write_sharegpt


@pytest.fixture(scope="module")
def log_set(tmp_path_factory):
    """4,000 conversations: the first half (ShareGPT) to fit, the second (OpenAI) held out."""
    folder = tmp_path_factory.mktemp("logs")
    conversations = make_conversations(4000, seed=11)
    return (
        write_sharegpt(folder / "fit.json", conversations[:2000], seed=11),
        write_openai(folder / "held-out.jsonl", conversations[2000:], seed=11),
    )


def test_a_family_that_fits_is_kept_else_the_quantiles():
    rng = np.random.default_rng(4)
    lognormal = rng.lognormal(5, 0.8, 600)
    model = fit_size(lognormal)
    assert model.kind == "parametric" and model.family == "lognorm" and model.fit["ks"] < 0.05
    assert {c["family"] for c in model.fit["candidates"]} >= {"lognorm", "gamma", "expon"}
    # short questions and pasted documents: two humps, no family fits
    mixture = np.concatenate([rng.lognormal(3.5, 0.5, 3000), rng.lognormal(7.5, 0.6, 600)])
    model = fit_size(mixture)
    assert model.kind == "quantiles" and model.fit["ks"] < 0.01
    assert model.low == pytest.approx(mixture.min()) and model.high == pytest.approx(mixture.max())


def test_fitted_profile_reproduces_held_out_logs(log_set, tmp_path):
    """Done when: fitted on one part of a log set, the generated traffic is within KS 0.06
    of the held-out part per role, and within 0.10 in messages per conversation."""
    fit_file, held_out = log_set
    report = LogReport()
    profile = fit_profile(read_logs(fit_file, report), "fitted", {"logs": report.to_dict()})
    print(profile_table(profile).to_string(index=False))
    generated = generated_conversations(profile, 4000, seed=3)
    result = realism(list(read_logs(held_out)), generated, "fitted profile", measured=300)
    print(format_realism(result, "held-out logs"))
    for role in ("human", "assistant"):
        assert result["roles"][role]["ks"] <= 0.06, (role, result["roles"][role]["ks"])
    assert result["messages_per_conversation"]["ks"] <= 0.10
    assert result["verdict"] == "close"


def test_profile_file_holds_no_text_and_loads_back(log_set, tmp_path):
    fit_file, _ = log_set
    profile = fit_profile(read_logs(fit_file), "fitted")
    path = profile.save(tmp_path / "mine.json")
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 60_000
    messages = [m.text for c in read_logs(fit_file) for m in c.messages]
    assert not [m for m in messages if len(m) > 30 and m in text]
    again = load_profile(str(path))
    assert again.two_sided and again.first_role["human"] > 0.9
    u = np.linspace(0.01, 0.99, 99)
    for role, bands in profile.sizes.items():
        for band, model in bands.items():
            assert np.allclose(again.size_model(role, band).ppf(u), model.ppf(u))


def test_profile_command(log_set, tmp_path, capsys):
    fit_file, held_out = log_set
    out = tmp_path / "team.json"
    assert main(["profile", str(fit_file), str(held_out), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sharegpt, 2000 conversations" in printed and "openai, 2000 conversations" in printed
    assert "system message (kept apart)" in printed and f"wrote {out}" in printed
    data = json.loads(out.read_text())
    assert data["name"] == "team" and data["source"]["conversations"] == 4000
    assert set(data["sizes"]) == {"human", "assistant"}
    # the profile drives generate and run
    assert main(["generate", "--n", "5", "--profile", str(out)]) == 0


def test_profile_command_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"conversations": [{"from": "human", "value": "hi"}]},\n{"conversations": [')
    assert main(["profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and len(err.strip().splitlines()) == 1
    assert main(["profile", str(tmp_path / "none.json")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["profile", str(tmp_path), "-o", str(tmp_path / "no" / "p.json")]) == 2
    assert "-o" in capsys.readouterr().err


def test_messages_without_a_role_stand_in_for_both_roles(peer_folder, capsys):
    """The peer's traces record no role: their sizes are fitted as one group (``any``)
    that stands in for both roles, marked so in the profile, its table and its source;
    the profile then drives a two-sided generator."""
    report = LogReport()
    profile = fit_profile(read_logs(peer_folder, report), "peer-fitted", {"logs": report.to_dict()}, min_samples=5)
    assert set(profile.sizes) == {"human", "assistant"}
    sizes = [m.size for c in read_logs(peer_folder) for m in c.messages]
    for role in ("human", "assistant"):
        model = profile.sizes[role]["all"]
        assert model.fit["role"] == "any" and model.fit["n"] == len(sizes)
    table = profile_table(profile)
    assert set(table["fitted_to"]) == {"any (no role)"} and set(table["role"]) == {"human", "assistant"}
    assert f"{len(sizes)} messages name no role" in profile.source["roles"]
    generated = [m.size for c in generated_conversations(profile, 300, seed=1) for m in c.messages]
    assert abs(np.median(generated) - np.median(sizes)) < 0.5 * np.median(sizes)  # drawn from that fit
    assert main(["profile", str(peer_folder)]) == 0
    printed = capsys.readouterr().out
    assert "any (no role)" in printed and "standing in for human and assistant" in printed


def _chats(n: int, reuse: bool, seed: int) -> list[Conversation]:
    """Conversations of random words; with ``reuse`` every human message after the first
    pastes most of the previous answer back, and every later answer repeats most of its
    previous one."""
    rng = random.Random(seed)

    def words(k: int) -> str:
        return " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(k))

    out = []
    for c in range(n):
        messages, answer = [], ""
        for turn in range(6):
            if turn % 2 == 0:
                text = words(12) + ("\n\n" + answer[: len(answer) * 3 // 4] if reuse and answer else "")
                messages.append(LogMessage("human", text, turn))
            else:
                answer = (answer[: len(answer) * 3 // 4] + " " if reuse and answer else "") + words(150)
                messages.append(LogMessage("assistant", answer, turn))
        out.append(Conversation(f"c{c}", messages))
    return out


def test_content_figures_are_fitted_and_drive_the_generator(tmp_path):
    """Done when: a profile fitted on logs that reuse heavily carries that reuse (and no
    text) and generates more reuse than one fitted on logs that do not."""
    heavy = fit_profile(_chats(120, True, 1), "heavy")
    plain = fit_profile(_chats(120, False, 1), "plain")
    assert heavy.content["human"]["reuse_some"] > 0.6 and heavy.content["assistant"]["reuse_some"] > 0.5
    assert plain.content["human"]["reuse_some"] == 0 and plain.content["assistant"]["reuse_some"] == 0
    assert heavy.content["assistant"]["gain"]["p50"] > plain.content["assistant"]["gain"]["p50"] + 0.3
    loaded = load_profile(str(heavy.save(tmp_path / "heavy.json")))
    assert loaded.content == heavy.content
    from_heavy = content_figures(generated_conversations(loaded, 150, seed=2))
    from_plain = content_figures(generated_conversations(plain, 150, seed=2))
    for role in ("human", "assistant"):
        assert from_heavy[role]["reuse_some"] > from_plain[role]["reuse_some"] + 0.2, role
