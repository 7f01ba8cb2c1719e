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
from ..inputs import read_template_patterns, surrogate_problem
from ..paths import scratch_cwd
from ..patterns import Matcher, pattern_pieces

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
    """A template library built from ``{id: pattern}``; a match is of the full text."""

    def __init__(self, patterns: dict[int, str], source: str = "<patterns>"):
        self.source = source
        for tid, pattern in patterns.items():
            _check_slots(tid, pattern, source)
        self._patterns = dict(sorted(patterns.items()))
        self._matchers = {tid: Matcher.of(p) for tid, p in self._patterns.items()}
        self._slot_counts = {tid: slot_count(p) for tid, p in self._patterns.items()}
        # format() is on the generators' hot path: split each pattern once into
        # (literal, slot index) pieces; the last piece's index is None
        self._pieces = {tid: pattern_pieces(p) for tid, p in self._patterns.items()}
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
        """The most specific template whose pattern the whole text matches, with its slot
        values; None when none does. Time linear in the text (see ``patterns.Matcher``)."""
        for tid in self._match_order:
            values = self._matchers[tid].match(text)
            if values is not None:
                return tid, values
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
    """format() fills slot {i} with the i-th value: slots must be {0}..{n-1}, no gaps.
    A pattern must be text a message can carry (no lone surrogate)."""
    problem = surrogate_problem(pattern)
    if problem:
        raise InputError(f"template {template_id}: the pattern has {problem}", where=source)
    try:
        numbers = {int(m) for m in _SLOT_RE.findall(pattern)}
    except ValueError:  # a slot number too long for int()
        numbers = None
    if numbers is None or numbers != set(range(len(numbers))):
        raise InputError(
            f"template {template_id}: slots must be numbered {{0}}, {{1}}, ... without gaps, got {pattern[:80]!r}",
            where=source,
        )


@lru_cache(maxsize=1)
def _aura_patterns() -> tuple[tuple[int, str], ...]:
    try:
        from aura_compression import TemplateLibrary as _AuraLibrary
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError(
            "the aura-compression package is not installed",
            fix="pip install aura-compression==2.0.2, or pass a template JSON file",
        ) from None
    try:
        with scratch_cwd():
            lib = _AuraLibrary()
            patterns = lib.list_templates()
            try:
                lib.shutdown()
            except Exception:  # its shutdown is best effort; the patterns are already read
                pass
    except Exception as exc:  # its cache lives in a scratch dir: a full disk, a file-size limit
        raise InputError(
            f"AURA's template library could not be read ({type(exc).__name__}: {exc})",
            where="aura_compression.TemplateLibrary",
            fix="check the space in the temp dir, or pass a template JSON file (--templates)",
        ) from None
    return tuple(sorted(patterns.items()))


def aura_library() -> PatternLibrary:
    """AURA's built-in template library, as installed."""
    return PatternLibrary(dict(_aura_patterns()), source="aura_compression.TemplateLibrary")


def load_template_file(path: str | os.PathLike) -> PatternLibrary:
    """Read ``{id: pattern}`` or ``[{id, pattern, ...}]`` JSON (``inputs.read_template_patterns``)."""
    patterns, _ = read_template_patterns(path)
    if not patterns:  # a generator would have nothing to draw from, a codec nothing to add
        raise InputError(
            "the template file holds no template", where=str(path), fix='give {"id": "pattern with {0}"} entries'
        )
    return PatternLibrary(patterns, source=str(Path(path)))


def load_templates(source: str | os.PathLike | None = None) -> PatternLibrary:
    """``None`` or ``"aura"``: AURA's library; otherwise a template JSON file."""
    if source is None or str(source) == "aura":
        return aura_library()
    return load_template_file(source)
