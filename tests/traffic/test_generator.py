"""aura_lab.generators: seeded per-user traffic, its declared distribution, provenance."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter

import pytest

from aura_lab import paths
from aura_lab.cli import main
from aura_lab.traffic.generator import (
    SOURCES,
    SYNTHESIS_MIX,
    GeneratedMessage,
    GeneratorConfig,
    config_from_files,
    generate,
    join_sentences,
    user_messages,
    user_profile,
)
from aura_lab.traffic.templates import aura_library

N_MESSAGES = 20_000
SEED = 2024


def project_files_or_skip():
    missing = [str(p) for p in (paths.DEFAULT_CORPUS, paths.DEFAULT_METADATA) if not p.exists()]
    if missing:
        pytest.skip(f"project corpus files not written yet: {', '.join(missing)}")


@pytest.fixture(scope="module")
def library():
    return aura_library()


@pytest.fixture(scope="module")
def project_config():
    """The project's corpus and metadata (skips when they are not there yet)."""
    project_files_or_skip()
    return config_from_files(None, None, seed=SEED, corpus_weight=0.3, ai_ratio=0.5, profile="peer")


@pytest.fixture(scope="module")
def any_config():
    """The project's files when present, else the library alone (for structural tests)."""
    return config_from_files(None, None, seed=SEED, corpus_weight=0.3, ai_ratio=0.5, profile="peer")


# --- determinism ---------------------------------------------------------------------


def conversation(config, user_id, **kw):
    return list(user_messages(config, user_id, **kw))


def test_same_seed_same_messages_user_by_user(any_config):
    again = config_from_files(None, None, seed=SEED, corpus_weight=0.3, ai_ratio=0.5, profile="peer")
    for user in range(12):
        assert conversation(any_config, user) == conversation(again, user), user
    assert generate(any_config, 300) == generate(again, 300)


def test_user_order_does_not_matter(any_config):
    forward = {u: conversation(any_config, u) for u in (3, 7)}
    backward = {u: conversation(any_config, u) for u in (7, 3)}
    assert forward == backward
    # interleaved turn by turn, as concurrent connections would be
    streams = {u: user_messages(any_config, u) for u in (3, 7, 11)}
    interleaved: dict[int, list[GeneratedMessage]] = {u: [] for u in streams}
    while streams:
        for u in list(streams):
            try:
                interleaved[u].append(next(streams[u]))
            except StopIteration:
                del streams[u]
    assert interleaved[3] == forward[3] and interleaved[7] == forward[7]
    assert interleaved[11] == conversation(any_config, 11)
    # user 7 inside a batch starting at user 5 is the same conversation
    batch = [m for m in generate(any_config, 2000, first_user=5) if m.user_id == 7]
    assert batch == forward[7]


def test_different_seed_different_traffic(any_config):
    other = dataclasses.replace(any_config, seed=SEED + 1)
    ours = [m.text for m in generate(any_config, 500)]
    theirs = [m.text for m in generate(other, 500)]
    assert ours != theirs
    assert sum(a != b for a, b in zip(ours, theirs)) > 400


# --- distribution over 20,000 messages ------------------------------------------------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def measure(config: GeneratorConfig) -> dict:
    """Generate whole users until N_MESSAGES messages; return the measured figures."""
    messages: list[GeneratedMessage] = []
    roles = []
    user = 0
    while len(messages) < N_MESSAGES:
        roles.append(user_profile(config, user)[0])
        messages.extend(user_messages(config, user))
        user += 1
    n = len(messages)
    by_source = Counter(m.source for m in messages)
    synthesised = n - by_source["corpus"]
    # share of corpus draws that fit: the same draw the generator makes, for every
    # (role, target range) generated, with an independent stream
    fit = None
    if config.corpus is not None:
        rng = random.Random(99)
        fit = (
            sum(
                config.corpus.sample(m.role, m.target_min, m.target_max, rng, config.corpus_tries) is not None
                for m in messages
            )
            / n
        )
    table = config.length_model
    lengths = {}
    outside_bounds = {}
    for role in ("ai", "human"):
        ls = [len(m.text) for m in messages if m.role == role]
        lo, hi = table.bounds(role)
        lengths[role] = (min(ls), max(ls)) if ls else None
        outside = [m for m in messages if m.role == role and not lo <= len(m.text) <= hi]
        outside_bounds[role] = {
            "count": len(outside),
            "share": len(outside) / max(len(ls), 1),
            "by_source": dict(Counter(m.source for m in outside)),
        }
    missed = [m for m in messages if not m.in_range]
    return {
        "corpus_weight": config.corpus_weight,
        "messages": n,
        "users": user,
        "ai_user_share": roles.count("ai") / len(roles),
        "corpus_share": by_source["corpus"] / n,
        "corpus_fit_share": fit,
        "synthesised": synthesised,
        "synthesis_mix": {k: (by_source[k] / synthesised if synthesised else None) for k in SYNTHESIS_MIX},
        "in_range_share": 1 - len(missed) / n,
        "out_of_range_by_source": {
            k: round(v / max(by_source[k], 1), 4) for k, v in Counter(m.source for m in missed).items()
        },
        "lengths_chars_by_role": lengths,
        "table_bounds": {r: table.bounds(r) for r in ("ai", "human")},
        "outside_table_bounds": outside_bounds,
        "share_50_200_bytes": sum(50 <= utf8_len(m.text) <= 200 for m in messages) / n,
        "share_50_200_bytes_by_role": {
            r: sum(50 <= utf8_len(m.text) <= 200 for m in messages if m.role == r)
            / max(sum(m.role == r for m in messages), 1)
            for r in ("ai", "human")
        },
    }


def rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def report(figures: dict, capsys, record_property) -> str:
    text = "\n".join(f"  {key}: {json.dumps(value, default=str)}" for key, value in rounded(figures).items())
    record_property(f"figures_cw{figures['corpus_weight']}", text)
    with capsys.disabled():  # visible with or without -s: the lead needs these figures
        print(f"\n[generator distribution, corpus_weight={figures['corpus_weight']}]\n{text}")
    return text


@pytest.mark.parametrize("corpus_weight", [0.3, 0.0, 1.0])
def test_distribution(project_config, corpus_weight, capsys, record_property):
    config = dataclasses.replace(project_config, corpus_weight=corpus_weight)
    assert config.corpus is not None and config.metadata is not None
    f = measure(config)
    figures = report(f, capsys, record_property)

    assert f["messages"] >= N_MESSAGES
    # AI or human is fixed per user: measured over users
    assert abs(f["ai_user_share"] - 0.5) <= 0.05, figures
    # corpus share = corpus_weight x (share of corpus draws that fit)
    expected = corpus_weight * f["corpus_fit_share"]
    assert abs(f["corpus_share"] - expected) <= 0.02, figures
    if corpus_weight == 0.3:
        assert abs(f["corpus_share"] - 0.3) <= 0.03, (
            f"corpus share {f['corpus_share']:.3f}, expected 0.3 +- 0.03 "
            f"(corpus draws fit {f['corpus_fit_share']:.3f} of the time)\n{figures}"
        )
    # the declared synthesis mix, among synthesised messages
    if f["synthesised"] >= 1000:
        for kind, share in SYNTHESIS_MIX.items():
            assert abs(f["synthesis_mix"][kind] - share) <= 0.02, (kind, figures)
    # Known generator defect (measured, seed 2024, corpus_weight 0): the synthesis kind is
    # drawn before, and regardless of, the target range. "short" (one template alone) misses
    # the AI minimum at the opening (150 chars: 100% miss), turns 1-2 (100: 88%) and middle
    # (80: 38%), and is the only source below the AI table bound of 60; "multi-template"
    # (2-3 sentences) overshoots the human 10-40 range (about 40% miss). Both checks
    # below are reported together so the figures show the whole problem.
    problems = []
    if f["in_range_share"] < 0.95:
        problems.append(
            f"only {f['in_range_share']:.3f} of messages inside their target range "
            f"(misses by source: {f['out_of_range_by_source']})"
        )
    for role in ("ai", "human"):
        if f["outside_table_bounds"][role]["count"]:
            problems.append(
                f"{role} message lengths {f['lengths_chars_by_role'][role]} leave the table "
                f"bounds {f['table_bounds'][role]}: {f['outside_table_bounds'][role]}"
            )
    assert not problems, "\n".join(problems) + "\n" + figures


# --- provenance ------------------------------------------------------------------------


