"""Analysis of trace DataFrames (``aura_lab.traces.load_traces``): pure functions, one
module per question. The notebooks call these; run comparison lives in
``aura_lab.compare`` because it is also a sub-command."""
from ..compare import compare_codecs, compare_runs
from .discovery import (MinedTemplate, coverage, discover_from_traces, discover_slot_examples,
                        mine_templates, save_template_file, verify_mined)
from .lengths import FittedLengthModel, fit_distribution, fit_lengths
from .selection import SelectionResult, ThompsonSelector, UCB1Selector, simulate_selection
from .store import simulate_store, store_sweep, template_sequence
from .templates import best_worst, template_codec_matrix, template_table
from .thresholds import threshold_sweep
from .warmup import WarmupReport, analyse_warmup, recommend_adjustments

__all__ = [
    "FittedLengthModel", "MinedTemplate", "SelectionResult", "ThompsonSelector", "UCB1Selector",
    "WarmupReport", "analyse_warmup", "best_worst", "compare_codecs", "compare_runs", "coverage",
    "discover_from_traces", "discover_slot_examples", "fit_distribution", "fit_lengths", "mine_templates",
    "recommend_adjustments", "save_template_file", "simulate_selection", "simulate_store",
    "store_sweep", "template_codec_matrix", "template_sequence", "template_table",
    "threshold_sweep", "verify_mined",
]
