"""The rows a ratio is over when a codec failed on a message: one set of messages for
every codec (``failures.with_failures_raw``), and what a codec failed on
(``failures.failure_figures``)."""

from __future__ import annotations

import numpy as np
import pytest

from aura_lab.analysis import metrics
from aura_lab.analysis.failures import failure_figures, with_failures_raw
from tests.support.traces import frame_from_records


def record(codec: str, turn: int, size: int | None, compressed: int | None, **extra) -> dict:
    base = {
        "run_id": "r", "phase": "main", "codec": codec, "user_id": 0, "role": "ai", "turn": turn,
        "text": "x" * (size or 10), "length_bytes": size or 10, "status": "ok", "method": "X",
        "original_size": size, "compressed_size": compressed,
        "ratio": size / compressed if size and compressed else None, "roundtrip_ok": True,
    }  # fmt: skip
    base.update(extra)
    return base


def failed(codec: str, turn: int, size: int | None, kind: str = "server_error", **extra) -> dict:
    return record(codec, turn, size, None, **{"status": "error", "error_kind": kind, "method": None, "ratio": None,
                                              "roundtrip_ok": None, **extra})  # fmt: skip


def test_a_failed_message_another_codec_delivered_counts_as_sent_raw():
    df = with_failures_raw(frame_from_records([
        record("aura", 0, 100, 40), record("deflate", 0, 100, 50),
        failed("aura", 1, 82_687, roundtrip_ok=False, error="compress failed: ValueError: too long"),
        record("deflate", 1, 82_687, 20_000),
    ]))  # fmt: skip
    aura = metrics.select(df, codec="aura")
    rows = metrics.sized(aura)
    assert rows["original_size"].sum() == metrics.sized(metrics.select(df, codec="deflate"))["original_size"].sum()
    assert rows["compressed_size"].tolist() == [40, 82_687]
    assert metrics.overall_ratio(aura) == pytest.approx(82_787 / 82_727)
    assert metrics.safe_ratio(aura) == pytest.approx(82_787 / 82_727)  # lossless: raw text loses nothing
    assert metrics.mean_ratio(aura) == pytest.approx((100 / 40 + 1.0) / 2)
    assert metrics.error_rate(aura) == 0.5 and metrics.loss(aura)["delivered"] == 1  # still an error
    assert failure_figures(aura) == {
        "messages": 1, "bytes": 82_687, "by_kind": {"server_error": 1}, "counted_raw": 1,
        "counted_raw_bytes": 82_687, "left_out": 0, "left_out_bytes": 0,
        "error": "compress failed: ValueError: too long",
    }  # fmt: skip


def test_a_failed_reply_without_sizes_takes_the_size_another_codec_delivered():
    # a timeout: no reply, no original_size; deflate's record of the same message has it
    df = with_failures_raw(frame_from_records([
        record("aura", 0, 300, 100), failed("aura", 1, None, "timeout", length_bytes=None),
        record("deflate", 0, 300, 150), record("deflate", 1, 700, 350),
    ]))  # fmt: skip
    rows = metrics.sized(metrics.select(df, codec="aura"))
    assert rows["original_size"].tolist() == [300, 700] and rows["compressed_size"].tolist() == [100, 700]
    assert failure_figures(metrics.select(df, codec="aura"))["counted_raw_bytes"] == 700


def test_a_message_no_codec_delivered_is_left_out_of_every_ratio():
    df = with_failures_raw(frame_from_records([
        record("aura", 0, 100, 50), failed("aura", 1, 500, "closed"),
        record("deflate", 0, 100, 40), failed("deflate", 1, 500, "closed"),
    ]))  # fmt: skip
    assert not df[metrics.COUNTED_RAW].any()
    for codec in ("aura", "deflate"):
        assert metrics.sized(metrics.select(df, codec=codec))["original_size"].tolist() == [100]
    said = failure_figures(metrics.select(df, codec="aura"))
    assert said["left_out"] == 1 and said["left_out_bytes"] == 500 and said["counted_raw"] == 0


def test_records_that_do_not_name_one_message_are_not_matched():
    # two aura records under one key (a replay without turns, say): neither is matched
    df = with_failures_raw(frame_from_records([
        record("aura", 0, 100, 50), failed("aura", 0, 100), record("deflate", 0, 100, 40),
    ]))  # fmt: skip
    assert not df[metrics.COUNTED_RAW].any()
    # another phase, or another run, is another message
    df = with_failures_raw(frame_from_records([
        failed("aura", 0, 100), record("deflate", 0, 100, 40, phase="warmup"), record("identity", 0, 100, 100,
                                                                                       run_id="other"),
    ]))  # fmt: skip
    assert not df[metrics.COUNTED_RAW].any()


def test_without_failures_or_message_columns_the_rows_are_as_they_were():
    df = frame_from_records([record("aura", 0, 100, 50), record("deflate", 0, 100, 40)])
    out = with_failures_raw(df)
    assert out.drop(columns=metrics.COUNTED_RAW).equals(df) and not out[metrics.COUNTED_RAW].any()
    bare = df.drop(columns=["turn"])
    assert not with_failures_raw(bare)[metrics.COUNTED_RAW].any()
    # an unchecked delivered message stays unchecked: only the rows counted raw are made lossless
    unchecked = with_failures_raw(frame_from_records([record("x", 0, 10, 5, roundtrip_ok=None)]))
    assert np.isnan(metrics.lossy_flags(unchecked)).all()
