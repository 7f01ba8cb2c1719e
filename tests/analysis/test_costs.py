"""Cost beside ratio: WebSocket frame headers (RFC 6455), the wire ratio, memory held per
connection (measured, with the library's documented sizes beside it), the Pareto front,
a dictionary's overlap with what it is measured on, and the replicates' interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aura_lab.analysis import metrics
from aura_lab.analysis.costs import connection_memory, pareto_front, training_overlap
from aura_lab.analysis.experiment import compare_arm, replicate_interval
from aura_lab.wire.frames import client_sent, header_size, header_sizes

TEXTS = [
    "Could you explain how permessage-deflate keeps its window between messages?",
    "Sure. " + "Each message is compressed against the ones before it in the same connection. " * 20,
    "Thanks, and what does that cost in memory per connection on the server?",
]


@pytest.mark.parametrize(
    ("payload", "masked", "expected"),
    [(0, False, 2), (125, False, 2), (126, False, 4), (65535, False, 4), (65536, False, 10), (125, True, 6),
     (70000, True, 14)],
)  # fmt: skip
def test_frame_header_sizes_follow_rfc_6455(payload, masked, expected):
    assert header_size(payload, masked) == expected
    assert header_sizes(np.array([payload]), np.array([masked]))[0] == expected


def test_wire_ratio_counts_a_header_on_each_side_by_direction():
    df = pd.DataFrame({"status": ["ok", "ok"], "original_size": [100, 1000], "compressed_size": [50, 200],
                       "role": ["human", "ai"]})  # fmt: skip
    assert client_sent(df["role"]).tolist() == [True, False]
    # human: 100+6 -> 50+6; assistant: 1000+4 -> 200+4 (no mask from the server)
    assert metrics.wire_ratio(df) == pytest.approx((106 + 1004) / (56 + 204))
    assert metrics.wire_ratio(df) < metrics.overall_ratio(df)


def test_memory_per_connection_measured_and_documented():
    stream = connection_memory("deflate-stream", TEXTS)
    narrow = connection_memory("deflate-stream:window_bits=10,mem_level=4", TEXTS)
    # CPython's zlib allocates through Python's allocator: tracemalloc sees zlib's state,
    # which matches zlib's documented 2^(w+2) + 2^(m+9) + 2^w + ~7 KiB
    assert stream["native_bytes"] == (1 << 17) + (1 << 17) + (1 << 15) + 7 * 1024
    assert stream["bytes"] == stream["python_bytes"]
    assert 0.9 * stream["native_bytes"] < stream["python_bytes"] < 1.5 * stream["native_bytes"]
    assert narrow["bytes"] < stream["bytes"] / 5
    zstd = connection_memory("zstd-stream", TEXTS)
    # zstd allocates outside Python: its contexts' own sizes are added to what tracemalloc sees
    assert zstd["native_bytes"] > 100_000 and zstd["bytes"] == zstd["python_bytes"] + zstd["native_bytes"]
    assert "cannot see" in zstd["method"]
    for spec in ("deflate", "zstd-dict", "aura"):
        held = connection_memory(spec, TEXTS)
        assert held["bytes"] == 0 and "no state" in held["method"], spec


def test_pareto_front():
    table = pd.DataFrame({
        "wire_ratio": [2.0, 1.5, 2.5, 1.0, 2.0],
        "cpu_us_per_message": [10.0, 20.0, 100.0, 1.0, 10.0],
        "memory_bytes": [0.0, 0.0, 1e6, 0.0, 5.0],
    })  # fmt: skip
    # row 1 is beaten by row 0 on every axis; row 4 ties row 0 but holds more memory
    assert pareto_front(table).tolist() == [True, False, True, True, False]


def test_training_overlap():
    training = ["the quick brown fox jumps over the lazy dog again and again", "hello"]
    measured = ["hello", "we saw the quick brown fox jumps over the lazy dog today", "short one"]
    overlap = training_overlap(training, measured)
    assert overlap["messages_in_training"] == pytest.approx(1 / 3)
    # the second message has 5 shingles of 8 words (12 words), 2 of them in the training text
    assert overlap["shingles_in_training"] == pytest.approx(2 / 5)


def test_replicate_interval():
    assert replicate_interval([0.1]) == (None, None)
    assert replicate_interval([0.05, 0.05]) == (0.05, 0.05)
    low, high = replicate_interval([0.01, 0.03, 0.02])
    assert low < 0.02 < high


def _frame(users: int, ratio: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        for turn in range(5):
            original = int(rng.integers(50, 500))
            rows.append({"user_id": user, "turn": turn, "text": f"u{user}t{turn}", "codec": "c", "phase": "main",
                         "status": "ok", "role": "human", "original_size": original,
                         "compressed_size": int(original / ratio), "ratio": ratio, "roundtrip_ok": True,
                         "latency_ms": 1.0, "compress_us": 10.0, "decompress_us": 2.0, "codec_size": 1,
                         "method": "X", "server_template_id": None})  # fmt: skip
    return pd.DataFrame(rows)


def test_compare_arm_pairs_identical_traffic():
    base = [_frame(10, 1.5, 1), _frame(10, 1.5, 2)]
    variant = [_frame(10, 2.0, 1), _frame(10, 2.0, 2)]
    rows = {r["metric"]: r for r in compare_arm(base, variant, "t", "v", n_boot=200)}
    ratio = rows["overall_ratio"]
    assert ratio["paired"] and ratio["replicates"] == 2
    assert ratio["relative_delta"] == pytest.approx(2.0 / 1.5 - 1, rel=0.02)
    assert ratio["low"] <= ratio["relative_delta"] <= ratio["high"]
    assert rows["compress_us"]["relative_delta"] == 0 and rows["template_hit_rate"]["baseline"] == 0
