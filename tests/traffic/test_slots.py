"""Slot discovery (aura_lab.traffic.slots, aura-lab slots) and the project's own corpora (corpora/)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from aura_lab import paths
from aura_lab.cli import main
from aura_lab.errors import InputError
from aura_lab.paths import scratch_cwd
from aura_lab.traffic.slots import coverage, discover_slot_examples, write_metadata
from aura_lab.traffic.templates import PatternLibrary, aura_library

SMALL = PatternLibrary(
    {
        22: "I cannot {0}.",
        44: "The {0} of {1} is {2}.",
        121: "{0} and {1} are different: {0} {2}, {1} {3}.",
        140: "Hello {0}, how are you today?",
        1: "No",
    }
)


@pytest.fixture(scope="module")
def library():
    with scratch_cwd():  # aura-compression writes .aura_cache/ into the current directory
        return aura_library()


def read_jsonl(path):
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            obj = json.loads(line)
            assert isinstance(obj, dict), f"{path}:{lineno}"
            rows.append(obj)
    return rows


def text_of(row):
    return next(row[k] for k in ("message", "text", "content") if k in row)


# --- discovery -----------------------------------------------------------------------


def test_discovery_recovers_slot_values_from_formatted_texts():
    texts = [
        SMALL.format(22, ["browse the internet"]),
        SMALL.format(22, ["open attachments"]),
        SMALL.format(44, ["capital", "France", "Paris"]),
        SMALL.format(121, ["TCP", "UDP", "guarantees delivery", "does not"]),
        SMALL.format(22, ["browse the internet"]),  # a repeat adds nothing
        "No",
        "This sentence matches no template at all!",
    ]
    meta = discover_slot_examples(texts, SMALL)
    t = meta["templates"]
    assert set(t) == {"22", "44", "121", "1"}
    assert t["22"] == {"description": "I cannot {0}.", "slot_examples": [["browse the internet", "open attachments"]]}
    assert t["44"]["slot_examples"] == [["capital"], ["France"], ["Paris"]]
    assert t["121"]["slot_examples"] == [["TCP"], ["UDP"], ["guarantees delivery"], ["does not"]]
    assert t["1"]["slot_examples"] == []
    assert meta["version"] == "1.0" and meta["description"]


def test_discovery_caps_values_per_slot_in_first_seen_order():
    texts = [SMALL.format(140, [name]) for name in ["Anna", "José", "Mei", "Léa", "Tom"]]
    meta = discover_slot_examples(texts, SMALL, max_values=3)
    assert meta["templates"]["140"]["slot_examples"] == [["Anna", "José", "Mei"]]
    with pytest.raises(InputError):
        discover_slot_examples(texts, SMALL, max_values=0)


def test_merge_keeps_existing_values_first_and_adds_new_ones_once():
    existing = {
        "description": "ours",
        "templates": {
            "22": {"description": "I cannot {0}.", "slot_examples": [["make calls", "open links", "make calls"]]},
            "999": {"description": "{0} is awesome!", "slot_examples": [["Python"]]},
        },
    }
    before = json.dumps(existing)
    texts = [SMALL.format(22, v) for v in (["open links"], ["see your screen"], ["make calls"])]
    meta = discover_slot_examples(texts, SMALL, existing=existing)
    assert meta["templates"]["22"]["slot_examples"] == [["make calls", "open links", "see your screen"]]
    assert meta["templates"]["999"] == existing["templates"]["999"]  # unknown ids are left alone
    assert meta["description"] == "ours"
    assert json.dumps(existing) == before, "the caller's dict must not be modified"


def test_merge_reshapes_an_entry_with_the_wrong_number_of_slot_lists():
    existing = {
        "templates": {"44": {"description": "The {0} of {1} is {2}.", "slot_examples": [["area"], ["a circle"]]}}
    }
    meta = discover_slot_examples([SMALL.format(44, ["capital", "Peru", "Lima"])], SMALL, existing)
    assert meta["templates"]["44"]["slot_examples"] == [["area", "capital"], ["a circle", "Peru"], ["Lima"]]


def test_coverage_counts():
    meta = {
        "templates": {
            "22": {"slot_examples": [["a", "b", "c"]]},
            "44": {"slot_examples": [["x"], ["y"]]},  # wrong slot count
            "121": {"slot_examples": [["A", "B"], ["C"], ["D", "E", "F", "G"], ["H"]]},
            "140": {"slot_examples": [[]]},  # listed but empty
            "1": {"slot_examples": []},
            "999": {"slot_examples": [["z"]]},  # unknown id
        }
    }
    report = coverage(meta, SMALL)
    assert report["library_templates"] == 5
    assert report["with_examples"] == [1, 22, 121]
    assert report["without_examples"] == [44, 140]
    assert report["wrong_slot_count"] == [44]
    assert report["unknown_ids"] == [999]
    assert report["covered_share"] == pytest.approx(3 / 5)
    assert report["values_per_slot"] == {"slots": 5, "min": 1, "median": 2}


def test_write_metadata_round_trips_utf8(tmp_path):
    meta = discover_slot_examples([SMALL.format(140, ["José"])], SMALL)
    path = write_metadata(meta, tmp_path / "out" / "meta.json")
    assert "José" in path.read_text(encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == meta


def test_cli_prints_coverage_and_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"message": t}) for t in ["I cannot open links.", "Hello Mei, how are you today?", "hi"])
        + "\n",
        encoding="utf-8",
    )
    templates = tmp_path / "t.json"
    templates.write_text(json.dumps({"22": "I cannot {0}.", "140": "Hello {0}, how are you today?"}))
    assert main(["slots", str(corpus), "--templates", str(templates), "-o", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 messages match" in out and "2 of 2" in out
    assert json.loads((tmp_path / "m.json").read_text())["templates"]["140"]["slot_examples"] == [["Mei"]]


def test_discovery_on_the_aura_library(library):
    texts = ["Could you clarify which version you are using?", "I cannot access your calendar."]
    meta = discover_slot_examples(texts, library)
    assert meta["templates"]["68"]["slot_examples"] == [["which version you are using"]]
    assert meta["templates"]["22"]["slot_examples"] == [["access your calendar"]]


# --- the project's corpora --------------------------------------------------------------


def test_chat_corpus_is_realistic_and_in_range(library):
    rows = read_jsonl(paths.DEFAULT_CORPUS)
    assert len(rows) >= 300
    roles = Counter(r["category"] for r in rows)
    assert set(roles) == {"ai", "human"}
    assert min(roles.values()) >= 0.4 * len(rows)
    assert len({r["topic"] for r in rows}) >= 8
    for r in rows:
        text = text_of(r)
        low, high = (60, 500) if r["category"] == "ai" else (10, 200)
        assert low <= len(text) <= high, (r["category"], len(text), text)
        assert 0.5 <= r["weight"] <= 3.0
    matched = sum(library.match(text_of(r)) is not None for r in rows)
    assert matched / len(rows) >= 0.20


def test_chat_corpus_covers_the_generator_length_ranges():
    rows = read_jsonl(paths.DEFAULT_CORPUS)

    def count(role, low, high):
        return sum(r["category"] == role and low <= len(text_of(r)) <= high for r in rows)

    assert count("human", 10, 40) >= 40 and count("human", 50, 120) >= 60
    assert count("ai", 60, 200) >= 60 and count("ai", 200, 500) >= 60


def test_metadata_covers_the_library(library):
    data = json.loads(paths.DEFAULT_METADATA.read_text(encoding="utf-8"))
    report = coverage(data, library)
    assert len(report["with_examples"]) >= 50
    assert report["unknown_ids"] == [] and report["wrong_slot_count"] == []
    for key, entry in data["templates"].items():
        tid = int(key)
        assert entry["description"] == library.pattern(tid)
        lists = entry["slot_examples"]
        assert len(lists) == library.slot_count(tid)
        assert all(len(set(values)) >= 5 for values in lists), key
        if lists:  # the first value of every slot makes a sentence the library reads back
            text = library.format(tid, [values[0] for values in lists])
            assert library.match(text)[1] == [values[0] for values in lists], text


def test_peer_style_metadata_has_the_peer_flaws(library):
    data = json.loads((paths.CORPORA_DIR / "metadata_peer_style.json").read_text(encoding="utf-8"))
    report = coverage(data, library)
    assert len(data["templates"]) == 9
    assert len(report["unknown_ids"]) == 2 and len(report["wrong_slot_count"]) == 2
    assert data["templates"]["110"]["description"] != library.pattern(110)  # written for another sentence


def test_zstd_training_shares_no_line_with_chat():
    chat = set(paths.DEFAULT_CORPUS.read_text(encoding="utf-8").splitlines())
    training = paths.DEFAULT_TRAINING.read_text(encoding="utf-8").splitlines()
    assert len([line for line in training if line.strip()]) >= 200
    assert not chat & set(training)
    assert not {text_of(json.loads(line)) for line in chat} & {text_of(r) for r in read_jsonl(paths.DEFAULT_TRAINING)}


def test_cli_with_a_folder_for_metadata_exits_2_naming_it(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"message": "I cannot open links."}) + "\n", encoding="utf-8")
    assert (
        main(["slots", str(corpus), "--templates", str(_write_templates(tmp_path)), "--metadata", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err
    assert "is a folder, not a metadata file" in err and str(tmp_path) in err and "Traceback" not in err


def _write_templates(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"22": "I cannot {0}."}))
    return path
