"""Length models: how long (in characters) the message at a given turn should be.

A length model is any object with ``target_range(role, turn, n_turns, rng)`` returning
``(min_chars, max_chars)``. The default is the peer's table (docs/peer.md), with the human
ranges actually used this time. A distribution fitted from traces
(``aura_lab.analysis.lengths``) implements the same method, so it can drive generation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

ROLES = ("ai", "human")
# the role label of messages whose records carry none (the peer's traces): the length
# analysis fits them as one group, which serves both roles when a role has no fit of its own
ANY_ROLE = "any"
PEER_TURNS = (5, 50)  # the peer's conversation lengths, messages (one side), inclusive
TURN_BANDS = ("opening", "early", "middle", "late")


def turn_band(turn: int, n_turns: int) -> str:
    """The peer's turn positions: turn 0, turns 1-2, before half the conversation, after."""
    if turn <= 0:
        return "opening"
    if turn <= 2:
        return "early"
    if turn < n_turns / 2:
        return "middle"
    return "late"


class LengthModel(Protocol):
    def target_range(self, role: str, turn: int, n_turns: int, rng: random.Random) -> tuple[int, int]:
        """(min, max) length in characters for this role and turn."""
        ...


@dataclass(frozen=True)
class LengthTable:
    """Ranges by role and turn band. A band may hold several ``(weight, min, max)`` options."""

    ranges: dict = field(
        default_factory=lambda: {
            "ai": {
                "opening": [(1.0, 150, 500)],
                "early": [(1.0, 100, 400)],
                "middle": [(1.0, 80, 300)],
                "late": [(1.0, 60, 200)],
            },
            "human": {
                "opening": [(1.0, 50, 200)],
                "early": [(1.0, 40, 150)],
                "middle": [(0.6, 50, 120), (0.4, 10, 40)],
                "late": [(0.6, 50, 120), (0.4, 10, 40)],
            },
        }
    )

    def target_range(self, role: str, turn: int, n_turns: int, rng: random.Random) -> tuple[int, int]:
        options = self.ranges[role][turn_band(turn, n_turns)]
        if len(options) == 1:
            return options[0][1], options[0][2]
        # one uniform draw against the cumulative weights (random.choices is slower here)
        point = rng.random() * sum(o[0] for o in options)
        for weight, low, high in options:
            point -= weight
            if point < 0:
                return low, high
        return options[-1][1], options[-1][2]

    def bounds(self, role: str) -> tuple[int, int]:
        """Smallest and largest length any band of this role allows."""
        lows = [o[1] for band in self.ranges[role].values() for o in band]
        highs = [o[2] for band in self.ranges[role].values() for o in band]
        return min(lows), max(highs)


PEER_LENGTHS = LengthTable()
