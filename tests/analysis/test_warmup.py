import pandas as pd
import pytest

from aura_lab.analysis.warmup import (
    HIT_DEFINITION,
    analyse_warmup,
    best_min_compression_size,
    recommend_adjustments,
)
from aura_lab.traces.schema import empty_frame
from tests.support.traces import trace_frame


def _aura():
    df = trace_frame()
    return df[df["codec"] == "aura"]


def test_figures_match_the_warmup_rows():
    df = _aura()
    report = analyse_warmup(df)
    warm = df[(df["phase"] == "warmup") & (df["status"] == "ok")]
    hits = warm["server_template_id"].notna() | (warm["method"].astype(str) == "BINARY_SEMANTIC")
    assert report.messages == 80 and report.ok_messages == len(warm) and report.errors == 80 - len(warm)
    assert report.hit_rate == pytest.approx(hits.mean())
    assert report.mean_ratio == pytest.approx(warm["ratio"].mean())
    assert report.overall_ratio == pytest.approx(warm["original_size"].sum() / warm["compressed_size"].sum())
    assert report.uncompressed_share == pytest.approx((warm["method"].astype(str) == "UNCOMPRESSED").mean())
    assert sum(report.method_shares.values()) == pytest.approx(1.0)
    assert report.hit_definition == HIT_DEFINITION


def test_all_rows_takes_every_phase():
    df = _aura()
    assert analyse_warmup(df, all_rows=True).messages == len(df)


def test_method_names_compare_case_insensitively():
    # the peer's defect: lower-case names against upper-case replies never counted a hit
    df = _aura()
    lower = df.assign(
        method=df["method"].astype("string").str.lower().astype("category"),
        server_template_id=pd.array([None] * len(df), dtype="Int64"),
    )
    upper = df.assign(server_template_id=pd.array([None] * len(df), dtype="Int64"))
    assert analyse_warmup(lower).hit_rate == analyse_warmup(upper).hit_rate > 0
    assert analyse_warmup(lower).uncompressed_share == analyse_warmup(upper).uncompressed_share > 0


def test_aura_warmup_warns_and_raises_corpus_weight_with_figures():
    report = analyse_warmup(_aura(), corpus_weight=0.3, explore=0.3)
    assert report.mean_ratio < 1.15  # aura-compression on realistic chat messages
    assert any("mean ratio" in w for w in report.warnings)
    weight = [r for r in report.recommendations if r.setting == "corpus_weight"]
    assert len(weight) == 1 and weight[0].suggested == pytest.approx(0.5)
    assert weight[0].figures["mean_ratio"] == pytest.approx(report.mean_ratio)
    assert "WARNING" in report.summary()


def test_recommend_adjustments_caps_corpus_weight():
    report = analyse_warmup(_aura())
    assert recommend_adjustments(report, 0.3, 0.3)[0] == pytest.approx(0.5)
    assert recommend_adjustments(report, 0.8, 0.3)[0] == pytest.approx(0.9)
    new_weight, _, reasons = recommend_adjustments(report, 0.9, 0.3)
    assert new_weight == 0.9 and not any("corpus" in r for r in reasons)


def test_explore_drops_to_the_peers_value_once_templates_are_known():
    df = trace_frame()
    deflate = df[df["codec"] == "deflate"]
    report = analyse_warmup(deflate, all_rows=True)  # 400 messages: most templates seen several times
    assert report.median_uses_per_template >= 2
    _, explore, reasons = recommend_adjustments(report, 0.3, 0.3)
    assert explore == 0.2 and any("explore less" in r for r in reasons)
    assert recommend_adjustments(report, 0.3, 0.1)[1] == 0.1  # never raised after warmup


def test_explore_stays_while_templates_are_barely_seen():
    report = analyse_warmup(_aura().head(20))  # 20 messages over ~70 templates
    assert report.median_uses_per_template < 2
    assert recommend_adjustments(report, 0.3, 0.3)[1] == 0.3
    assert recommend_adjustments(report, 0.3, 0.1)[1] == 0.3


def test_empty_frame_says_so_without_dividing_by_zero():
    report = analyse_warmup(empty_frame())
    assert report.empty and report.messages == 0
    assert report.hit_rate is None and report.mean_ratio is None and report.uncompressed_share is None
    assert "no successful" in report.summary()
    assert recommend_adjustments(report, 0.3, 0.3) == (0.3, 0.3, [])
    # a frame with only main-phase rows has an empty warmup too
    df = _aura()
    assert analyse_warmup(df[df["phase"] == "main"]).empty


def test_min_compression_size_from_sizes():
    # small messages grow (20 -> 30 bytes), large ones halve (100 -> 50)
    original = [20] * 10 + [100] * 10
    compressed = [30] * 10 + [50] * 10
    threshold, ratio = best_min_compression_size(original, compressed)
    assert threshold == 100  # the smallest threshold that sends the small ones raw
    assert ratio == pytest.approx(1200 / 700)
    # 35 is as good as 100 on these sizes: the current setting is kept
    assert best_min_compression_size(original, compressed, prefer=35) == (35, pytest.approx(1200 / 700))
    # 10 is not: it leaves the expanding messages compressed
    assert best_min_compression_size(original, compressed, prefer=10)[0] == 100
    assert best_min_compression_size([], []) == (None, None)


def test_min_compression_size_recommendation_from_trace():
    report = analyse_warmup(_aura(), min_compression_size=35)
    assert report.suggested_min_compression_size is not None
    assert report.overall_ratio_at_suggestion >= report.overall_ratio
    # aura's UNCOMPRESSED framing adds bytes to short messages: sending them raw pays
    assert report.suggested_min_compression_size > 35
    rec = [r for r in report.recommendations if r.setting == "min_compression_size"]
    assert rec[0].suggested == report.suggested_min_compression_size
    assert rec[0].figures["overall_ratio_at_suggestion"] > rec[0].figures["overall_ratio_now"]
    assert rec[0].figures["median_bytes_uncompressed"] < rec[0].figures["median_bytes_compressed"]


def test_mixed_codecs_are_called_out():
    report = analyse_warmup(trace_frame())
    assert report.codecs == ("aura", "deflate")
    assert any("mix 2 codecs" in w for w in report.warnings)
