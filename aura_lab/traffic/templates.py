"""Template libraries behind one small interface.

The default library is AURA's own ``aura_compression.TemplateLibrary``, read at run
time from the installed package (never copied into this repository). A JSON file of
``{id: pattern}`` (or a list of ``{id, pattern}`` as served by ``GET /templates``)
is the alternative. Patterns use ``{0}``, ``{1}`` slots; a slot may repeat.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from ..errors import InputError
from ..inputs import read_template_patterns
from ..paths import scratch_cwd

_SLOT_RE = re.compile(r"\{(\d+)\}")


def slot_count(pattern: str) -> int:
    """Number of distinct slots in a pattern (``{0} and {1} ... {0}`` has 2)."""
    return len({int(m) for m in _SLOT_RE.findall(pattern)})


class TemplateLibrary(Protocol):
    """What aura-lab needs of a template library."""

    def ids(self) -> list[int]: ...
    def pattern(self, template_id: int) -> str: ...
    def slot_count(self, template_id: int) -> int: ...
    def format(self, template_id: int, slots: Iterable[str]) -> str: ...
    def match(self, text: str) -> tuple[int, list[str]] | None: ...


class PatternLibrary:
    """A template library built from ``{id: pattern}``; matching is a full-text regex."""

    def __init__(self, patterns: dict[int, str], source: str = "<patterns>"):
        self.source = source
        for tid, pattern in patterns.items():
            _check_slots(tid, pattern, source)
        self._patterns = dict(sorted(patterns.items()))
        self._regexes = {tid: _compile(p) for tid, p in self._patterns.items()}
        self._slot_counts = {tid: slot_count(p) for tid, p in self._patterns.items()}
        # format() is on the generators' hot path: split each pattern once into
        # (literal, slot index) pieces; the last piece's index is None
        self._pieces = {tid: _pieces(p) for tid, p in self._patterns.items()}
        # Most specific first: more literal characters wins, as a human would read it.
        self._match_order = sorted(self._patterns, key=lambda t: -len(_SLOT_RE.sub("", self._patterns[t])))

    def ids(self) -> list[int]:
        return list(self._patterns)

    def pattern(self, template_id: int) -> str:
        try:
            return self._patterns[template_id]
        except KeyError:
            raise InputError(f"unknown template id {template_id}", where=self.source) from None

    def slot_count(self, template_id: int) -> int:
        try:
            return self._slot_counts[template_id]
        except KeyError:
            self.pattern(template_id)  # raises the clear error
            raise

    def format(self, template_id: int, slots: Iterable[str]) -> str:
        values = slots if isinstance(slots, (list, tuple)) else list(slots)
        need = self.slot_count(template_id)
        if len(values) != need:
            raise InputError(
                f"template {template_id} takes {need} slot(s), got {len(values)}",
                where=self.source,
            )
        return "".join(
            literal if index is None else literal + values[index] for literal, index in self._pieces[template_id]
        )

    def match(self, text: str) -> tuple[int, list[str]] | None:
        for tid in self._match_order:
            m = self._regexes[tid].fullmatch(text)
            if m:
                n = self._slot_counts[tid]
                return tid, [m.group(f"s{i}") for i in range(n)]
        return None

    def to_records(self) -> list[dict]:
        """The ``GET /templates`` form: ``[{id, pattern, slots}]``."""
        return [{"id": tid, "pattern": p, "slots": self._slot_counts[tid]} for tid, p in self._patterns.items()]

    def __len__(self) -> int:
        return len(self._patterns)

    def same_patterns(self, other: PatternLibrary) -> bool:
        """True when both libraries hold the same ids with the same patterns."""
        return self._patterns == other._patterns


def _check_slots(template_id: int, pattern: str, source: str) -> None:
    """format() fills slot {i} with the i-th value: slots must be {0}..{n-1}, no gaps."""
    try:
        numbers = {int(m) for m in _SLOT_RE.findall(pattern)}
    except ValueError:  # a slot number too long for int()
        numbers = None
    if numbers is None or numbers != set(range(len(numbers))):
        raise InputError(
            f"template {template_id}: slots must be numbered {{0}}, {{1}}, ... without gaps, got {pattern[:80]!r}",
            where=source,
        )


def _pieces(pattern: str) -> list[tuple[str, int | None]]:
    pieces: list[tuple[str, int | None]] = []
    pos = 0
    for m in _SLOT_RE.finditer(pattern):
        pieces.append((pattern[pos : m.start()], int(m.group(1))))
        pos = m.end()
    pieces.append((pattern[pos:], None))
    return pieces


def _compile(pattern: str) -> re.Pattern:
    parts, seen, pos = [], set(), 0
    for m in _SLOT_RE.finditer(pattern):
        parts.append(re.escape(pattern[pos : m.start()]))
        idx = int(m.group(1))
        parts.append(f"(?P=s{idx})" if idx in seen else f"(?P<s{idx}>.+?)")
        seen.add(idx)
        pos = m.end()
    parts.append(re.escape(pattern[pos:]))
    return re.compile("".join(parts), re.DOTALL)


@lru_cache(maxsize=1)
def _aura_patterns() -> tuple[tuple[int, str], ...]:
    try:
        from aura_compression import TemplateLibrary as _AuraLibrary
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError(
            "the aura-compression package is not installed",
            fix="pip install aura-compression==2.0.2, or pass a template JSON file",
        ) from None
    with scratch_cwd():
        lib = _AuraLibrary()
        patterns = lib.list_templates()
        try:
            lib.shutdown()
        except Exception:  # its shutdown is best effort; the patterns are already read
            pass
    return tuple(sorted(patterns.items()))


def aura_library() -> PatternLibrary:
    """AURA's built-in template library, as installed."""
    return PatternLibrary(dict(_aura_patterns()), source="aura_compression.TemplateLibrary")


def load_template_file(path: str | os.PathLike) -> PatternLibrary:
    """Read ``{id: pattern}`` or ``[{id, pattern, ...}]`` JSON (``inputs.read_template_patterns``)."""
    patterns, _ = read_template_patterns(path)
    return PatternLibrary(patterns, source=str(Path(path)))


def load_templates(source: str | os.PathLike | None = None) -> PatternLibrary:
    """``None`` or ``"aura"``: AURA's library; otherwise a template JSON file."""
    if source is None or str(source) == "aura":
        return aura_library()
    return load_template_file(source)
