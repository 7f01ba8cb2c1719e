"""aura_lab.lengths: the peer's length table, with the human ranges used this time."""

from __future__ import annotations

import random

import pytest

from aura_lab.traffic.lengths import PEER_LENGTHS, LengthTable, turn_band


@pytest.mark.parametrize(
    "turn, n_turns, band",
    [
        (0, 10, "opening"),
        (-1, 10, "opening"),
        (1, 10, "early"),
        (2, 10, "early"),
        (3, 10, "middle"),
        (4, 10, "middle"),
        (5, 10, "late"),  # half of 10: "after"
        (9, 10, "late"),
        (3, 7, "middle"),  # 3 < 3.5
        (4, 7, "late"),
        (3, 5, "late"),  # 3 >= 2.5: a short conversation has no middle
        (2, 5, "early"),
        (0, 1, "opening"),
    ],
)
def test_turn_band(turn, n_turns, band):
    assert turn_band(turn, n_turns) == band


@pytest.mark.parametrize(
    "role, turn, expected",
    [
        ("ai", 0, (150, 500)),
        ("ai", 1, (100, 400)),
        ("ai", 2, (100, 400)),
        ("ai", 5, (80, 300)),
        ("ai", 10, (60, 200)),
        ("ai", 19, (60, 200)),
        ("human", 0, (50, 200)),
        ("human", 1, (40, 150)),
        ("human", 2, (40, 150)),
    ],
)
def test_peer_ranges(role, turn, expected):
    rng = random.Random(0)
    for _ in range(20):
        assert PEER_LENGTHS.target_range(role, turn, 20, rng) == expected


@pytest.mark.parametrize("turn", [5, 15])  # middle and late
def test_human_later_turns_split_60_40(turn):
    rng = random.Random(1234)
    n = 20_000
    got = [PEER_LENGTHS.target_range("human", turn, 20, rng) for _ in range(n)]
    assert set(got) == {(50, 120), (10, 40)}
    share = got.count((50, 120)) / n
    assert abs(share - 0.60) <= 0.03, f"human later turns: {share:.3f} in 50-120, declared 0.60"


def test_single_option_bands_draw_nothing():
    # a band with one range must not consume the random stream (keeps streams aligned)
    rng, ref = random.Random(9), random.Random(9)
    PEER_LENGTHS.target_range("ai", 7, 10, rng)
    assert rng.random() == ref.random()


def test_bounds_and_custom_table():
    assert PEER_LENGTHS.bounds("ai") == (60, 500)
    assert PEER_LENGTHS.bounds("human") == (10, 200)
    table = LengthTable(
        ranges={r: {b: [(1.0, 5, 6)] for b in ("opening", "early", "middle", "late")} for r in ("ai", "human")}
    )
    assert table.target_range("human", 30, 40, random.Random(0)) == (5, 6)
    assert table.bounds("ai") == (5, 6)
