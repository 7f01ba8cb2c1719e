"""Text at real sizes: blocks of the answers corpus, replies composed of consecutive
blocks, human messages whole or cut from pastes, and the held-out answers kept out."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_lab import paths
from aura_lab.traffic.compose import Document, TextBank, compose, split_blocks, utf8_size
from aura_lab.traffic.corpus import load_corpus
from aura_lab.traffic.dialogue import bundled_texts
from aura_lab.traffic.generator import GeneratorConfig, generate, user_messages
from aura_lab.traffic.profile import load_profile

ANSWER = """Use a dict:

```python
items = ["b", "a"]

unique = list(dict.fromkeys(items))
```

It keeps the order. Sets do not! That matters here.

- first point
- second point"""


def test_blocks_keep_code_whole_and_cut_at_boundaries():
    blocks = split_blocks(ANSWER)
    assert [b.kind for b in blocks] == ["prose", "code", "prose", "list"]
    code = blocks[1]
    assert code.text.startswith("```python") and code.text.endswith("```") and "\n\n" in code.text
    assert all(p.startswith("```python\n") and p.endswith("\n```") for p in code.prefixes)
    assert blocks[2].prefixes == ("It keeps the order.", "It keeps the order. Sets do not!", blocks[2].text)
    assert blocks[3].prefixes == ("- first point", "- first point\n- second point")
    assert all(s == utf8_size(p) for b in blocks for p, s in zip(b.prefixes, b.sizes))


def test_compose_cuts_at_the_boundary_nearest_the_target():
    doc = Document.of(ANSWER, "python")
    assert compose([doc], 10_000) == "\n\n".join(b.text for b in doc.blocks)
    short = compose([doc], 40)
    assert short == 'Use a dict:\n\n```python\nitems = ["b", "a"]\n```'
    assert compose([doc], 1) == "Use a dict:"  # never empty
    # more than one answer holds: the next one goes on
    assert compose([doc, doc], len(ANSWER) + 15).startswith(ANSWER + "\n\nUse a dict:")


@settings(deadline=None)  # the first example builds the text bank (cached): ~0.2 s on a busy machine
@given(st.integers(1, 6000))
def test_composed_replies_land_near_their_target(target):
    bank = bundled_texts()
    rng = random.Random(target)
    order = bank.answer_order(rng, int(rng.random() * len(bank.answers)))
    text, _ = bank.reply(target, order, rng)
    size = utf8_size(text)
    assert text.strip() and size > 0
    if target >= 300:  # within a sentence or a code line of the target
        assert abs(size - target) <= max(0.25 * target, 400), (target, size)


# the assistant profile without revisions (aura_lab.traffic.reuse): every text composed fresh
NO_REUSE = dataclasses.replace(
    load_profile("assistant"),
    content={role: {"reuse": {"p90": 0.0}, "reuse_some": 0.0, "reuse_most": 0.0} for role in ("human", "assistant")},
)


def test_replies_are_consecutive_blocks_of_answers():
    """Every reply composed fresh (no revision) starts at a block of an answer (its first,
    or where the previous reply left it) and goes on through its blocks in order (then
    through the next answer's): coherent pieces, never a shuffle."""
    bank = bundled_texts()
    config = GeneratorConfig(seed=8, profile=NO_REUSE)
    replies = [m.text for m in generate(config, 3000) if m.role == "ai" and m.source == "answer"]
    # every answer from each of its blocks on
    tails = [d.text[([0] + [end + 2 for end in d.ends])[k] :] for d in bank.answers for k in range(len(d.blocks))]
    checked = going_on = 0
    for reply in replies:
        matches = [full for full in tails if full[:60] == reply[:60]]
        if not matches:
            continue  # the shortest replies take a sentence from anywhere
        full = max(matches, key=len)
        going_on += all(full != d.text for d in bank.answers)
        if reply.startswith(full + "\n\n"):
            checked += 1  # went on with another answer
            continue
        # a cut code block gets a closing fence the answer does not have there
        trimmed = reply[:-4] if reply.endswith("\n```") and not full.startswith(reply) else reply
        assert any(f.startswith(trimmed) for f in matches), reply[:300]
        checked += 1
    assert checked > 0.9 * len(replies) and going_on > 0.2 * len(replies)


def test_human_messages_whole_or_cut_from_pastes():
    bank = bundled_texts()
    human = {json.loads(line)["text"] for line in paths.HUMAN_CORPUS.read_text(encoding="utf-8").splitlines()}
    questions = {json.loads(line)["question"] for line in paths.ANSWERS_CORPUS.read_text(encoding="utf-8").splitlines()}
    pastes = [d for d in bank.pastes]
    messages = [m for m in generate(GeneratorConfig(seed=4, profile=NO_REUSE), 4000) if m.role == "human"]
    for m in messages:
        if m.source == "corpus":
            assert m.text in human | questions
        else:
            assert m.source == "paste"
            assert any(m.text.startswith(d.blocks[0].prefixes[0]) for d in pastes), m.text[:100]
    assert {m.source for m in messages} == {"corpus", "paste"}


def test_held_out_answers_never_reach_the_traffic():
    """The 65 held-out answers train the zstd dictionary; none of their paragraphs may be
    in generated traffic (the dictionary would be scored on its own training text)."""
    held_out = [json.loads(line) for line in paths.DEFAULT_TRAINING.read_text(encoding="utf-8").splitlines()]
    # blocks of some substance ("Output:" and "---" are in every corpus)
    held_out_blocks = {
        b.text for row in held_out if row.get("kind") == "answer" for b in split_blocks(row["text"]) if len(b.text) > 40
    }
    assert len(held_out_blocks) > 300
    bank = bundled_texts()
    bank_blocks = {b.text for d in [*bank.answers, *bank.pastes] for b in d.blocks}
    assert not held_out_blocks & bank_blocks
    traffic = " ".join(m.text for m in generate(GeneratorConfig(seed=5), 3000))
    assert not [b for b in held_out_blocks if b in traffic]


def test_a_corpus_without_answers_is_refused(tmp_path):
    path = tmp_path / "humans.jsonl"
    path.write_text(json.dumps({"text": "hello there", "category": "human"}) + "\n")
    with pytest.raises(ValueError, match="no 'ai' messages"):
        TextBank.of([load_corpus(path)])


def test_a_user_corpus_feeds_the_assistant_profile(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [{"text": f"Answer number {i}. It has two sentences.", "category": "ai"} for i in range(5)]
    rows += [{"text": f"question {i}?", "category": "human"} for i in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = GeneratorConfig(seed=1, corpus=load_corpus(path))
    texts = {m.text for u in range(20) for m in user_messages(config, u)}
    assert texts and all("Answer number" in t or t.startswith("question") for t in texts)


def test_two_sided_traffic_is_seeded_and_does_not_depend_on_user_order():
    config = GeneratorConfig(seed=12)
    forward = {u: list(user_messages(config, u)) for u in (3, 7)}
    backward = {u: list(user_messages(config, u)) for u in (7, 3)}
    assert forward == backward
    assert [m for m in generate(config, 400, first_user=2) if m.user_id == 3] == forward[3]
    assert list(user_messages(GeneratorConfig(seed=12), 3)) == forward[3]
    other = [m.text for m in generate(GeneratorConfig(seed=13), 300)]
    assert sum(a != b.text for a, b in zip(other, generate(config, 300))) > 250
