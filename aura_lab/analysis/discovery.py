"""Finding templates and slot examples in traced messages.

Slot examples for a known library come from ``aura_lab.slots`` (wrapped here for
traces). New templates are mined with Drain3: messages with the same number of
whitespace-separated tokens are clustered, varying tokens become ``<*>``, and each run of
wildcards becomes one ``{n}`` slot. Drain3 splits on whitespace and joins with single
spaces, so a mined pattern can fail to reproduce messages with other spacing: every
template is checked against the messages it was mined from before it is kept.

A pattern's literal text cannot hold ``{n}`` (it would read as a slot: the pattern format
has no escape for it), so a cluster whose messages hold ``{0}``-style text (code, format
strings) is left out and counted when it has ``min_frequency`` messages
(``MinedTemplates.literal_slots``); other braces
(``{x}``, ``}{``) are literal text and stay.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..paths import write_atomic
from ..traffic.slots import coverage, discover_slot_examples  # noqa: F401  (re-exported)
from ..traffic.templates import PatternLibrary, TemplateLibrary

START_ID = 1000  # above AURA's built-in ids, so mined templates never collide with them
MIN_MATCH_SHARE = 0.90
MIN_LITERAL_CHARS = 3  # a pattern that is (almost) all slots matches anything
EXAMPLES = 3


def discover_from_traces(
    df: pd.DataFrame, library: TemplateLibrary, existing: dict | None = None, max_values: int = 50
) -> dict:
    """Slot-example metadata (peer format) for ``library`` from the distinct texts of a
    trace, merged into ``existing``: ``aura_lab.slots.discover_slot_examples`` over a
    trace, where each message appears once per codec."""
    texts = list(dict.fromkeys(df["text"].dropna().astype(str)))
    return discover_slot_examples(texts, library, existing=existing, max_values=max_values)


@dataclass
class MinedTemplate:
    """A template found by Drain3. ``count`` messages were mined into it; ``match_share``
    is the share of them its pattern reproduces exactly."""

    id: int
    pattern: str
    count: int
    examples: list[str]
    sources: list[str] = field(default_factory=list, repr=False)
    drain_template: str = ""
    match_share: float | None = None


class MinedTemplates(list):
    """The kept templates (a list of ``MinedTemplate``); ``rejected`` holds those whose
    pattern reproduced fewer than the required share of their messages."""

    def __init__(
        self, kept: Iterable[MinedTemplate] = (), rejected: Iterable[MinedTemplate] = (), literal_slots: int = 0
    ):
        super().__init__(kept)
        self.rejected = list(rejected)
        self.literal_slots = literal_slots  # clusters left out: their text holds "{n}", which reads as a slot


@contextmanager
def _quiet_drain3():
    logger = logging.getLogger("drain3")
    level = logger.level
    logger.setLevel(logging.WARNING)  # it logs every start at INFO
    try:
        yield
    finally:
        logger.setLevel(level)


def _miner(sim_th: float, depth: int):
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()  # in memory: no drain3.ini is read, no state is saved
    config.drain_sim_th = sim_th
    config.drain_depth = depth
    config.masking_instructions = []
    config.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=config)


_WILDCARD_RUN = re.compile(r"<\*>(?:\s+<\*>)*")
_SLOT_LIKE = re.compile(r"\{\d+\}")  # what a pattern reads as a slot


def drain_to_pattern(drain_template: str) -> str:
    """``"I can help with <*> <*>"`` -> ``"I can help with {0}"``: runs of wildcards
    become one slot, numbered in order of appearance."""
    counter = iter(range(10_000))
    return _WILDCARD_RUN.sub(lambda _: f"{{{next(counter)}}}", drain_template)


def _literal_chars(pattern: str) -> int:
    return len(_SLOT_LIKE.sub("", re.sub(r"\s", "", pattern)))


def mine_templates(
    texts: Sequence[str],
    min_frequency: int = 3,
    sim_th: float = 0.4,
    depth: int = 4,
    start_id: int = START_ID,
    min_match: float = MIN_MATCH_SHARE,
) -> MinedTemplates:
    """Templates occurring in at least ``min_frequency`` messages, most frequent first,
    ids from ``start_id``. Clusters that become the same pattern (Drain3 separates
    messages by token count) are merged, and a message left alone in its cluster joins
    the pattern that reproduces it. Only templates reproducing at least
    ``min_match`` of their messages are kept; the rest are in ``.rejected``."""
    with _quiet_drain3():
        miner = _miner(sim_th, depth)
        members: dict[int, list[str]] = {}
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                continue
            cluster_id = miner.add_log_message(text)["cluster_id"]
            members.setdefault(cluster_id, []).append(text)
        clusters = {c.cluster_id: c.get_template() for c in miner.drain.clusters}

    by_pattern: dict[str, dict] = {}
    literal: list[str] = []  # messages of clusters without wildcards (too few to vary)
    literal_slots = 0
    for cluster_id in sorted(members):
        drain_template = clusters[cluster_id]
        if "<*>" not in drain_template:
            literal.extend(members[cluster_id])
            continue
        if _SLOT_LIKE.search(drain_template):  # its text would read as slots: no pattern can say it
            literal_slots += len(members[cluster_id]) >= min_frequency
            continue
        pattern = drain_to_pattern(drain_template)
        if _literal_chars(pattern) < MIN_LITERAL_CHARS:
            continue  # (almost) all slots: it would match anything
        entry = by_pattern.setdefault(pattern, {"sources": [], "drain": drain_template, "first": cluster_id})
        entry["sources"].extend(members[cluster_id])
    # A message alone at its word count forms a literal cluster; credit it to the
    # pattern that reproduces it, if any ("I can help with budgets." -> "I can help with {0}")
    if literal and by_pattern:
        candidates = PatternLibrary({i: p for i, p in enumerate(by_pattern)}, source="<mined>")
        patterns = list(by_pattern)
        for text in literal:
            hit = candidates.match(text)
            if hit is not None:
                by_pattern[patterns[hit[0]]]["sources"].append(text)

    ranked = sorted(by_pattern.items(), key=lambda kv: (-len(kv[1]["sources"]), kv[1]["first"]))
    ranked = [(p, e) for p, e in ranked if len(e["sources"]) >= min_frequency]
    mined = [
        MinedTemplate(
            id=start_id + i,
            pattern=pattern,
            count=len(entry["sources"]),
            examples=list(dict.fromkeys(entry["sources"]))[:EXAMPLES],
            sources=entry["sources"],
            drain_template=entry["drain"],
        )
        for i, (pattern, entry) in enumerate(ranked)
    ]
    library = PatternLibrary({m.id: m.pattern for m in mined}, source="<mined>")
    shares = verify_mined(mined, library).set_index("id")["match_share"]
    for m in mined:
        m.match_share = float(shares[m.id])
    kept = [m for m in mined if (m.match_share or 0.0) >= min_match]
    return MinedTemplates(kept, [m for m in mined if m not in kept], literal_slots)


def save_template_file(mined: Iterable[MinedTemplate], path: str | Path) -> Path:
    """Write ``{id: pattern}`` JSON, the form ``aura_lab.templates.load_template_file`` reads."""
    path = Path(path)
    data = {str(m.id): m.pattern for m in mined}
    return write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def verify_mined(mined: Iterable[MinedTemplate], library: TemplateLibrary) -> pd.DataFrame:
    """For each mined template: the share of its source messages that the library's
    pattern of the same id reproduces exactly (full match). A template absent from the
    library scores 0."""
    records = []
    for m in mined:
        try:
            own = PatternLibrary({m.id: library.pattern(m.id)}, source="<verify>")
        except (InputError, KeyError):  # the library lacks this id
            own = None
        matched = sum(1 for text in m.sources if own is not None and own.match(text) is not None)
        records.append(
            {
                "id": m.id,
                "pattern": m.pattern,
                "count": m.count,
                "matched": matched,
                "match_share": matched / len(m.sources) if m.sources else 0.0,
            }
        )
    return pd.DataFrame(records, columns=["id", "pattern", "count", "matched", "match_share"])
