"""Slot example discovery: which values fill each template's slots in real text.

Texts are matched against a template library; the slot values found are collected per
template and slot (distinct, first seen first) and merged into template metadata in the
peer's format (docs/formats.md): ``{"description", "version", "templates": {"<id>":
{"description": pattern, "slot_examples": [[slot 0 values], [slot 1 values], ...]}}}``.

Try it: ``aura-lab slots corpus.jsonl --metadata metadata.json``.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..paths import write_atomic
from .templates import TemplateLibrary

DEFAULT_DESCRIPTION = "Slot examples discovered by aura_lab.slots"


def discover_slot_examples(
    texts: Iterable[str],
    library: TemplateLibrary,
    existing: dict | None = None,
    max_values: int = 50,
) -> dict:
    """Metadata (peer format) with the slot values of every text that matches a template.

    ``existing`` (peer format) is merged in: its values come first and are never dropped;
    discovered values are added, without duplicates, until a slot holds ``max_values``
    values. Entries of ``existing`` are kept as they are unless a text matches them; an
    entry whose number of slot lists differs from the library's pattern is then reshaped
    to the pattern (lists kept by position, missing ones added, extra ones dropped),
    because the library is what the compressor matches against. Ids the library lacks
    are kept untouched (``aura_lab.metadata`` reports them). ``existing`` is not modified.
    """
    if max_values < 1:
        raise InputError(f"max_values must be >= 1, got {max_values}")
    result = copy.deepcopy(existing) if existing else {}
    if not isinstance(result, dict) or not isinstance(result.setdefault("templates", {}), dict):
        raise InputError("existing metadata must be an object with a 'templates' object")
    result.setdefault("description", DEFAULT_DESCRIPTION)
    result.setdefault("version", "1.0")
    templates = result["templates"]
    for entry in templates.values():  # existing duplicates would make the counts lie
        if isinstance(entry, dict) and isinstance(entry.get("slot_examples"), list):
            entry["slot_examples"] = [_distinct(v) if isinstance(v, list) else v for v in entry["slot_examples"]]

    for text in texts:
        found = library.match(text)
        if found is None:
            continue
        template_id, values = found
        entry = templates.get(str(template_id))
        if not isinstance(entry, dict):
            entry = templates[str(template_id)] = {}
        entry.setdefault("description", library.pattern(template_id))
        lists = _reshape(entry.get("slot_examples"), library.slot_count(template_id))
        entry["slot_examples"] = lists
        for slot_values, value in zip(lists, values):
            if value not in slot_values and len(slot_values) < max_values:
                slot_values.append(value)
    return result


def coverage(metadata: dict, library: TemplateLibrary) -> dict:
    """How much of the library the metadata can fill.

    A template counts as covered when its id is in the library, its number of slot lists
    equals the pattern's slot count and every slot has at least one value (a template
    without slots only needs to be listed). ``values_per_slot`` (count of values) is
    over the slots of covered templates.
    """
    known = library.ids()
    entries = metadata.get("templates", {}) if isinstance(metadata, dict) else {}
    covered, wrong_count, unknown = [], [], []
    slot_sizes: list[int] = []
    for key, entry in entries.items():
        try:
            template_id = int(key)
        except (TypeError, ValueError):
            unknown.append(key)
            continue
        if template_id not in known:
            unknown.append(template_id)
            continue
        lists = entry.get("slot_examples", []) if isinstance(entry, dict) else []
        if not isinstance(lists, list) or len(lists) != library.slot_count(template_id):
            wrong_count.append(template_id)
            continue
        if all(isinstance(v, list) and v for v in lists):
            covered.append(template_id)
            slot_sizes.extend(len(v) for v in lists)
    covered_set = set(covered)
    return {
        "library_templates": len(known),
        "with_examples": sorted(covered),
        "without_examples": [t for t in known if t not in covered_set],
        "unknown_ids": unknown,
        "wrong_slot_count": sorted(wrong_count),
        "covered_share": len(covered) / len(known) if known else 0.0,
        "values_per_slot": {
            "slots": len(slot_sizes),
            "min": min(slot_sizes) if slot_sizes else 0,
            "median": statistics.median(slot_sizes) if slot_sizes else 0,
        },
    }


def write_metadata(metadata: dict, path: str | os.PathLike) -> Path:
    """Write metadata as pretty UTF-8 JSON (non-ASCII kept as is); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(metadata, ensure_ascii=False, indent=2) + "\n")


def format_coverage(report: dict) -> str:
    """The coverage report as a few lines of text."""
    per_slot = report["values_per_slot"]
    lines = [
        f"templates with examples: {len(report['with_examples'])} of {report['library_templates']}"
        f" ({report['covered_share']:.0%})",
        f"values per slot: min {per_slot['min']}, median {per_slot['median']} over {per_slot['slots']} slots",
        f"library templates without examples: {report['without_examples'] or 'none'}",
    ]
    if report["unknown_ids"]:
        lines.append(f"ids the library lacks: {report['unknown_ids']}")
    if report["wrong_slot_count"]:
        lines.append(f"entries with a wrong number of slot lists: {report['wrong_slot_count']}")
    return "\n".join(lines)


def _distinct(values: list) -> list:
    return list(dict.fromkeys(values))


def _reshape(lists, slot_count: int) -> list[list[str]]:
    lists = [list(v) if isinstance(v, list) else [] for v in (lists if isinstance(lists, list) else [])]
    return (lists + [[] for _ in range(slot_count)])[:slot_count]
