"""The verdict: written from the figures, every estimate with its interval, losses
counted, unchecked codecs left unranked, and levers that say what they mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aura_lab.analysis import metrics
from aura_lab.analysis.failures import with_failures_raw
from aura_lab.analysis.summary import summarise
from aura_lab.analysis.verdict import bootstrap_ratios, user_sums
from tests.support.traces import frame_from_records, trace_frame


def test_best_codec_margin_and_primary_from_a_real_trace():
    """aura (lossy) against deflate on the same messages: deflate saves more losslessly;
    each number of the verdict is the summary's, with an interval around it."""
    df = trace_frame()
    summary = summarise(df, primary_codec="aura")
    verdict, codecs = summary["verdict"], summary["codecs"]
    assert [r["codec"] for r in verdict["ranking"]] == ["deflate", "aura"]
    for entry in verdict["ranking"]:
        assert entry["safe_ratio"] == codecs[entry["codec"]]["safe_ratio"]
        assert entry["low"] < entry["safe_ratio"] < entry["high"]
    margin = verdict["margin"]
    assert margin["over"] == "aura"
    assert margin["delta"] == pytest.approx(codecs["deflate"]["safe_ratio"] - codecs["aura"]["safe_ratio"])
    assert margin["low"] < margin["delta"] < margin["high"] and margin["low"] > 0
    primary = verdict["primary"]
    assert primary["codec"] == "aura" and primary["rank"] == 2 and primary["of"] == 2
    assert primary["lossy"] == codecs["aura"]["loss"]["lossy"] > 0
    lines = verdict["lines"]
    assert lines[0].startswith("deflate saves the most bandwidth losslessly")
    assert f"{codecs['deflate']['safe_ratio']:.3f}" in lines[0]
    assert "LOSSY" in lines[1] and f"{primary['lossy']} of {primary['delivered']}" in lines[1]
    assert lines[2].startswith("Messages lost") and "deflate 0 of" in lines[2]
    assert verdict["levers"][0]["kind"] == "loss"  # a lossy primary: fix that first
    assert "conversations (users)" in verdict["method"]


def test_the_bootstrap_resamples_users_with_one_draw_for_every_codec():
    df = trace_frame()
    codecs = ["aura", "deflate"]
    original, safe, _, checked = user_sums(metrics.select(df), codecs)
    assert checked == [True, True]
    assert original.shape == (2, df[df["phase"] == "main"]["user_id"].nunique())
    assert original.sum(axis=1) == pytest.approx([metrics.sized(metrics.select(df, codec=c))["original_size"].sum()
                                                  for c in codecs])  # fmt: skip
    boots = bootstrap_ratios(original, safe, n_boot=300, seed=1)
    assert boots.shape == (300, 2)
    # the same users drawn for both codecs: their ratios move together
    assert np.corrcoef(boots[:, 0], boots[:, 1])[0, 1] > 0.3


def _records(codec, sizes, compressed, roundtrip, user_of=lambda i: i % 4):
    return [
        {"phase": "main", "codec": codec, "user_id": user_of(i), "turn": i, "status": "ok", "original_size": s,
         "compressed_size": c, "ratio": s / c, "roundtrip_ok": r, "method": "X"}
        for i, (s, c, r) in enumerate(zip(sizes, compressed, roundtrip))
    ]  # fmt: skip


