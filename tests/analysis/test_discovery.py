import logging
import os

from aura_lab.analysis.discovery import (
    discover_from_traces,
    drain_to_pattern,
    mine_templates,
    save_template_file,
    verify_mined,
)
from aura_lab.traffic.slots import discover_slot_examples
from aura_lab.traffic.templates import aura_library, load_template_file
from tests.support.traces import trace_frame

FILLERS = [
    "the login page",
    "your account settings",
    "a short paragraph",
    "this function",
    "the latest release of the mobile app",
    "budgets",
    "the API documentation for payments",
    "a healthy breakfast",
    "real-time data",
    "the travel itinerary for next week",
]


def _texts():
    lib = aura_library()
    texts = [lib.format(25, [f]) for f in FILLERS]  # "I can help with {0}."
    texts += [
        f"Your order {n} has shipped and will arrive on {day}."
        for n, day in zip(
            range(101, 109), ["Monday", "Tuesday", "Friday", "Monday", "Sunday", "Friday", "Monday", "Tuesday"]
        )
    ]
    texts += ["Please  restart the server at " + t for t in ("noon", "midnight", "dawn", "once")]  # two spaces
    texts += ["Goodbye and see you soon", "What a strange morning it was today!"]  # one-offs
    return texts


def test_drain_wildcards_become_numbered_slots():
    assert drain_to_pattern("I can help with <*> <*> <*>") == "I can help with {0}"
    assert drain_to_pattern("<*> <*> is <*>. <*>") == "{0} is {1}. {2}"
    assert drain_to_pattern("no wildcard") == "no wildcard"


def test_mines_library_and_other_templates_with_ids_from_1000():
    mined = mine_templates(_texts(), min_frequency=3)
    patterns = {m.pattern: m for m in mined}
    # Drain3 separates fillers by word count; the clusters merge into one pattern
    assert patterns["I can help with {0}"].count == len(FILLERS)
    assert "Your order {0} has shipped and will arrive on {1}" in patterns
    assert [m.id for m in mined] == list(range(1000, 1000 + len(mined)))
    assert [m.count for m in mined] == sorted((m.count for m in mined), reverse=True)
    assert all(m.match_share >= 0.9 and 1 <= len(m.examples) <= 3 for m in mined)
    assert not any("Goodbye" in m.pattern for m in mined)  # below min_frequency
    assert mine_templates(_texts(), start_id=5000)[0].id == 5000


def test_spacing_that_drain_cannot_reproduce_is_rejected_and_reported():
    mined = mine_templates(_texts(), min_frequency=3)
    assert not any("restart" in m.pattern for m in mined)
    rejected = [m for m in mined.rejected if "restart" in m.pattern]
    assert len(rejected) == 1 and rejected[0].match_share == 0.0 and rejected[0].count == 4


def test_saved_file_reloads_and_matches_its_sources(tmp_path):
    mined = mine_templates(_texts(), min_frequency=3)
    path = save_template_file(mined, tmp_path / "mined.json")
    library = load_template_file(path)
    assert sorted(library.ids()) == sorted(m.id for m in mined)
    report = verify_mined(mined, library)
    assert (report["match_share"] >= 0.9).all() and (report["matched"] == report["count"]).all()
    template = next(m for m in mined if m.pattern.startswith("I can help"))
    assert library.match("I can help with the login page.") == (template.id, ["the login page."])
    # a library lacking the ids, or holding other patterns, fails the check
    assert (verify_mined(mined, aura_library())["match_share"] == 0).all()


def test_no_logging_no_files(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)
    before = logging.getLogger("drain3").level
    mine_templates(_texts())
    assert not [r for r in caplog.records if r.name.startswith("drain3")]
    assert logging.getLogger("drain3").level == before
    assert os.listdir(tmp_path) == []  # no drain3.ini read, no state saved


def test_mining_a_trace():
    df = trace_frame()
    mined = mine_templates(df[df["codec"] == "deflate"]["text"].tolist())
    assert len(mined) >= 3 and all(m.count >= 3 for m in mined)


def test_discover_from_traces_uses_each_message_once():
    df = trace_frame()
    library = aura_library()
    metadata = discover_from_traces(df, library)
    distinct = list(dict.fromkeys(df["text"].dropna().astype(str)))
    assert metadata == discover_slot_examples(distinct, library)
    assert metadata["templates"]
    existing = {"templates": {"25": {"description": library.pattern(25), "slot_examples": [["kept value"]]}}}
    merged = discover_from_traces(df, library, existing=existing)
    assert merged["templates"]["25"]["slot_examples"][0][0] == "kept value"
