import os

import pytest

from aura_lab.analysis.thresholds import compressed_sizes, threshold_sweep
from tests.support.traces import messages

TEXTS = [m["text"] for m in messages(200)]


def test_deflate_sweep_applies_each_threshold():
    sweep = threshold_sweep(TEXTS, "deflate", thresholds=range(20, 61, 5))
    assert sweep["threshold"].tolist() == list(range(20, 61, 5))
    assert (sweep["messages"] == len(TEXTS)).all()
    # a higher threshold never compresses more messages
    compressed = sweep["messages_compressed"].tolist()
    assert compressed == sorted(compressed, reverse=True)
    sizes = compressed_sizes(TEXTS, "deflate")
    for _, row in sweep.iterrows():
        pays = (sizes["original_size"] >= row["threshold"]) & (sizes["compressed_size"] <= sizes["original_size"])
        sent = sizes["compressed_size"].where(pays, sizes["original_size"]).sum()
        assert row["messages_compressed"] == pays.sum()
        assert row["sent_bytes"] == sent
        assert row["overall_ratio"] == pytest.approx(sizes["original_size"].sum() / sent)
        assert row["uncompressed_share"] == pytest.approx(1 - pays.mean())
    # expansion falls back to the raw text: never worse than sending everything raw
    assert (sweep["overall_ratio"] >= 1.0).all()


def test_threshold_above_every_message_sends_all_raw():
    longest = max(len(t.encode()) for t in TEXTS)
    row = threshold_sweep(TEXTS, "deflate", thresholds=[longest + 1]).iloc[0]
    assert row["messages_compressed"] == 0 and row["uncompressed_share"] == 1.0
    assert row["overall_ratio"] == pytest.approx(1.0)


def test_the_expansion_rule_is_the_servers():
    """A standard codec's output that grew is replaced by the raw text, as the server does."""
    sizes = compressed_sizes(TEXTS, "deflate")
    assert sizes["expansion_fallback"].any()
    assert sizes["expansion_fallback"].eq(sizes["compressed_size"] > sizes["original_size"]).all()
    row = threshold_sweep(TEXTS, "deflate", thresholds=[0]).iloc[0]
    grown = sizes["compressed_size"] > sizes["original_size"]
    assert row["sent_bytes"] == int(sizes["compressed_size"][~grown].sum() + sizes["original_size"][grown].sum())


def test_aura_runs_in_a_scratch_directory():
    before = set(os.listdir("."))
    sweep = threshold_sweep(TEXTS[:80], "aura", thresholds=(20, 40, 60))
    assert set(os.listdir(".")) == before  # no .aura_cache/ or ml_model.json left here
    assert len(sweep) == 3 and sweep["overall_ratio"].notna().all()
    assert 0 < sweep["uncompressed_share"].iloc[0] <= sweep["uncompressed_share"].iloc[-1] <= 1
