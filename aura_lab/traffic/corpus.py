"""Corpus JSONL loader (the peer's format, docs/formats.md).

One JSON object a line: text under ``message``, ``text`` or ``content``; ``weight``
(a number >= 0, default 1.0); ``category`` ``ai`` | ``human`` (absent: usable by either
role); unknown keys are kept in ``extra``. Blank lines are skipped. Every error names
the file and line.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..inputs import parse_jsonl, read_input_file, text_field

CATEGORIES = ("ai", "human")


@dataclass(frozen=True)
class CorpusMessage:
    text: str
    category: str | None
    weight: float
    line: int
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def length(self) -> int:
        """Length in characters."""
        return len(self.text)


@dataclass
class Corpus:
    path: str
    messages: list[CorpusMessage]
    sha256: str

    def __post_init__(self):
        self._pools: dict[str, tuple[list[CorpusMessage], list[float]]] = {}

    def __len__(self) -> int:
        return len(self.messages)

    def for_role(self, role: str) -> list[CorpusMessage]:
        """Messages of this category, plus uncategorised ones (usable by either role)."""
        return [m for m in self.messages if m.category in (role, None) and m.weight > 0]

    def sample(self, role: str, low: int, high: int, rng: random.Random, tries: int = 50) -> CorpusMessage | None:
        """A message of ``role`` drawn by weight whose length (characters) is within
        ``[low, high]``; ``None`` after ``tries`` draws that did not fit."""
        if role not in self._pools:
            pool = self.for_role(role)
            self._pools[role] = (pool, cumulative_weights([m.weight for m in pool]))
        pool, cumulative = self._pools[role]
        if not pool:
            return None
        total = cumulative[-1]
        for _ in range(tries):
            message = pool[min(bisect.bisect_right(cumulative, rng.random() * total), len(pool) - 1)]
            if low <= message.length <= high:
                return message
        return None

    def duplicates(self) -> dict[str, list[int]]:
        """Texts that occur more than once, with their line numbers."""
        lines: dict[str, list[int]] = {}
        for m in self.messages:
            lines.setdefault(m.text, []).append(m.line)
        return {t: ls for t, ls in lines.items() if len(ls) > 1}

    def summary(self) -> dict:
        by_cat = Counter(m.category or "uncategorised" for m in self.messages)
        dups = self.duplicates()
        return {
            "path": self.path,
            "messages": len(self.messages),
            "by_category": dict(by_cat),
            "duplicate_texts": len(dups),
            "duplicate_lines": sum(len(v) - 1 for v in dups.values()),
            "sha256": self.sha256,
        }


def cumulative_weights(weights: list[float]) -> list[float]:
    """Running sums of ``weights`` (finite, >= 0), scaled by a power of two so the largest
    weight is below 1: weights near 1e308 would overflow the sum to inf (and the draw
    would never reach some lines). A power of two scales exactly, so ordinary weights
    give the very same draws as unscaled sums."""
    if not weights:
        return []
    exponent = math.frexp(max(weights))[1]  # max < 2**exponent
    return list(itertools.accumulate(math.ldexp(w, -exponent) for w in weights))


def load_corpus(path: str | Path, *, stdin: bool = False) -> Corpus:
    """A corpus JSONL file: one message a line (text, optional weight and category).
    Errors name the file, the line and the fix. ``stdin``: ``-`` reads standard input."""
    path = Path(path)
    raw = read_input_file(path, "corpus", fix="check the path or omit --corpus", stdin=stdin)
    messages = [_message(obj, f"{path}:{lineno}", lineno) for lineno, obj in parse_jsonl(raw, path)]
    return Corpus(str(path), messages, hashlib.sha256(raw).hexdigest())


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def _message(obj, where: str, lineno: int) -> CorpusMessage:
    key, text = text_field(obj, where)
    weight = obj.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not _finite(weight) or weight < 0:
        raise InputError(f"'weight' must be a number >= 0, got {json.dumps(weight)}", where=where)
    category = obj.get("category")
    if category is not None:
        if not isinstance(category, str) or category.lower() not in CATEGORIES:
            raise InputError(
                f"unknown category {json.dumps(category)}", where=where, fix="use 'ai' or 'human', or leave it out"
            )
        category = category.lower()
    extra = {k: v for k, v in obj.items() if k not in (key, "weight", "category")}
    return CorpusMessage(text, category, float(weight), lineno, extra)
