import os

import pytest

import aura_lab
from aura_lab.analysis.thresholds import conversations_of, threshold_sweep
from aura_lab.codecs import get_codec
from tests.support.traces import messages

TEXTS = [m["text"] for m in messages(200)]


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    """A small offline run of a stateful and a stateless codec (the threshold is the run's default)."""
    return aura_lab.run(offline=True, users=12, think_time="0", codecs="deflate-stream,deflate", seed=4,
                        trace_dir=str(tmp_path_factory.mktemp("runs")), quiet=True, progress=False)  # fmt: skip


def test_the_sweep_at_the_runs_threshold_gives_the_runs_ratio(offline_run):
    """The sweep compressed each message alone and called it deflate-stream: 2.26 where the
    run measured 3.03. Replayed by conversation, one context per direction, it is the run's."""
    threshold = offline_run.manifest.options["min_compression_size"]
    for codec in ("deflate-stream", "deflate"):
        (row,) = threshold_sweep(offline_run.rows(codec=codec), codec, thresholds=[threshold]).to_dict("records")
        figures = offline_run.summary["codecs"][codec]
        assert row["overall_ratio"] == pytest.approx(figures["overall_ratio"], rel=0.01), codec
        assert row["messages"] == figures["messages"] and row["lossy_messages"] == 0
    # each message alone (no context carried over) is not what deflate-stream measured
    texts = offline_run.rows(codec="deflate-stream")["text"].tolist()
    (alone,) = threshold_sweep(texts, "deflate-stream", thresholds=[threshold])["overall_ratio"]
    assert alone < 0.95 * offline_run.summary["codecs"]["deflate-stream"]["overall_ratio"]


def test_conversations_are_a_users_messages_in_turn_order(offline_run):
    rows = offline_run.rows(codec="deflate")
    conversations = conversations_of(rows.sample(frac=1, random_state=0))  # shuffled
    assert len(conversations) == rows["user_id"].nunique()
    first = rows[rows["user_id"] == rows["user_id"].min()].sort_values("turn")
    assert conversations[0] == list(zip(first["role"].astype(str), first["text"]))


def test_deflate_sweep_applies_each_threshold():
    sweep = threshold_sweep(TEXTS, "deflate", thresholds=range(20, 61, 5))
    assert sweep["threshold"].tolist() == list(range(20, 61, 5))
    assert (sweep["messages"] == len(TEXTS)).all()
    # a higher threshold never compresses more messages
    compressed = sweep["messages_compressed"].tolist()
    assert compressed == sorted(compressed, reverse=True)
    sizes = [(len(t.encode()), len(get_codec("deflate").compress(t).data)) for t in TEXTS]
    for _, row in sweep.iterrows():
        pays = [size >= row["threshold"] and out <= size for size, out in sizes]
        sent = sum(out if p else size for p, (size, out) in zip(pays, sizes))
        assert row["messages_compressed"] == sum(pays) and row["sent_bytes"] == sent
        assert row["overall_ratio"] == pytest.approx(sum(size for size, _ in sizes) / sent)
        assert row["uncompressed_share"] == pytest.approx(1 - sum(pays) / len(TEXTS))
    # expansion falls back to the raw text: never worse than sending everything raw
    assert (sweep["overall_ratio"] >= 1.0).all()


def test_threshold_above_every_message_sends_all_raw():
    longest = max(len(t.encode()) for t in TEXTS)
    row = threshold_sweep(TEXTS, "deflate", thresholds=[longest + 1]).iloc[0]
    assert row["messages_compressed"] == 0 and row["uncompressed_share"] == 1.0
    assert row["overall_ratio"] == pytest.approx(1.0)


def test_aura_runs_in_a_scratch_directory():
    before = set(os.listdir("."))
    sweep = threshold_sweep(TEXTS[:30], "aura", thresholds=(20, 60))
    assert set(os.listdir(".")) == before  # no .aura_cache/ or ml_model.json left here
    assert len(sweep) == 2 and sweep["overall_ratio"].notna().all()
    assert 0 < sweep["uncompressed_share"].iloc[0] <= sweep["uncompressed_share"].iloc[-1] <= 1
