"""Charts for the notebooks and the report: matplotlib, titled, with units on the axes.

Each function takes a trace DataFrame (or a summary / analysis table) and returns the
matplotlib Figure, so notebooks stay one line a chart and tests can check the figure.
Every chart carries its alt text (``figures.show`` displays it with it); colours come
from ``palette`` (one per codec, one per method, everywhere); ratio axes start at 0;
a lossy codec's bars are hatched and its label says LOSSY wherever its ratio is drawn.
The charts of the analyses behind the notebooks are in ``analysis_charts`` and exported
here too.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..analysis import metrics
from ..analysis.summary import LENGTH_BUCKETS, length_buckets
from ..traffic.lengths import ANY_ROLE
from .analysis_charts import (
    compare_bars,
    length_fit,
    profile_fit,
    profile_qq,
    qq_plot,
    selection_curves,
    store_curves,
    template_heatmap,
    template_method_mix,
    threshold_curves,
)
from .figures import (
    LossStates,
    codec_ticks,
    describe,
    label_bars,
    loss_states,
    lossy_handle,
    mark_lossy,
    method_bars,
    readable_log_axis,
    show,
)
from .palette import ROLE_COLOURS, codec_colour, codec_tick, method_colour

__all__ = [
    "codec_ratios",
    "compare_bars",
    "latency_cdf",
    "length_fit",
    "length_histogram",
    "method_mix",
    "profile_fit",
    "profile_qq",
    "qq_plot",
    "ratio_by_length",
    "selection_curves",
    "show",
    "size_by_method",
    "store_curves",
    "template_bars",
    "template_heatmap",
    "template_method_mix",
    "threshold_curves",
]


def _main_ok(df: pd.DataFrame) -> pd.DataFrame:
    part = metrics.select(df, phase="main", ok=True)
    return part.assign(codec=part["codec"].astype(str))


def codec_ratios(summary: dict, title: str = "Compression ratio by codec: as measured and safe"):
    """Per codec, two bars: sum(original bytes) / sum(bytes on the wire) as measured, and
    the safe ratio (lossy messages counted as sent raw; "not checked" when nobody
    checked). Lossy codecs hatched and labelled; 1.0 (no compression) dashed."""
    codecs = summary["codecs"]
    names = list(codecs)
    measured = [codecs[n]["overall_ratio"] for n in names]
    safe = [codecs[n]["safe_ratio"] for n in names]
    lossy = [bool(codecs[n]["lossy"]) for n in names]
    checked = [codecs[n]["loss"]["status"] for n in names]
    x = np.arange(len(names))
    ticks = [codec_tick(n, lf, ck, sep="\n") for n, lf, ck in zip(names, lossy, checked)]
    fig, ax = plt.subplots(figsize=(_bars_width(ticks), 3.8))
    colours = [codec_colour(n) for n in names]
    bars = ax.bar(x - 0.2, [v or 0 for v in measured], 0.4, color=colours, label="as measured")
    safe_bars = ax.bar(
        x + 0.2, [v or 0 for v in safe], 0.4, color=colours, alpha=0.45, label="safe (lossy counted as sent raw)"
    )
    label_bars(ax, bars, [_ratio_text(v) for v in measured])
    label_bars(ax, safe_bars, [_ratio_text(v) if v is not None else "not\nchecked" for v in safe])
    hatched = mark_lossy(ax, bars, lossy)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--", label="1.0: no compression")
    ax.set_xticks(x, ticks)
    top = max([v for v in measured + safe if v] or [1.0])
    ax.set_ylim(0, top * 1.25)  # room for a two-line "not checked" over the tallest bar
    ax.set(title=title, xlabel="codec", ylabel="ratio (original / wire bytes)")
    from matplotlib.patches import Patch

    # neutral swatches: the bars' own colours are the codecs'
    handles = [
        ax.get_lines()[0],
        Patch(facecolor="#555555", label="as measured"),
        Patch(facecolor="#555555", alpha=0.45, label="safe (lossy counted as sent raw)"),
    ]
    ax.legend(
        handles=handles + ([lossy_handle()] if hatched else []),
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize="small",
    )
    fig.tight_layout()
    parts = [
        f"{codec_tick(n, lf, ck)} {_ratio_text(m)} as measured, safe {'not checked' if s is None else _ratio_text(s)}"
        for n, m, s, lf, ck in zip(names, measured, safe, lossy, checked)
    ]
    return describe(fig, f"Bar chart, compression ratio per codec from 0: {'; '.join(parts) or 'no data'}.")


# inches: each codec's group as wide as its longest tick line (10 pt text is ~0.09 in a
# character), so that neither the names under the groups nor the values over the bars run
# together; beside them the y label and the legend
INCHES_PER_CHAR = 0.09
MIN_GROUP_INCHES = 1.2
BESIDE_GROUPS_INCHES = 3.2


def _bars_width(ticks: list[str]) -> float:
    """The figure's width (inches) for one group of bars per tick label."""
    longest = max((len(line) for tick in ticks for line in tick.splitlines()), default=0)
    group = max(MIN_GROUP_INCHES, INCHES_PER_CHAR * longest + 0.3)
    return max(9.5, BESIDE_GROUPS_INCHES + group * len(ticks))