def test_an_unchecked_codec_is_not_ranked_and_nothing_checked_says_so():
    sizes = [100, 200, 300, 400] * 3
    df = frame_from_records(
        _records("peer", sizes, [s // 4 for s in sizes], [None] * 12)
        + _records("deflate", sizes, [s // 2 for s in sizes], [True] * 12)
    )
    verdict = summarise(df, primary_codec="peer")["verdict"]
    assert [r["codec"] for r in verdict["ranking"]] == ["deflate"] and verdict["unranked"] == ["peer"]
    assert any(line.startswith("Not ranked") and "peer" in line for line in verdict["lines"])
    assert "whether it loses messages is unknown" in verdict["lines"][2]
    alone = summarise(frame_from_records(_records("peer", sizes, sizes, [None] * 12)))["verdict"]
    assert alone["ranking"] == [] and "No codec can be ranked" in alone["lines"][0]
    assert "--verify" in alone["lines"][0]


def test_a_threshold_above_every_message_says_send_everything_raw():
    """A codec whose output is never smaller than the text (aura's framing can grow):
    the best threshold lies above the longest message, and the lever says what it means."""
    sizes = [40, 60, 80, 120] * 3
    df = frame_from_records(_records("aura", sizes, [s + 5 for s in sizes], [True] * 12))
    verdict = summarise(df, min_compression_size=35)["verdict"]
    (lever,) = [lever for lever in verdict["levers"] if lever["kind"] == "min_compression_size"]
    assert lever["figures"]["raw_everything"] and lever["figures"]["suggested"] > max(sizes)
    assert "send everything raw" in lever["text"] and "35 ->" in lever["text"]
    assert lever["figures"]["ratio_at_suggestion"] == pytest.approx(1.0)


def test_a_lossy_message_counts_as_sent_raw_in_the_safe_ratio():
    df = frame_from_records(_records("aura", [100, 100, 100, 100], [50, 50, 50, 200], [True, True, False, False]))
    figures = summarise(df)["codecs"]["aura"]
    # measured: 400 / 350; safe: the two lossy messages go raw, 400 / (50 + 50 + 100 + 100)
    assert figures["overall_ratio"] == pytest.approx(400 / 350)
    assert figures["safe_ratio"] == pytest.approx(400 / 300)
    assert figures["loss"] == {**figures["loss"], "lossless": 2, "lossy": 2, "unchecked": 0, "status": "checked"}
    assert figures["success_rate"] == pytest.approx(0.5) and figures["delivered_rate"] == 1.0
    partly = summarise(frame_from_records(_records("aura", [100] * 4, [50] * 4, [True, None, True, True])))
    codec = partly["codecs"]["aura"]
    assert codec["loss"]["status"] == "partly checked" and codec["safe_ratio"] is None
    assert codec["success_rate"] is None and codec["lossless_rate"] == 1.0


def test_empty_and_single_user_runs_do_not_break_the_verdict():
    empty = summarise(pd.DataFrame(columns=trace_frame().columns))["verdict"]
    assert empty["lines"] == []
    one = summarise(frame_from_records(_records("deflate", [100, 200], [50, 100], [True, True], lambda i: 0)))
    assert one["verdict"]["ranking"][0]["low"] == pytest.approx(one["codecs"]["deflate"]["safe_ratio"])


def test_a_codec_that_failed_on_a_message_is_judged_over_the_same_messages():
    """aura's server raised on one long message that deflate compressed: aura's totals
    are over the same bytes as deflate's, the message counted as sent raw, and the verdict
    says which codec failed on what."""
    sizes = [1_000] * 8 + [82_687]
    records = _records("deflate", sizes, [s // 3 for s in sizes], [True] * 9)
    records += _records("aura", sizes[:8], [250] * 8, [True] * 8)
    records.append({"phase": "main", "codec": "aura", "user_id": 8 % 4, "turn": 8, "status": "error",
                    "error_kind": "server_error", "error": "compress failed: ValueError: message too long",
                    "original_size": 82_687, "roundtrip_ok": False})  # fmt: skip
    summary = summarise(frame_from_records(records), primary_codec="aura")
    aura, deflate = summary["codecs"]["aura"], summary["codecs"]["deflate"]
    assert aura["total_original_bytes"] == deflate["total_original_bytes"] == 90_687
    assert aura["total_compressed_bytes"] == 8 * 250 + 82_687
    assert aura["overall_ratio"] == aura["safe_ratio"] == pytest.approx(90_687 / (2_000 + 82_687))
    assert aura["errors"] == 1 and aura["ok"] == 8 and aura["errors_by_kind"] == {"server_error": 1}
    assert aura["failures"]["counted_raw"] == 1 and aura["failures"]["counted_raw_bytes"] == 82_687
    verdict = summary["verdict"]
    # counted raw, the long message makes aura the worse codec, as a deployment would see it
    assert [r["codec"] for r in verdict["ranking"]] == ["deflate", "aura"]
    assert verdict["failures"] == [{"codec": "aura", **aura["failures"]}]
    assert (
        "Failed replies: aura failed on 1 message of 82,687 bytes (server_error 1), counted in its ratios as sent raw."
        in verdict["lines"]
    )
    original, _, _, _ = user_sums(with_failures_raw(metrics.select(frame_from_records(records))),
                                  ["aura", "deflate"])  # fmt: skip
    assert original[0] == pytest.approx(original[1])  # the bootstrap pairs the same bytes per user
