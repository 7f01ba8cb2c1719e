"""aura_lab.metadata: problems inside entries are warnings; an unreadable file is an error."""

from __future__ import annotations

import json

import pytest

from aura_lab import paths
from aura_lab.errors import InputError
from aura_lab.traffic.metadata import load_metadata
from aura_lab.traffic.templates import PatternLibrary, aura_library

LIBRARY = PatternLibrary(
    {
        1: "No",
        25: "I can help with {0}.",
        44: "The {0} of {1} is {2}.",
        121: "{0} and {1} are different: {0} {2}, {1} {3}.",
    }
)


def write_json(tmp_path, data, name="metadata.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_problems_are_warnings_and_the_rest_loads(tmp_path):
    path = write_json(
        tmp_path,
        {
            "description": "test metadata",
            "templates": {
                "25": {"description": "I can help with {0}.", "slot_examples": [["that", "your code", "that", ""]]},
                "44": {"slot_examples": [["capital", "population"], ["France"], ["Paris", "big"]]},
                "999": {"slot_examples": [["x"]]},  # the library has no such id
                "121": {"slot_examples": [["a"], ["b"]]},  # pattern has 4 slots
                "1": {"slot_examples": [["x"]]},  # pattern has no slot
                "abc": {"slot_examples": []},  # not an integer id
            },
        },
    )
    meta = load_metadata(path, LIBRARY)
    # duplicates and empty values dropped, order kept
    assert meta.slot_examples == {
        25: [["that", "your code"]],
        44: [["capital", "population"], ["France"], ["Paris", "big"]],
    }
    assert meta.examples(44, 2) == ["Paris", "big"]
    assert meta.examples(44, 3) == [] and meta.examples(999, 0) == []
    assert meta.description == "test metadata"
    assert len(meta.warnings) == 4, meta.warnings
    text = "\n".join(meta.warnings)
    assert "'999'" in text and "no id 999" in text
    assert "'121'" in text and "2 slot list(s)" in text and "4 slot(s)" in text
    assert "'1'" in text and "1 slot list(s)" in text and "0 slot(s)" in text
    assert "'abc'" in text and "not an integer" in text
    assert all(str(path) in w for w in meta.warnings)
    assert meta.summary()["templates"] == 2 and meta.summary()["warnings"] == 4


@pytest.mark.parametrize(
    "examples",
    [
        "not a list",
        {"0": ["a"]},
        [["ok"], "not a list"],
        [["ok"], [1, 2]],
        None,
    ],
)
def test_slot_examples_must_be_lists_of_strings(tmp_path, examples):
    path = write_json(
        tmp_path,
        {
            "templates": {
                "25": {"slot_examples": [["ok"]]},
                "44": {"slot_examples": examples},
            }
        },
    )
    meta = load_metadata(path, LIBRARY)
    assert list(meta.slot_examples) == [25]
    assert len(meta.warnings) == 1 and "'44'" in meta.warnings[0] and "list of lists" in meta.warnings[0]


def test_empty_slot_list_is_a_warning(tmp_path):
    path = write_json(tmp_path, {"templates": {"25": {"slot_examples": [[]]}}})
    meta = load_metadata(path, LIBRARY)
    assert meta.slot_examples == {} and "no example values" in meta.warnings[0]


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "templates": {\n    "25": {"slot_examples": [["a"]]},\n  }\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_metadata(path, LIBRARY)
    assert f"{path}:4:" in str(info.value), str(info.value)
    assert "invalid JSON" in str(info.value)


@pytest.mark.parametrize("data", [[], {"description": "no templates"}, {"templates": []}, "text"])
def test_wrong_shape_is_an_error(tmp_path, data):
    path = write_json(tmp_path, data)
    with pytest.raises(InputError, match="'templates'") as info:
        load_metadata(path, LIBRARY)
    assert str(path) in str(info.value)


def test_missing_file_and_bad_bytes(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        load_metadata(tmp_path / "missing.json", LIBRARY)
    assert "missing.json" in str(info.value)
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"description": "caf\xe9", "templates": {}}')
    with pytest.raises(InputError, match="UTF-8"):
        load_metadata(bad, LIBRARY)


def test_project_peer_style_metadata_shows_its_warnings():
    path = paths.CORPORA_DIR / "metadata_peer_style.json"
    if not path.exists():
        pytest.skip(f"{path} is not written yet")
    library = aura_library()
    meta = load_metadata(path, library)
    text = "\n".join(meta.warnings)
    # the peer's real files contain ids the library lacks and entries with the wrong slot count
    assert "the template library has no id" in text, meta.warnings
    assert "slot list(s) but pattern" in text, meta.warnings
    assert "template '110': description 'The {0} is {1}.' differs from the library's pattern" in text
    assert meta.slot_examples, "the usable rest of the file should still load"
    assert all(len(lists) == library.slot_count(tid) for tid, lists in meta.slot_examples.items())


def test_project_metadata_loads_without_warnings():
    path = paths.DEFAULT_METADATA
    if not path.exists():
        pytest.skip(f"{path} is not written yet")
    library = aura_library()
    meta = load_metadata(path, library)
    assert meta.warnings == [], meta.warnings
    assert meta.slot_examples
    assert all(len(lists) == library.slot_count(tid) for tid, lists in meta.slot_examples.items())


def test_a_slot_whose_only_examples_are_empty_strings_is_skipped_with_a_warning(tmp_path):
    """[[""]] would leave the generator a slot with nothing to draw from."""
    path = write_json(
        tmp_path,
        {
            "templates": {
                "25": {"slot_examples": [[""]]},
                "44": {"slot_examples": [["", "capital"], ["France"], ["Paris"]]},
            }
        },
    )
    metadata = load_metadata(path, LIBRARY)
    assert 25 not in metadata.slot_examples and metadata.slot_examples[44] == [["capital"], ["France"], ["Paris"]]
    assert any("'25'" in w and "no example values (empty strings do not count)" in w for w in metadata.warnings)
