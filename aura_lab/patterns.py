"""Template patterns (``{0}``, ``{1}`` slots; a slot may repeat): their pieces and a
full-text matcher whose time is linear in the text, for aura-lab's own libraries
(``traffic.templates``) and for AURA's inside its codec (``codecs.aura``)."""

from __future__ import annotations

import re

_SLOT_RE = re.compile(r"\{(\d+)\}")


def pattern_pieces(pattern: str) -> list[tuple[str, int | None]]:
    """``pattern`` as (literal, slot index) pairs: each literal and the slot after it; the
    last pair's index is None."""
    pieces: list[tuple[str, int | None]] = []
    pos = 0
    for m in _SLOT_RE.finditer(pattern):
        pieces.append((pattern[pos : m.start()], int(m.group(1))))
        pos = m.end()
    pieces.append((pattern[pos:], None))
    return pieces


# A repeated slot makes matching a search (the value its first occurrence takes decides
# whether the repeats fit). Real messages need one or two tries; a message built to need
# more than this many is reported as not matching rather than searched at length.
MAX_BACKTRACKS = 64


class Matcher:
    """Full-text match of one pattern, each slot one character or more: the literals
    between slots are found left to right with ``str.find``.

    It gives what the regex ``literal(?P<s0>.+?)literal...`` gave with ``fullmatch``
    (the earliest end for each slot in turn), without its backtracking: a 10-slot
    pattern against a 40-word message took the regex over a minute, ``find`` takes
    microseconds. Without a repeated slot the leftmost place of each literal is the
    answer, so one pass decides (linear in the text). With one, the values of a slot's
    first occurrence are tried shortest first, as the regex did, at most
    ``MAX_BACKTRACKS`` times in all."""

    def __init__(self, pieces: list[tuple[str, int | None]]):
        """``pieces``: (literal, slot index) pairs, the last one's index None (``pattern_pieces``)."""
        self.head = pieces[0][0]
        self.slots = [index for _, index in pieces[:-1] if index is not None]
        self.after = [literal for literal, _ in pieces[1:]]  # the literal after each slot
        self.tail = pieces[-1][0]
        seen: set[int] = set()
        repeats = []
        for index in self.slots:
            repeats.append(index in seen)
            seen.add(index)
        # whether a repeat occurs after slot i: only then can a later end for it help
        self.search = [any(repeats[i + 1 :]) for i in range(len(self.slots))]
        self.count = len(seen)

    @classmethod
    def of(cls, pattern: str) -> Matcher:
        """The matcher of a ``{0}``-slotted pattern."""
        return cls(pattern_pieces(pattern))

    def match(self, text: str, budget: int = MAX_BACKTRACKS) -> list[str] | None:
        """The slot values ({0}, {1}, ...) when the whole text matches, else None
        (also when a repeated slot would need more than ``budget`` tries)."""
        if not self.slots:
            return [] if text == self.head else None
        end = len(text) - len(self.tail)
        if end <= len(self.head) or not text.startswith(self.head) or not text.endswith(self.tail):
            return None
        values: dict[int, str] = {}
        if not self._fill(text, 0, len(self.head), end, values, [budget]):
            return None
        return [values[i] for i in range(self.count)]

    def _fill(self, text: str, i: int, pos: int, end: int, values: dict[int, str], budget: list[int]) -> bool:
        """Fill slot occurrence ``i`` from ``pos`` and everything after it; True on a match."""
        slot, literal, last = self.slots[i], self.after[i], i == len(self.slots) - 1
        if slot in values:  # a repeat: its value is known, so it is one more literal
            stop = pos + len(values[slot])
            if not text.startswith(values[slot], pos):
                return False
            if last:
                return stop == end
            return text.startswith(literal, stop) and self._fill(text, i + 1, stop + len(literal), end, values, budget)
        if last:
            if end - pos < 1:
                return False
            values[slot] = text[pos:end]
            return True
        found = text.find(literal, pos + 1, end)
        while found != -1:
            values[slot] = text[pos:found]
            if self._fill(text, i + 1, found + len(literal), end, values, budget):
                return True
            del values[slot]
            if not self.search[i]:
                return False
            budget[0] -= 1
            if budget[0] <= 0:
                return False
            found = text.find(literal, found + 1, end)
        return False
