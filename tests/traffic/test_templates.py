"""aura_lab.templates: matching, formatting, template files, AURA's library."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_lab.errors import InputError
from aura_lab.patterns import MAX_BACKTRACKS, Matcher
from aura_lab.traffic.templates import (
    PatternLibrary,
    aura_library,
    load_template_file,
    load_templates,
    slot_count,
)
from tests.support.regex_matcher import regex_match

PATTERNS = {
    3: "I'm not sure",
    25: "I can help with {0}.",
    44: "The {0} of {1} is {2}.",
    72: "To {0}, use {1}: `{2}`",
    102: "Here's how to {0}:\n\n```{1}\n{2}\n```",
    121: "{0} and {1} are different: {0} {2}, {1} {3}.",
}


@pytest.fixture
def library():
    return PatternLibrary(PATTERNS, source="test")


def test_slot_count():
    assert slot_count("No") == 0
    assert slot_count("I can help with {0}.") == 1
    assert slot_count("{0} and {1} are different: {0} {2}, {1} {3}.") == 4
    assert slot_count("{0} {0} {0}") == 1


@pytest.mark.parametrize(
    "tid, slots",
    [
        (3, []),
        (25, ["your Python code"]),
        (44, ["capital", "France", "Paris"]),
        (72, ["list files", "ls", "ls -la /tmp"]),
        (102, ["read a file", "python", "with open('x') as fh:\n    data = fh.read()"]),
        (121, ["Lists", "tuples", "are mutable", "are not"]),
    ],
)
def test_match_returns_id_and_slots_of_formatted_text(library, tid, slots):
    text = library.format(tid, slots)
    assert library.match(text) == (tid, slots)


def test_repeated_slot(library):
    text = library.format(121, ["Python", "Java", "is dynamic", "is static"])
    assert text == "Python and Java are different: Python is dynamic, Java is static."
    assert library.match(text) == (121, ["Python", "Java", "is dynamic", "is static"])
    # the repeated slot must repeat the same value
    assert library.match("Python and Java are different: Ruby is dynamic, Java is static.") is None


def test_no_match(library):
    assert library.match("Something else entirely.") is None
    assert library.match("I can help with this. And more") is None  # full-text match only


def test_format_wrong_slot_count(library):
    with pytest.raises(InputError, match="takes 3 slot"):
        library.format(44, ["a", "b"])
    with pytest.raises(InputError, match="takes 0 slot"):
        library.format(3, ["extra"])
    with pytest.raises(InputError, match="unknown template id 7"):
        library.format(7, [])


def test_library_interface(library):
    assert library.ids() == sorted(PATTERNS)
    assert len(library) == len(PATTERNS)
    assert library.pattern(25) == PATTERNS[25]
    assert library.slot_count(121) == 4
    assert {"id": 121, "pattern": PATTERNS[121], "slots": 4} in library.to_records()


def test_template_file_dict_form(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"1": "Hello {0}.", "2": "Bye"}), encoding="utf-8")
    lib = load_template_file(path)
    assert lib.ids() == [1, 2] and lib.pattern(1) == "Hello {0}." and lib.source == str(path)
    assert lib.match("Hello world.") == (1, ["world"])


def test_template_file_wrapped_in_templates_key(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"templates": {"5": "Try {0}."}}), encoding="utf-8")
    assert load_template_file(path).pattern(5) == "Try {0}."


def test_template_file_list_forms(tmp_path, library):
    plain = tmp_path / "list.json"
    plain.write_text(json.dumps([{"id": 1, "pattern": "Hello {0}."}, {"id": "2", "pattern": "Bye"}]))
    assert load_template_file(plain).ids() == [1, 2]
    # the GET /templates form round-trips
    served = tmp_path / "served.json"
    served.write_text(json.dumps(library.to_records()))
    again = load_template_file(served)
    assert {t: again.pattern(t) for t in again.ids()} == PATTERNS
    assert load_templates(served).ids() == library.ids()


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"1": "Hello"', "invalid JSON"),
        ('"just text"', "expected an object"),
        ("42", "expected an object"),
        ('{"one": "Hello"}', "not an integer"),
        ('[{"pattern": "no id"}]', "not an integer"),
        ('["not an object"]', "not an integer"),
        ('{"1": ""}', "non-empty string"),
        ('{"1": 5}', "non-empty string"),
        ('[{"id": 1}]', "non-empty string"),
    ],
)
def test_bad_template_file(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_template_file(path)
    assert str(path) in str(info.value) and words in str(info.value), str(info.value)


def test_missing_template_file(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        load_template_file(tmp_path / "none.json")
    assert "none.json" in str(info.value)


def test_aura_library_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lib = aura_library()
    assert len(lib) >= 70
    assert list(tmp_path.iterdir()) == []
    assert load_templates(None).ids() == lib.ids() == load_templates("aura").ids()
    # every AURA pattern matches its own formatted text
    for tid in lib.ids():
        slots = [f"value{i}" for i in range(lib.slot_count(tid))]
        found = lib.match(lib.format(tid, slots))
        assert found is not None, tid
        assert lib.format(*found) == lib.format(tid, slots)


def test_aura_library_uncached_leaves_no_files(tmp_path, monkeypatch):
    from aura_lab.traffic import templates

    monkeypatch.chdir(tmp_path)
    templates._aura_patterns.cache_clear()  # really construct aura_compression.TemplateLibrary
    try:
        assert len(aura_library()) >= 70
    finally:
        assert list(tmp_path.iterdir()) == []


def test_template_file_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "templates.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"7": "I cannot {0}."}).encode())
    assert load_template_file(path).format(7, ["fly"]) == "I cannot fly."


# -- the linear matcher gives what the regex gave ----------------------------------------------


def _numbered(pattern: str) -> bool:
    return {int(x) for x in re.findall(r"\{(\d+)\}", pattern)} == set(range(slot_count(pattern)))


small_patterns = st.lists(st.sampled_from(["a", "b", "ab", " ", "{0}", "{1}", "{2}"]), max_size=7).map("".join)


@settings(max_examples=3000, deadline=None)
@given(small_patterns.filter(_numbered), st.text(alphabet="ab \n", max_size=12))
def test_the_matcher_finds_what_the_regex_found(pattern, text):
    expected = regex_match(pattern, text)
    assert Matcher.of(pattern).match(text, budget=10**9) == expected
    # with the default budget: the same answer, or no match when the search ran out
    assert Matcher.of(pattern).match(text) in (expected, None)


def test_the_real_library_matches_as_the_regex_did():
    lib = aura_library()
    texts = [lib.format(t, [f"v{i} and more" for i in range(lib.slot_count(t))]) for t in lib.ids()]
    texts += [f"{t} with a tail" for t in texts] + ["Lists and tuples are different: Lists x, tuples y."]
    for text in texts:
        expected = next(
            ((t, v) for t in lib._match_order if (v := regex_match(lib.pattern(t), text)) is not None), None
        )
        assert lib.match(text) == expected


def test_a_repeated_slot_beyond_the_budget_is_no_match():
    matcher = Matcher.of("{0} and {1} or {0}")
    text = " and ".join(["a"] * (MAX_BACKTRACKS + 5)) + " and b or " + " and ".join(["a"] * (MAX_BACKTRACKS + 5))
    assert matcher.match(text, budget=10**9) is not None
    assert matcher.match(text) is None  # the search gave up: said as no match, never a wrong one