def _ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def latency_cdf(df: pd.DataFrame, title: str = "Reply latency (empirical CDF)"):
    """Per codec, the share of replies faster than x milliseconds (log axis: 1, 2, 5 of
    each decade)."""
    data = _main_ok(df).dropna(subset=["latency_ms"])
    data = data[data["latency_ms"] > 0]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    medians = []
    for codec, part in data.groupby("codec", sort=False):
        values = np.sort(part["latency_ms"].to_numpy())
        ax.step(
            values, np.arange(1, values.size + 1) / values.size, where="post", label=codec, color=codec_colour(codec)
        )
        medians.append(f"{codec} median {np.median(values):.2f} ms")
    ax.set_xscale("log")
    readable_log_axis(ax.xaxis)
    ax.set_ylim(0, 1.02)
    ax.set(title=title, xlabel="latency (ms, log scale)", ylabel="share of replies")
    if len(data):
        ax.legend(title="codec", fontsize="small")
    fig.tight_layout()
    return describe(fig, f"Cumulative latency curves per codec, log axis: {'; '.join(medians) or 'no data'}.")


def method_mix(df: pd.DataFrame, title: str = "Compression method per codec"):
    """Stacked shares of the method each server reported, with the message counts."""
    data = _main_ok(df)
    counts = pd.crosstab(data["codec"], data["method"].astype(str)) if len(data) else pd.DataFrame()
    return method_bars(counts, title, xlabel="share of messages", ylabel="codec (messages)")


def ratio_by_length(df: pd.DataFrame, title: str = "Compression ratio by message length"):
    """Bytes ratio (as measured) per length bucket (UTF-8 bytes) and codec; the messages
    per bucket under each group; lossy codecs hatched."""
    data = _main_ok(df).dropna(subset=["original_size", "compressed_size"])
    states = loss_states(df)
    names = list(dict.fromkeys(data["codec"]))
    labels = [label for _, _, label in LENGTH_BUCKETS]
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    width = 0.8 / max(len(names), 1)
    counts = dict.fromkeys(labels, 0)
    hatched, described = False, []
    for i, codec in enumerate(names):
        buckets = length_buckets(data[data["codec"] == codec])
        values = [b["ratio"] for b in buckets]
        for b in buckets:
            counts[b["bucket"]] = max(counts[b["bucket"]], b["messages"])
        x = np.arange(len(labels)) + (i - (len(names) - 1) / 2) * width
        lossy = states.get(codec, (False, "checked"))[0]
        bars = ax.bar(x, [v or 0 for v in values], width, color=codec_colour(codec),
                      label=codec_ticks([codec], states)[0])  # fmt: skip
        hatched |= mark_lossy(ax, bars, [lossy] * len(bars))
        described.append(f"{codec_ticks([codec], states)[0]}: " + ", ".join(
            f"{label} {_ratio_text(v)}" for label, v in zip(labels, values)))  # fmt: skip
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(np.arange(len(labels)), [f"{label}\n({counts[label]} msgs)" for label in labels])
    ax.set_ylim(bottom=0)
    ax.set(title=title, xlabel="message length (bytes)", ylabel="ratio (original / wire bytes)")
    if names:
        handles, _ = ax.get_legend_handles_labels()
        ax.legend(
            handles=handles + ([lossy_handle()] if hatched else []),
            fontsize="small",
            title="codec",
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
        )
    fig.tight_layout()
    return describe(fig, f"Grouped bars, ratio per length bucket from 0: {'; '.join(described) or 'no data'}.")


