"""Per-template compression: which generated templates compress well, and how varied
their slot fillings are (the peer's churn report, over every template this time).

A message is credited to the first template it was generated from (``template_id``);
only successful replies count. Ratios are original/compressed bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import metrics
from .churn import churn_figures, first_filling
from .stats import bootstrap_ci

TOP_SLOT_VALUES = 3

COLUMNS = [
    "codec",
    "template_id",
    "uses",
    "mean_ratio",
    "mean_ratio_low",
    "mean_ratio_high",
    "median_ratio",
    "median_ratio_low",
    "median_ratio_high",
    "method_mix",
    "top_method",
    "unique_fillings",
    "fillings_available",
    "expected_fillings",
    "diversity_vs_uniform",
    "slot_diversity",
    "low_diversity",
    "top_slot_values",
]


def _ok_templated(df: pd.DataFrame) -> pd.DataFrame:
    ok = metrics.select(df, phase=None, ok=True)
    return ok[ok["template_id"].notna()]


def template_table(
    df: pd.DataFrame, n_boot: int = 1000, seed: int = 0, slot_space: Mapping[int, int] | None = None
) -> pd.DataFrame:
    """One row per (codec, template): uses, mean and median ratio with 95 % bootstrap
    intervals (None for a template used once: one use gives no interval), method mix
    (share per upper-case method), the churn figures (``analysis.churn``: unique
    fillings against those a uniform draw over ``slot_space`` would give; the flag is
    None, not checked, without ``slot_space``) and the three most used fillings (slot
    values joined by " | "). ``n_boot`` 0: no intervals (the other figures only)."""
    rows = _ok_templated(df)
    records = []
    for (codec, template_id), group in rows.groupby(["codec", "template_id"], observed=True, sort=True):
        ratios = group["ratio"].to_numpy(float)
        mean, mean_low, mean_high = bootstrap_ci(ratios, np.mean, n_boot=n_boot, seed=seed)
        median, median_low, median_high = bootstrap_ci(ratios, np.median, n_boot=n_boot, seed=seed)
        methods = metrics.methods(group).fillna("UNKNOWN")
        mix = {m: float(s) for m, s in methods.value_counts(normalize=True).sort_index().items()}
        fillings = Counter(first_filling(v) for v in group["slot_values"])
        fillings.pop((), None)  # a template without slots has no diversity to judge
        uses = len(group)
        available = None if slot_space is None else slot_space.get(int(template_id))
        records.append(
            {
                "codec": str(codec),
                "template_id": int(template_id),
                "uses": uses,
                "mean_ratio": mean,
                "mean_ratio_low": mean_low,
                "mean_ratio_high": mean_high,
                "median_ratio": median,
                "median_ratio_low": median_low,
                "median_ratio_high": median_high,
                "method_mix": mix,
                "top_method": max(mix, key=lambda m: mix[m]) if mix else None,
                "fillings_available": available,
                **churn_figures(fillings, uses, available),
                "top_slot_values": [" | ".join(f) for f, _ in fillings.most_common(TOP_SLOT_VALUES)],
            }
        )
    return pd.DataFrame(records, columns=COLUMNS)


def best_worst(
    table: pd.DataFrame, n: int = 5, by: str = "mean_ratio", min_uses: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` best and ``n`` worst rows of a ``template_table`` by ``by``, among
    templates used at least ``min_uses`` times (ties broken by template id)."""
    eligible = table[table["uses"] >= min_uses].dropna(subset=[by])
    best = eligible.sort_values([by, "template_id"], ascending=[False, True]).head(n)
    worst = eligible.sort_values([by, "template_id"], ascending=[True, True]).head(n)
    return best.reset_index(drop=True), worst.reset_index(drop=True)


def template_codec_matrix(df: pd.DataFrame) -> pd.DataFrame:
    """Mean ratio per template (rows) and codec (columns); NaN where a codec never saw it."""
    rows = _ok_templated(df)
    matrix = rows.pivot_table(index="template_id", columns="codec", values="ratio", aggfunc="mean", observed=True)
    matrix.index = matrix.index.astype(int)
    matrix.columns = [str(c) for c in matrix.columns]
    matrix.columns.name = "codec"
    return matrix
