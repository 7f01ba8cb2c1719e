"""orjson reads replies, json.loads the frames orjson would refuse or misread: every frame
is read exactly as json.loads reads it (the judgement and the record follow from that)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aura_lab.wire.judge import judge_reply, parse_reply

TRICKY = [
    "NaN",
    '{"compression_ratio": Infinity}',
    "-Infinity",
    "1e400",
    '"\\ud800 lone surrogate"',
    "123456789012345678901234567890",  # orjson alone would give a float
    "-9223372036854775809",
    "18446744073709551616",
    '{"a": 1, "a": 2}',
    "-0.0",
    '{"original_size": 12345678901234567890123}',
]
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def outcome(read, raw):
    try:
        return "ok", repr(read(raw))
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__


def test_tricky_frames_read_as_json_reads_them():
    for raw in [*TRICKY, "[" * 3000, '"\ud800"']:
        assert outcome(parse_reply, raw) == outcome(json.loads, raw), raw
    assert parse_reply("123456789012345678901234567890") == 123456789012345678901234567890  # an int, not a float


def test_non_finite_numbers_stay_a_clear_bad_reply():
    good = {"status": "ok", "original_size": 10, "compressed_size": 5, "method": "ZSTD"}
    result = judge_reply("ws://x", 1, 2, json.dumps({**good, "compression_ratio": "NaN"}), "m")
    assert (result.status, result.error_kind) == ("error", "bad_reply")
    # NaN itself is a number to json.loads, but no ratio: a bad reply naming the field
    result = judge_reply("ws://x", 1, 2, '{"status": "ok", "original_size": 10, "compressed_size": 5, '
                         '"method": "ZSTD", "compression_ratio": NaN}', "m")  # fmt: skip
    assert (result.status, result.error_kind) == ("error", "bad_reply") and "compression_ratio" in result.error


GOOD = {"status": "ok", "original_size": 10, "compressed_size": 5, "compression_ratio": 2.0, "method": "ZSTD"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("original_size", -45),
        ("compressed_size", -63),
        ("compressed_size", 5.5),
        ("compressed_size", 2**31),
        ("codec_size", -1),
        ("codec_size", "12"),
        ("compression_ratio", -0.5),
        ("compression_ratio", float("inf")),
        ("compression_ratio", float("-inf")),
        ("original_size", float("nan")),
    ],
)
def test_impossible_figures_are_a_bad_reply_naming_the_field(field, value):
    raw = json.dumps({**GOOD, field: value})  # json.dumps writes NaN and Infinity as json.loads reads them
    result = judge_reply("ws://x", 1, 2, raw, "m")
    assert (result.status, result.error_kind) == ("error", "bad_reply")
    assert field in result.error


@pytest.mark.parametrize("extra", [{}, {"codec_size": 7}, {"codec_size": None}, {"original_size": 10.0}])
def test_possible_figures_stay_ok(extra):
    assert judge_reply("ws://x", 1, 2, json.dumps({**GOOD, **extra}), "m").status == "ok"


@settings(max_examples=400, deadline=None)
@given(values)
def test_any_json_value_reads_the_same(value):
    raw = json.dumps(value)
    assert repr(parse_reply(raw)) == repr(json.loads(raw))


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_any_text_reads_the_same_or_fails_the_same(raw):
    assert outcome(parse_reply, raw) == outcome(json.loads, raw)
