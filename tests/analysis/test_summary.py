"""The run summary: empty runs, and figures that agree with the trace records."""

from __future__ import annotations

import pandas as pd
import pytest

import aura_lab
from aura_lab.analysis.summary import LENGTH_BUCKETS, summarise
from aura_lab.analysis.text import format_summary
from aura_lab.traces.reader import load_traces
from aura_lab.traces.schema import empty_frame
from tests.support.servers import GarbageServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def garbage_run(tmp_path_factory):
    """Two runs: one against a server answering garbage on a schedule, one on two
    embedded codecs with a warmup."""
    folder = tmp_path_factory.mktemp("runs")
    options = dict(users=5, turns=(6, 10), think_time="0", quiet=True, trace_dir=str(folder), seed=4)
    with GarbageServer(non_json=5, missing_fields=7, status_error=11, wrong_echo=13, close_connection=3) as server:
        bad = aura_lab.run(**options, urls=(server.url,), run_id="garbage")
    good = aura_lab.run(
        **options, codecs=("deflate", "identity"), in_process_servers=True, warmup_messages=6, run_id="good"
    )
    return bad, good


def test_summary_of_an_empty_frame_says_empty():
    summary = summarise(empty_frame())
    assert summary["empty"] is True and summary["codecs"] == {}
    text = format_summary(summary, title="run x")
    assert "empty" in text and text.startswith("run x")


def test_summary_of_warmup_only_records_is_empty(garbage_run):
    _, good = garbage_run
    warm = good.traces[good.traces["phase"] == "warmup"]
    assert len(warm) > 0
    summary = summarise(warm)
    assert summary["empty"] is True
    assert "empty" in format_summary(summary)
    assert summarise(warm, phase="warmup")["codecs"]["deflate"]["messages"] == 6


def _check_counts(summary: dict, df: pd.DataFrame) -> None:
    main = df[df["phase"] == "main"]
    assert list(summary["codecs"]) == list(dict.fromkeys(main["codec"].astype(str)))
    for codec, figures in summary["codecs"].items():
        part = main[main["codec"].astype(str) == codec]
        ok = part[part["status"] == "ok"]
        errors = part[part["status"] != "ok"]
        assert figures["messages"] == len(part)
        assert figures["sent"] == part["sent_at"].notna().sum()
        assert figures["received"] == part["received_at"].notna().sum()
        assert figures["ok"] == len(ok)
        assert figures["errors"] == len(errors) == figures["messages"] - figures["ok"]
        assert figures["errors_by_kind"] == errors["error_kind"].astype(str).value_counts().to_dict()
        assert sum(figures["errors_by_kind"].values()) == figures["errors"]
        assert figures["success_rate"] == pytest.approx(len(ok) / len(part))
        assert figures["total_original_bytes"] == ok["original_size"].sum()
        assert figures["total_compressed_bytes"] == ok["compressed_size"].sum()
        assert figures["overall_ratio"] == pytest.approx(ok["original_size"].sum() / ok["compressed_size"].sum())
        assert figures["latency_ms"]["count"] == len(ok)
        assert figures["latency_ms"]["max"] == pytest.approx(ok["latency_ms"].max())
        assert figures["latency_ms"]["min"] <= figures["latency_ms"]["p50"] <= figures["latency_ms"]["max"]
        assert sum(figures["methods"].values()) == len(ok)
        assert sum(b["messages"] for b in figures["length_buckets"]) == len(ok)
        assert [b["bucket"] for b in figures["length_buckets"]] == [label for *_, label in LENGTH_BUCKETS]
        per_user = part.groupby("user_id").size()
        assert figures["per_user_messages"]["users"] == len(per_user)
        assert figures["per_user_messages"]["max"] == per_user.max()
        roles = figures["source_share"]
        assert roles["ai"]["messages"] + roles["human"]["messages"] == len(part)


def test_summary_counts_match_the_records_of_a_run_with_errors(garbage_run):
    bad, _ = garbage_run
    df = load_traces(bad.path)
    assert (df["status"] != "ok").sum() >= 5
    _check_counts(bad.summary, df)
    kinds = bad.summary["codecs"]["external"]["errors_by_kind"]
    assert set(kinds) == {"bad_reply", "server_error", "mismatched_reply", "closed"}
    text = bad.summary_text()
    assert "[external] errors: " in text
    for kind, n in kinds.items():
        assert f"{kind} {n}" in text


def test_summary_counts_match_the_records_of_a_run_with_two_codecs(garbage_run):
    _, good = garbage_run
    _check_counts(good.summary, good.traces)
    text = format_summary(good.summary, title="good")
    assert "deflate" in text and "identity" in text and "empty" not in text
    assert good.summary["codecs"]["identity"]["overall_ratio"] == 1.0


def test_summary_of_several_runs_together(garbage_run):
    bad, good = garbage_run
    both = load_traces([bad.path, good.path])
    summary = summarise(both)
    assert list(summary["codecs"]) == ["external", "deflate", "identity"]
    _check_counts(summary, both)


def _templated(template_id: int, fillings: list[list[list[str]]]) -> pd.DataFrame:
    from aura_lab.traces.schema import records_to_table
    from aura_lab.traces.schema import to_frame as _to_frame

    return _to_frame(
        records_to_table(
            [
                {
                    "run_id": "r",
                    "phase": "main",
                    "codec": "deflate",
                    "user_id": i,
                    "turn": 0,
                    "role": "ai",
                    "source": "template",
                    "template_id": template_id,
                    "template_ids": [template_id],
                    "slot_values": slots,
                    "text": "x" * 40,
                    "length_chars": 40,
                    "length_bytes": 40,
                    "sent_at": 1,
                    "received_at": 2,
                    "latency_ms": 1.0,
                    "status": "ok",
                    "method": "DEFLATE",
                    "original_size": 40,
                    "compressed_size": 30,
                    "ratio": 40 / 30,
                }
                for i, slots in enumerate(fillings)
            ]
        )
    )


def test_churn_flags_repeated_fillings_but_not_templates_without_slots():
    """The peer's churn rule: uses > 3 and diversity < 0.6. A template without slots
    ("No", "I don't know") has nothing to vary and is never flagged."""
    repeated = _templated(22, [[["do that"]]] * 4 + [[["open files"]]])  # 2 fillings / 5 uses = 0.4
    varied = _templated(23, [[[f"task {i}"]] for i in range(5)])  # 5 / 5 = 1.0
    no_slots = _templated(1, [[[]]] * 6)
    df = pd.concat([repeated, varied, no_slots], ignore_index=True)
    figures = summarise(df)["codecs"]["deflate"]["templates"]
    diversity = {t["template_id"]: t["slot_diversity"] for t in figures["top"] + figures["bottom"]}
    assert diversity[22] == pytest.approx(0.4) and diversity[23] == pytest.approx(1.0) and diversity[1] is None
    assert [t["template_id"] for t in figures["low_diversity"]] == [22]
    from aura_lab.analysis import template_table

    table = template_table(df, n_boot=50).set_index("template_id")
    assert table.loc[22, "low_diversity"] and not table.loc[23, "low_diversity"] and not table.loc[1, "low_diversity"]
    assert table.loc[22, "slot_diversity"] == pytest.approx(0.4)
