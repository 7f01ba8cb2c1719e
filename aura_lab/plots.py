"""Charts for the notebooks and the report: matplotlib, titled, with units on the axes.

Each function takes a trace DataFrame (or a summary / analysis table) and returns the
matplotlib Figure, so notebooks stay one line a chart and tests can check the figure.
"""
from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower().startswith("qt"):  # pragma: no cover - headless machines
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .summary import LENGTH_BUCKETS


def _main_ok(df: pd.DataFrame) -> pd.DataFrame:
    part = df[(df["phase"] == "main") & (df["status"] == "ok")]
    return part.assign(codec=part["codec"].astype(str))


def codec_ratios(summary: dict, title: str = "Overall compression ratio by codec"):
    """Bars of sum(original bytes) / sum(compressed bytes) per codec; 1.0 marked."""
    codecs = summary["codecs"]
    names = list(codecs)
    values = [codecs[n]["overall_ratio"] or 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.bar(names, values, color=["#c0392b" if v < 1 else "#2e86c1" for v in values])
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--", label="no compression")
    for bar, value in zip(bars, values):
        ax.annotate(f"{value:.3f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom")
    ax.set(title=title, xlabel="codec", ylabel="ratio (original / compressed bytes)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def latency_cdf(df: pd.DataFrame, title: str = "Reply latency (empirical CDF)"):
    """Per codec, the share of replies faster than x milliseconds."""
    data = _main_ok(df).dropna(subset=["latency_ms"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for codec, part in data.groupby("codec", sort=False):
        values = np.sort(part["latency_ms"].to_numpy())
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", label=codec)
    ax.set_xscale("log")
    ax.set(title=title, xlabel="latency (ms, log scale)", ylabel="share of replies")
    if len(data):
        ax.legend()
    fig.tight_layout()
    return fig


def method_mix(df: pd.DataFrame, title: str = "Compression method per codec"):
    """Stacked shares of the method each server reported."""
    data = _main_ok(df)
    table = pd.crosstab(data["codec"], data["method"].astype(str), normalize="index") if len(data) else pd.DataFrame()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if not table.empty:
        table.plot.barh(stacked=True, ax=ax, width=0.7)
        ax.legend(title="method", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small")
    ax.set(title=title, xlabel="share of messages", ylabel="codec")
    fig.tight_layout()
    return fig


def ratio_by_length(df: pd.DataFrame, title: str = "Compression ratio by message length"):
    """Bytes ratio per length bucket (UTF-8 bytes) and codec."""
    data = _main_ok(df).dropna(subset=["original_size", "compressed_size"])
    labels = [label for _, _, label in LENGTH_BUCKETS]
    edges = [low for low, _, _ in LENGTH_BUCKETS] + [np.inf]
    data = data.assign(bucket=pd.cut(data["length_bytes"], edges, right=False, labels=labels))
    sums = data.groupby(["bucket", "codec"], observed=False)[["original_size", "compressed_size"]].sum()
    ratio = (sums["original_size"] / sums["compressed_size"].replace(0, np.nan)).unstack("codec")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if not ratio.empty:
        ratio.plot.bar(ax=ax, rot=0)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set(title=title, xlabel="message length (bytes)", ylabel="ratio (original / compressed)")
    fig.tight_layout()
    return fig


def length_histogram(df: pd.DataFrame, title: str = "Message lengths by role"):
    """Histogram of message lengths in characters, one series per role (primary codec)."""
    data = df[df["phase"] == "main"]
    if len(data):
        data = data[data["codec"].astype(str) == str(data["codec"].iloc[0])]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for role, part in data.groupby(data["role"].astype(str)):
        ax.hist(part["length_chars"], bins=30, alpha=0.6, label=role)
    ax.set(title=title, xlabel="length (characters)", ylabel="messages")
    if len(data):
        ax.legend(title="role")
    fig.tight_layout()
    return fig


def template_bars(table: pd.DataFrame, n: int = 15, title: str = "Mean compression ratio per template"):
    """Sorted horizontal bars with bootstrap intervals, from ``analysis.template_table``."""
    top = table.sort_values("mean_ratio", ascending=False).head(n).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(top) + 1)))
    if len(top):
        low = (top["mean_ratio"] - top["mean_ratio_low"]).clip(lower=0)
        high = (top["mean_ratio_high"] - top["mean_ratio"]).clip(lower=0)
        ax.barh([f"#{t}" for t in top["template_id"]], top["mean_ratio"], xerr=[low, high], capsize=3)
    ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set(title=title, xlabel="mean ratio (95% bootstrap interval)", ylabel="template")
    fig.tight_layout()
    return fig