def check_provenance(config: GeneratorConfig, messages: list[GeneratedMessage]):
    library = config.library
    corpus_texts = {m.text for m in config.corpus.messages} if config.corpus else set()
    for m in messages:
        role, n_turns = user_profile(config, m.user_id)
        assert m.role == role and m.n_turns == n_turns and 0 <= m.turn < n_turns, m
        assert m.source in SOURCES, m
        assert m.target_min <= m.target_max, m
        if m.source == "corpus":
            assert m.template_ids == () and m.slot_values == () and m.template_id is None, m
            assert m.text in corpus_texts and m.in_range, m
            continue
        assert len(m.template_ids) == len(m.slot_values) >= 1, m
        assert m.template_id == m.template_ids[0]
        if m.source == "short":
            assert len(m.template_ids) == 1, m
        if m.source == "multi-template":
            assert len(m.template_ids) in (2, 3), m
        parts = []
        for tid, slots in zip(m.template_ids, m.slot_values):
            assert len(slots) == library.slot_count(tid), m
            part = library.format(tid, slots)
            assert part.rstrip(".") in m.text, (part, m)
            parts.append(part)
        assert join_sentences(parts) == m.text, m
        d = m.to_dict()
        assert d["length"] == len(m.text) and d["template_ids"] == list(m.template_ids)
        assert json.loads(json.dumps(d)) == d


def test_provenance(any_config):
    messages = generate(any_config, 3000)
    assert [m.turn for m in messages if m.user_id == 0] == list(range(user_profile(any_config, 0)[1]))
    check_provenance(any_config, messages)
    sources = Counter(m.source for m in messages)
    assert set(SYNTHESIS_MIX) <= set(sources)


def test_provenance_without_corpus_or_metadata(library):
    config = GeneratorConfig(seed=5, library=library, corpus_weight=0.5, profile="peer")
    messages = generate(config, 1000)
    assert all(m.source != "corpus" for m in messages)
    check_provenance(config, messages)


def test_messages_per_user_and_config_validation(library):
    config = GeneratorConfig(seed=1, library=library, messages_per_user=3, profile="peer")
    assert [m.turn for m in generate(config, 9)] == [0, 1, 2] * 3
    for bad in (
        {"ai_ratio": 1.5},
        {"corpus_weight": -0.1},
        {"turns": (0, 5)},
        {"turns": (9, 5)},
        {"messages_per_user": 0},
    ):
        with pytest.raises(ValueError):
            GeneratorConfig(library=library, **bad)
    humans = GeneratorConfig(seed=1, library=library, ai_ratio=0.0, profile="peer")
    assert {user_profile(humans, u)[0] for u in range(50)} == {"human"}


# --- selector hook ---------------------------------------------------------------------


class OneTemplate:
    """Always the same template, whatever the candidates."""

    def __init__(self, template_id):
        self.template_id = template_id

    def choose(self, candidates, rng):
        return self.template_id

    def update(self, template_id, ratio):
        pass


@pytest.mark.timeout(30)  # a selector that insists on one template once made multi-template loop forever
def test_selector_hook(any_config):
    library = any_config.library
    selector = OneTemplate(25)  # "I can help with {0}."
    messages = [m for u in range(40) for m in user_messages(any_config, u, selector=selector)]
    synthesised = [m for m in messages if m.source != "corpus"]
    assert {m.source for m in synthesised} == set(SYNTHESIS_MIX)
    for m in synthesised:
        assert m.template_id == 25, m
        assert m.text.startswith(library.format(25, m.slot_values[0])), m
        assert set(m.template_ids) == {25}, m


# --- the aura-lab generate sub-command ---------------------------------------------------


def test_cli_jsonl(capsys):
    assert main(["generate", "--n", "5", "--seed", "1", "--format", "jsonl", "--profile", "peer"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 5, out
    rows = [json.loads(line) for line in lines]
    for row in rows:
        assert {
            "user_id",
            "turn",
            "role",
            "text",
            "source",
            "template_ids",
            "slot_values",
            "target_min",
            "target_max",
            "length",
        } <= set(row)
        assert row["source"] in SOURCES and row["length"] == len(row["text"])
    assert [r["turn"] for r in rows] == list(range(5))


def test_cli_table(capsys):
    assert main(["generate", "--n", "5", "--seed", "1", "--format", "table", "--profile", "peer"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6, lines
    assert lines[0].split()[:4] == ["user", "turn", "role", "source"]
    assert all(line.split()[1] == str(turn) for turn, line in enumerate(lines[1:]))


def test_cli_missing_corpus(capsys):
    assert main(["generate", "--corpus", "/nonexistent"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "/nonexistent" in err[0], captured.err


def test_cli_bad_values(capsys):
    assert main(["generate", "--n", "0"]) == 2
    assert "--n" in capsys.readouterr().err
    assert main(["generate", "--corpus-weight", "2"]) == 2
    assert "--corpus-weight" in capsys.readouterr().err
