"""Template metadata loader (the peer's format, docs/formats.md), validated against a library.

Problems inside entries (ids the library lacks, a wrong number of slot lists, slot
values that are not strings) are collected in ``Metadata.warnings`` and the entry is
left out; the usable rest is loaded. Only a file that cannot be read as metadata at all
raises ``InputError``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..inputs import parse_json, read_input_file, surrogate_problem
from .templates import TemplateLibrary, aura_library

# Used when a template has no slot_examples: generic, readable chat fragments.
BUILTIN_FILLERS = [
    "the configuration file",
    "your account settings",
    "the latest release",
    "this function",
    "the error message",
    "a quick summary",
    "the second option",
    "your last question",
    "the database connection",
    "real-time data",
    "the project timeline",
    "a simple example",
    "the test results",
    "the shopping list",
    "the travel itinerary",
    "a healthy breakfast",
    "the monthly budget",
    "the API documentation",
    "the login page",
    "a short paragraph",
]


@dataclass
class Metadata:
    path: str
    slot_examples: dict[int, list[list[str]]]
    warnings: list[str] = field(default_factory=list)
    sha256: str = ""
    description: str = ""

    def examples(self, template_id: int, slot: int) -> list[str]:
        lists = self.slot_examples.get(template_id)
        return lists[slot] if lists and slot < len(lists) else []

    def summary(self) -> dict:
        return {
            "path": self.path,
            "templates": len(self.slot_examples),
            "warnings": len(self.warnings),
            "sha256": self.sha256,
        }


def load_metadata(path: str | Path, library: TemplateLibrary | None = None) -> Metadata:
    """Template metadata (slot examples per template id), checked against ``library``
    (default: AURA's); entries it cannot use are left out and named in ``warnings``."""
    path = Path(path)
    library = library if library is not None else aura_library()
    raw = read_input_file(path, "metadata", fix="check the path or omit --metadata")
    data = parse_json(raw, path)
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise InputError(
            "expected an object with a 'templates' object",
            where=str(path),
            fix='see docs/formats.md: {"templates": {"<id>": {"slot_examples": [[...]]}}}',
        )
    known = set(library.ids())
    loaded: dict[int, list[list[str]]] = {}
    warnings: list[str] = []
    for key, entry in data["templates"].items():
        where = f"{path}: template {key!r}"
        try:
            tid = int(key)
        except ValueError:
            warnings.append(f"{where}: id is not an integer; skipped")
            continue
        if tid not in known:
            warnings.append(f"{where}: the template library has no id {tid}; skipped")
            continue
        described = entry.get("description") if isinstance(entry, dict) else None
        if isinstance(described, str) and described != library.pattern(tid):
            # the slot values were written for another sentence: filled into this one they read wrong
            warnings.append(
                f"{where}: description {described!r} differs from the library's pattern "
                f"{library.pattern(tid)!r} for this id; skipped (fix the id or the description)"
            )
            continue
        examples = entry.get("slot_examples", []) if isinstance(entry, dict) else None
        if not isinstance(examples, list) or not all(
            isinstance(values, list) and all(isinstance(v, str) for v in values) for values in examples
        ):
            warnings.append(f"{where}: 'slot_examples' must be a list of lists of strings; skipped")
            continue
        bad = next((v for values in examples for v in values if surrogate_problem(v)), None)
        if bad is not None:
            warnings.append(f"{where}: example {bad[:40]!r} has {surrogate_problem(bad)}; skipped")
            continue
        need = library.slot_count(tid)
        if len(examples) != need:
            warnings.append(
                f"{where}: {len(examples)} slot list(s) but pattern {library.pattern(tid)!r} "
                f"has {need} slot(s); skipped"
            )
            continue
        values_by_slot = [list(dict.fromkeys(v for v in values if v)) for values in examples]  # no "" or repeats
        if any(not values for values in values_by_slot):
            warnings.append(f"{where}: a slot has no example values (empty strings do not count); skipped")
            continue
        loaded[tid] = values_by_slot
    return Metadata(str(path), loaded, warnings, hashlib.sha256(raw).hexdigest(), str(data.get("description", "")))


def slot_values(metadata: Metadata | None, template_id: int, slot: int) -> list[str]:
    """The values a template's slot is filled from: the metadata's examples, else
    ``BUILTIN_FILLERS``."""
    return (metadata.examples(template_id, slot) if metadata else []) or BUILTIN_FILLERS
