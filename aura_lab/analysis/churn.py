"""Churn: templates whose slot fillings repeat more than chance would make them.

The peer flagged a template when its distinct fillings / uses fell below 0.6. That
share falls as a run grows even for a perfect generator (a template with 5 example
values used 50 times can show at most 5 fillings), so long runs flagged nearly every
template. Here a template is judged against what a uniform draw would give: drawing
``n`` times from ``V`` equally likely fillings shows on average
``V * (1 - (1 - 1/V) ** n)`` distinct ones. ``V`` is the number of fillings the
generator can draw for that template (``traffic.generator.slot_space``, recorded in the
manifest). The flag fires when the distinct fillings seen fall below
``CHURN_MIN_SHARE`` of that expectation, after more than ``CHURN_MIN_USES`` uses: a
share that stays near 1 for an honest generator however long the run.

Without ``V`` (a trace without its manifest) churn is "not checked", never "none".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CHURN_MIN_USES = 3  # a template used this often or less is not judged
CHURN_MIN_SHARE = 0.6  # distinct fillings / expected distinct below this is churn
CHURN_SHOWN = 5  # the text summary lists this many, the worst first
CHURN_RULE = (
    f"a template is flagged when used more than {CHURN_MIN_USES} times with fewer than {CHURN_MIN_SHARE:.0%} "
    "of the distinct slot fillings a uniform draw over its available values would give"
)


def first_filling(slot_values) -> tuple[str, ...]:
    """The slot values of a message's first template, as a hashable tuple (empty for a
    corpus message or a template without slots)."""
    if slot_values is None or len(slot_values) == 0 or slot_values[0] is None:
        return ()
    return tuple(str(v) for v in slot_values[0])


def expected_distinct(available: int, uses: int) -> float:
    """Mean number of distinct values in ``uses`` uniform draws from ``available``."""
    if available <= 0 or uses <= 0:
        return 0.0
    return available * (1 - (1 - 1 / available) ** uses)


def slot_space_of(files: Mapping | None) -> dict[int, int] | None:
    """``{template_id: fillings available}`` from a manifest's ``files`` (JSON keys are
    strings); None when the run did not record it."""
    space = (files or {}).get("slot_space")
    if not isinstance(space, Mapping):
        return None
    return {int(k): int(v) for k, v in space.items()}


def churn_figures(fillings: Iterable[tuple[str, ...]], uses: int, available: int | None) -> dict:
    """``unique_fillings``, ``slot_diversity`` (unique / uses, the peer's figure, shown
    for reference), ``expected_fillings`` (uniform draw), ``diversity_vs_uniform``
    (unique / expected) and ``low_diversity`` (True, False, or None: not checked).
    A template without slots has nothing to vary: its figures are None, never flagged."""
    distinct = {f for f in fillings if f}
    out: dict = {
        "unique_fillings": len(distinct),
        "slot_diversity": len(distinct) / uses if distinct and uses else None,
        "expected_fillings": None,
        "diversity_vs_uniform": None,
        "low_diversity": False if not distinct else None,
    }
    if not distinct or available is None:
        return out
    expected = expected_distinct(available, uses)
    share = len(distinct) / expected if expected else None
    out.update(
        expected_fillings=expected,
        diversity_vs_uniform=share,
        low_diversity=bool(uses > CHURN_MIN_USES and share is not None and share < CHURN_MIN_SHARE),
    )
    return out
