"""aura_lab.corpus: the peer's corpus JSONL, every error with file and line."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis writes .hypothesis/ (constants cache, unicode data) into the cwd even with
# database=None: keep the checkout clean
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "aura-lab-hypothesis")

from aura_lab.errors import InputError  # noqa: E402
from aura_lab.traffic.corpus import load_corpus  # noqa: E402


def write(tmp_path: Path, *lines: str | bytes, name: str = "chat.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(line.encode("utf-8") if isinstance(line, str) else line for line in lines))
    return path


GOOD = '{"message": "Hello there, how can I help?"}'


@pytest.mark.parametrize(
    "bad_line, words",
    [
        ('{"message": "unterminated', "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('"just a string"', "expected a JSON object"),
        ("42", "expected a JSON object"),
        ('{"weight": 1.0, "category": "ai"}', "no text"),
        ('{"message": ""}', "empty"),
        ('{"text": "   "}', "empty"),
        ('{"message": 42}', "must be a string"),
        ('{"content": ["a", "b"]}', "must be a string"),
        ('{"message": null}', "must be a string"),
        ('{"message": "hi", "weight": "high"}', "'weight' must be a number"),
        ('{"message": "hi", "weight": true}', "'weight' must be a number"),
        ('{"message": "hi", "weight": NaN}', "'weight' must be a number"),
        ('{"message": "hi", "weight": Infinity}', "'weight' must be a number"),
        ('{"message": "hi", "weight": ' + "9" * 400 + "}", "'weight' must be a number"),
        ('{"message": "hi", "weight": -0.5}', "'weight' must be a number >= 0"),
        ('{"message": "hi", "category": "robot"}', "unknown category"),
        ('{"message": "hi", "category": 1}', "unknown category"),
        ('{"message": "hi", "weight": ' + "1" * 5000 + "}", "invalid JSON"),
        ("[" * 100_000, "invalid JSON"),
    ],
)
def test_error_names_file_and_line(tmp_path, bad_line, words):
    path = write(tmp_path, GOOD, "", bad_line, GOOD)  # the bad line is line 3
    with pytest.raises(InputError) as info:
        load_corpus(path)
    text = str(info.value)
    assert f"{path}:3:" in text, text
    assert words in text, text


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path, GOOD, GOOD, b'{"message": "caf\xe9 \xff"}')
    with pytest.raises(InputError) as info:
        load_corpus(path)
    assert f"{path}:3:" in str(info.value)
    assert "UTF-8" in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        load_corpus(tmp_path / "nope.jsonl")
    assert "nope.jsonl" in str(info.value)
    with pytest.raises(InputError, match="folder"):
        load_corpus(tmp_path)


def test_text_keys_defaults_extra_and_blank_lines(tmp_path):
    path = write(
        tmp_path,
        '{"message": "from message", "timestamp": "2024-01-01T00:00:00", "template": 7}',
        "",
        "   ",
        '{"text": "from text", "weight": 2.5, "category": "AI"}',
        '{"content": "from content", "weight": 0, "category": "human", "x": {"y": [1]}}',
        "",
    )
    corpus = load_corpus(path)
    assert [m.text for m in corpus.messages] == ["from message", "from text", "from content"]
    assert [m.line for m in corpus.messages] == [1, 4, 5]
    first, second, third = corpus.messages
    assert first.weight == 1.0 and isinstance(first.weight, float)
    assert first.category is None
    assert first.extra == {"timestamp": "2024-01-01T00:00:00", "template": 7}
    assert second.weight == 2.5 and second.category == "ai" and second.extra == {}
    assert third.weight == 0.0 and third.category == "human" and third.extra == {"x": {"y": [1]}}
    assert len(corpus) == 3
    assert len(corpus.sha256) == 64


def test_utf8_bom_on_first_line(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode(), GOOD)
    assert len(load_corpus(path)) == 2


def test_duplicates_and_summary(tmp_path):
    path = write(
        tmp_path,
        '{"message": "same", "category": "ai"}',
        '{"message": "other", "category": "human"}',
        '{"text": "same"}',
        '{"content": "same", "category": "ai"}',
        '{"message": "twice"}',
        '{"message": "twice"}',
    )
    corpus = load_corpus(path)
    assert corpus.duplicates() == {"same": [1, 3, 4], "twice": [5, 6]}
    summary = corpus.summary()
    assert summary["messages"] == 6
    assert summary["duplicate_texts"] == 2
    assert summary["duplicate_lines"] == 3
    assert summary["by_category"] == {"ai": 2, "human": 1, "uncategorised": 3}
    assert summary["path"] == str(path)


def test_sample_respects_role_length_and_weight(tmp_path):
    lines = [
        json.dumps({"message": "a" * 20, "category": "ai"}),  # too short for the range
        json.dumps({"message": "b" * 60, "category": "ai", "weight": 50}),  # heavy
        json.dumps({"message": "c" * 60, "category": "ai", "weight": 1}),
        json.dumps({"message": "d" * 70}),  # either role
        json.dumps({"message": "e" * 60, "category": "human", "weight": 1000}),
        json.dumps({"message": "f" * 60, "category": "ai", "weight": 0}),  # never drawn
    ]
    corpus = load_corpus(write(tmp_path, *lines))
    rng = random.Random(5)
    draws = [corpus.sample("ai", 50, 100, rng) for _ in range(5000)]
    assert all(m is not None for m in draws)
    assert all(m.category in ("ai", None) for m in draws)
    assert all(50 <= m.length <= 100 for m in draws)
    counts = {c: sum(m.text[0] == c for m in draws) for c in "bcdf"}
    assert counts["f"] == 0
    # weights among the fitting ai messages are 50 : 1 : 1
    assert counts["b"] > 20 * counts["c"], counts
    assert counts["b"] > 20 * counts["d"], counts
    assert counts["c"] > 0 and counts["d"] > 0, counts

    human = [corpus.sample("human", 1, 1000, rng) for _ in range(500)]
    assert {m.text[0] for m in human} <= {"d", "e"}
    # nothing fits: None, not an endless search
    assert corpus.sample("ai", 500, 600, rng) is None
    assert corpus.sample("ai", 1, 5, rng, tries=3) is None


def test_sample_with_no_messages_for_role(tmp_path):
    corpus = load_corpus(write(tmp_path, '{"message": "only ai", "category": "ai"}'))
    assert corpus.sample("human", 0, 1000, random.Random(0)) is None


# --- property tests: anything in, a Corpus or an InputError out ----------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
any_value = json_values | st.integers(min_value=-(10**500), max_value=10**500)
corpus_objects = st.fixed_dictionaries(
    {},
    optional={
        "message": any_value | st.text(min_size=1),
        "text": any_value | st.text(min_size=1),
        "content": any_value | st.text(min_size=1),
        "weight": any_value | st.floats(min_value=0, max_value=1e6) | st.integers(min_value=-3, max_value=10),
        "category": any_value | st.sampled_from(["ai", "human", "AI", "Human", "bot", ""]),
        "timestamp": any_value,
    },
)


def load_bytes(data: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        path.write_bytes(data)
        try:
            corpus = load_corpus(path)
        except InputError as err:
            assert str(path) in str(err)
            return None
        for message in corpus.messages:
            assert isinstance(message.text, str) and message.text.strip()
            assert message.weight >= 0
            assert message.category in ("ai", "human", None)
        return corpus


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_load_or_input_error(data):
    load_bytes(data)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values | corpus_objects, max_size=6))
def test_random_json_lines_load_or_input_error(values):
    lines = [json.dumps(v, allow_nan=True) for v in values]
    load_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(corpus_objects, min_size=1, max_size=6))
def test_random_corpus_objects_load_or_input_error(objects):
    lines = [json.dumps(o, allow_nan=True) for o in objects]
    corpus = load_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    if corpus is not None:
        assert len(corpus) == len(objects)
