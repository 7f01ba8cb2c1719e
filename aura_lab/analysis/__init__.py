"""Analysis of trace DataFrames (``aura_lab.traces.reader.load_traces``): pure functions,
one module per question; ``metrics`` is the one definition of every figure and ``run``
the one way to open a run. The notebooks call these.

Names are imported on first use, so ``import aura_lab.analysis.metrics`` does not load
scipy or Drain3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Run": "run",
    "load_run": "run",
    "summarise": "summary",
    "format_summary": "text",
    "latest_run": "run",
    "latest_runs": "run",
    "compare_codecs": "compare",
    "compare_runs": "compare",
    "MinedTemplate": "discovery",
    "coverage": "discovery",
    "discover_from_traces": "discovery",
    "discover_slot_examples": "discovery",
    "mine_templates": "discovery",
    "save_template_file": "discovery",
    "verify_mined": "discovery",
    "FittedLengthModel": "lengths",
    "fit_distribution": "lengths",
    "fit_lengths": "lengths",
    "SelectionResult": "selection",
    "ThompsonSelector": "selection",
    "UCB1Selector": "selection",
    "simulate_selection": "selection",
    "simulate_store": "store",
    "store_sweep": "store",
    "template_sequence": "store",
    "best_worst": "templates",
    "template_codec_matrix": "templates",
    "template_table": "templates",
    "threshold_sweep": "thresholds",
    "threshold_sweeps": "thresholds",
    "WarmupReport": "warmup",
    "analyse_warmup": "warmup",
    "recommend_adjustments": "warmup",
}
__all__ = [
    "FittedLengthModel",
    "MinedTemplate",
    "Run",
    "SelectionResult",
    "ThompsonSelector",
    "UCB1Selector",
    "WarmupReport",
    "analyse_warmup",
    "best_worst",
    "compare_codecs",
    "compare_runs",
    "coverage",
    "discover_from_traces",
    "discover_slot_examples",
    "fit_distribution",
    "fit_lengths",
    "format_summary",
    "latest_run",
    "latest_runs",
    "load_run",
    "mine_templates",
    "recommend_adjustments",
    "save_template_file",
    "simulate_selection",
    "simulate_store",
    "store_sweep",
    "summarise",
    "template_codec_matrix",
    "template_sequence",
    "template_table",
    "threshold_sweep",
    "threshold_sweeps",
    "verify_mined",
]

if TYPE_CHECKING:  # for IDEs and type checkers; at run time the names load lazily
    from .compare import compare_codecs, compare_runs
    from .discovery import (
        MinedTemplate,
        coverage,
        discover_from_traces,
        discover_slot_examples,
        mine_templates,
        save_template_file,
        verify_mined,
    )
    from .lengths import FittedLengthModel, fit_distribution, fit_lengths
    from .run import Run, latest_run, latest_runs, load_run
    from .selection import SelectionResult, ThompsonSelector, UCB1Selector, simulate_selection
    from .store import simulate_store, store_sweep, template_sequence
    from .summary import summarise
    from .templates import best_worst, template_codec_matrix, template_table
    from .text import format_summary
    from .thresholds import threshold_sweep, threshold_sweeps
    from .warmup import WarmupReport, analyse_warmup, recommend_adjustments


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
