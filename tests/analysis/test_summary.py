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
        assert figures["delivered_rate"] == pytest.approx(len(ok) / len(part))
        loss = figures["loss"]
        assert loss["delivered"] == len(ok) == loss["lossless"] + loss["lossy"] + loss["unchecked"]
        if loss["status"] == "checked":
            assert figures["success_rate"] == pytest.approx(loss["lossless"] / len(part))
        else:  # it cannot read 100 % while nobody knows what was lost
            assert figures["success_rate"] is None
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
    text = " ".join(bad.summary_text().split())  # lines are wrapped at 100 columns
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


def test_churn_is_judged_against_a_uniform_draw_and_not_templates_without_slots():
    """Flagged: more than 3 uses and fewer than 60 % of the distinct fillings a uniform
    draw over the available values gives. A template without slots ("No") has nothing to
    vary; without the slot space churn is "not checked", not "none"."""
    repeated = _templated(22, [[["do that"]]] * 4 + [[["open files"]]])  # 2 fillings in 5 uses of 6
    varied = _templated(23, [[[f"task {i}"]] for i in range(5)])  # 5 in 5 uses
    no_slots = _templated(1, [[[]]] * 6)
    df = pd.concat([repeated, varied, no_slots], ignore_index=True)
    figures = summarise(df, slot_space={22: 6, 23: 6})["codecs"]["deflate"]["templates"]
    rows = {t["template_id"]: t for t in figures["top"] + figures["bottom"]}
    expected = 6 * (1 - (5 / 6) ** 5)
    assert rows[22]["expected_fillings"] == pytest.approx(expected)
    assert rows[22]["diversity_vs_uniform"] == pytest.approx(2 / expected)
    assert rows[22]["slot_diversity"] == pytest.approx(0.4) and rows[1]["slot_diversity"] is None
    assert [t["template_id"] for t in figures["low_diversity"]] == [22] and figures["churn_checked"]
    assert "churn: 1 of 3 templates" in format_summary(summarise(df, slot_space={22: 6, 23: 6}))
    unknown = summarise(df)["codecs"]["deflate"]["templates"]
    assert unknown["low_diversity"] == [] and not unknown["churn_checked"]
    assert "churn: not checked" in format_summary(summarise(df))
    from aura_lab.analysis import template_table

    table = template_table(df, n_boot=50, slot_space={22: 6, 23: 6}).set_index("template_id")
    assert table.loc[22, "low_diversity"] and not table.loc[23, "low_diversity"] and not table.loc[1, "low_diversity"]
    assert template_table(df, n_boot=50).set_index("template_id").loc[22, "low_diversity"] is None


def test_churn_does_not_grow_with_the_run():
    """A uniform draw over 5 values, 4 and then 60 uses: the peer's rule (unique / uses
    below 0.6) flags the long run, the uniform-draw rule flags neither; a generator stuck
    on one value is flagged both times."""
    import random

    rng = random.Random(3)
    for uses in (4, 60):
        uniform = _templated(30, [[[f"v{rng.randrange(5)}"]] for _ in range(uses)])
        stuck = _templated(31, [[["same"]]] * uses)
        figures = summarise(pd.concat([uniform, stuck], ignore_index=True), slot_space={30: 5, 31: 5})
        flagged = [t["template_id"] for t in figures["codecs"]["deflate"]["templates"]["low_diversity"]]
        assert flagged == [31], (uses, flagged)


def test_best_and_worst_templates_never_repeat_one_another():
    """Few templates: the worst list leaves out those already listed as best (in a small
    run top and bottom used to list the same templates)."""
    frames = [_templated(t, [[[f"v{t}-{i}"]] for i in range(4)]) for t in (40, 41, 42)]
    figures = summarise(pd.concat(frames, ignore_index=True))["codecs"]["deflate"]["templates"]
    best = {t["template_id"] for t in figures["top"]}
    worst = {t["template_id"] for t in figures["bottom"]}
    assert best == {40, 41, 42} and not best & worst
    assert "every ranked template is listed above" in format_summary(summarise(pd.concat(frames)))


def test_hit_rate_applies_to_codecs_with_templates_only():
    df = _templated(40, [[["a"]], [["b"]]])
    assert summarise(df)["codecs"]["deflate"]["template_hit_rate"] is None  # no hit, nothing known: n/a
    said = summarise(df, template_codecs=["deflate"])["codecs"]["deflate"]
    assert said["template_hit_rate_applies"] and said["template_hit_rate"] == 0.0  # its server has templates
    hit = df.assign(method=pd.Categorical(["BINARY_SEMANTIC", "DEFLATE"]))
    assert summarise(hit)["codecs"]["deflate"]["template_hit_rate"] == 0.5