def length_histogram(df: pd.DataFrame, title: str = "Message lengths by role"):
    """Histogram of message lengths in characters, one series per role (``any`` for
    records without one: the peer's traces), on a log axis (real chat spans a few
    characters to many thousands: on a linear axis the short messages of one role fill a
    single bar). Pass one codec's rows (``Run.rows()``):
    every codec sees the same messages."""
    data = metrics.select(df, phase="main")
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    lengths = data["length_chars"].to_numpy(float) if len(data) else np.array([])
    bins = list(np.logspace(0, np.log10(max(lengths.max(initial=10.0), 10.0) * 1.1), 31))
    described = []
    for role, part in data.groupby(data["role"].astype("string").fillna(ANY_ROLE)):
        values = part["length_chars"].clip(lower=1)  # an empty message is drawn in the first bar
        ax.hist(values, bins=bins, alpha=0.6, label=f"{role} ({len(part)})", color=ROLE_COLOURS.get(role))
        described.append(f"{role} {len(part)} messages, median {part['length_chars'].median():.0f} characters")
    ax.set_xscale("log")
    readable_log_axis(ax.xaxis)
    ax.set(title=title, xlabel="length (characters, log scale)", ylabel="messages")
    if len(data):
        ax.legend(title="role (messages)")
    fig.tight_layout()
    return describe(fig, f"Histogram of message lengths: {'; '.join(described) or 'no data'}.")


def template_bars(
    table: pd.DataFrame,
    n: int = 15,
    title: str = "Mean compression ratio per template",
    lossy: bool = False,
    states: LossStates | None = None,
):
    """Sorted horizontal bars with bootstrap intervals, from ``analysis.template_table``;
    uses after each bar; a template used once has no interval (none is drawn); hatched
    when the codec is ``lossy``; its name marked as ``codec_tick`` does, from ``states``
    (``loss_states``) when given."""
    top = table.sort_values("mean_ratio", ascending=False).head(n).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, max(3, 0.32 * len(top) + 1.2)))
    codec = str(top["codec"].iloc[0]) if len(top) else ""
    lossy, status = (states or {}).get(codec, (lossy, "checked"))
    if len(top):
        mean = top["mean_ratio"].astype(float)
        low = (mean - top["mean_ratio_low"].astype(float)).clip(lower=0).fillna(0)
        high = (top["mean_ratio_high"].astype(float) - mean).clip(lower=0).fillna(0)
        bars = ax.barh([f"#{t}" for t in top["template_id"]], mean, xerr=[low, high], capsize=3,
                       color=codec_colour(codec))  # fmt: skip
        if lossy:
            mark_lossy(ax, bars, [True] * len(bars))
            ax.legend(handles=[lossy_handle()], fontsize="small", loc="lower right")
        once = top["mean_ratio_low"].isna()
        ends = (mean + high).to_numpy(float)  # past the whisker, so the text does not cross it
        for bar, end, uses, alone in zip(bars, ends, top["uses"], once):
            text = f"{uses} use{'s' if uses != 1 else ''}" + (", no interval" if alone else "")
            ax.annotate(text, (end, bar.get_y() + bar.get_height() / 2), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize="small")  # fmt: skip
    ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, (top["mean_ratio_high"].astype(float).fillna(top["mean_ratio"]).max() * 1.3) if len(top) else 1)
    marked = f"{title} ({codec_tick(codec, lossy, status)})" if codec else title
    ax.set(title=marked, xlabel="mean ratio (95% bootstrap interval)", ylabel="template")
    fig.tight_layout()
    items = ", ".join(f"#{t} {m:.2f} ({u} uses)" for t, m, u in zip(top["template_id"], top["mean_ratio"], top["uses"]))
    return describe(
        fig, f"Horizontal bars, mean ratio per template from 0 on {codec or 'no codec'}: {items or 'no data'}."
    )


def size_by_method(df: pd.DataFrame, title: str = "Message sizes: sent UNCOMPRESSED vs compressed"):
    """Histogram of original sizes (UTF-8 bytes) of the rows given, split by whether the
    server sent them UNCOMPRESSED. Pass one codec's rows (a warmup, say)."""
    data = metrics.select(df, phase=None, ok=True).dropna(subset=["original_size"])
    raw = metrics.methods(data).eq(metrics.UNCOMPRESSED).fillna(False)
    codec = str(data["codec"].iloc[0]) if len(data) else ""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    sizes = data["original_size"].to_numpy(float)
    bins = list(np.histogram_bin_edges(sizes, bins=25)) if sizes.size else 10
    described = []
    for label, part, colour in (
        ("UNCOMPRESSED", sizes[raw.to_numpy()], method_colour(metrics.UNCOMPRESSED)),
        ("compressed", sizes[~raw.to_numpy()], codec_colour(codec)),
    ):
        if part.size:
            ax.hist(part, bins=bins, alpha=0.7, label=f"{label} ({part.size})", color=colour)
            described.append(f"{label} {part.size} messages, median {np.median(part):.0f} bytes")
    ax.set(title=title, xlabel="original size (bytes)", ylabel="messages")
    if len(data):
        ax.legend(title="sent as (messages)")
    fig.tight_layout()
    return describe(fig, f"Histogram of message sizes: {'; '.join(described) or 'no data'}.")
