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

from ..analysis import metrics
from ..analysis.summary import LENGTH_BUCKETS, length_buckets


def _main_ok(df: pd.DataFrame) -> pd.DataFrame:
    part = metrics.select(df, phase="main", ok=True)
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
    return _method_bars(table, title, xlabel="share of messages", ylabel="codec")


def _method_bars(shares: pd.DataFrame, title: str, xlabel: str, ylabel: str):
    """Horizontal stacked bars: one row of ``shares`` a bar, one column (method) a colour."""
    fig, ax = plt.subplots(figsize=(7, max(3.5, 0.3 * len(shares) + 1)))
    if not shares.empty:
        shares.plot.barh(stacked=True, ax=ax, width=0.7)
        ax.legend(title="method", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def ratio_by_length(df: pd.DataFrame, title: str = "Compression ratio by message length"):
    """Bytes ratio per length bucket (UTF-8 bytes) and codec."""
    data = _main_ok(df).dropna(subset=["original_size", "compressed_size"])
    ratio = pd.DataFrame(
        {
            codec: {b["bucket"]: b["ratio"] for b in length_buckets(part)}
            for codec, part in data.groupby("codec", sort=False)
        },
        index=[label for _, _, label in LENGTH_BUCKETS],
        dtype=float,
    )
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if not ratio.empty:
        ratio.plot.bar(ax=ax, rot=0)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set(title=title, xlabel="message length (bytes)", ylabel="ratio (original / compressed)")
    fig.tight_layout()
    return fig


def length_histogram(df: pd.DataFrame, title: str = "Message lengths by role"):
    """Histogram of message lengths in characters, one series per role. Pass one codec's
    rows (``Run.rows()``): every codec sees the same messages."""
    data = metrics.select(df, phase="main")
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


# -- analysis charts (aura_lab.analysis results) ------------------------------------------


def size_by_method(df: pd.DataFrame, title: str = "Message sizes: sent UNCOMPRESSED vs compressed"):
    """Histogram of original sizes (UTF-8 bytes) of the rows given, split by whether the
    server sent them UNCOMPRESSED. Pass one codec's rows (a warmup, say)."""
    data = metrics.select(df, phase=None, ok=True).dropna(subset=["original_size"])
    raw = metrics.methods(data).eq(metrics.UNCOMPRESSED).fillna(False)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sizes = data["original_size"].to_numpy(float)
    bins = list(np.histogram_bin_edges(sizes, bins=25)) if sizes.size else 10
    for label, part in (("UNCOMPRESSED", sizes[raw.to_numpy()]), ("compressed", sizes[~raw.to_numpy()])):
        if part.size:
            ax.hist(part, bins=bins, alpha=0.6, label=f"{label} ({part.size})")
    ax.set(title=title, xlabel="original size (bytes)", ylabel="messages")
    if len(data):
        ax.legend(title="sent as")
    fig.tight_layout()
    return fig


def _band_panels(df: pd.DataFrame, model, role: str):
    """(band, lengths, fit) for each band of ``role`` the model fitted, role-wide last;
    lengths as the fit saw them (positive only for the families anchored at 0)."""
    from ..analysis.lengths import ALL_BANDS, CANDIDATES, banded_rows
    from ..traffic.lengths import TURN_BANDS

    rows = banded_rows(df)
    rows = rows[rows["role"].astype(str) == role]
    panels = []
    for band in (*TURN_BANDS, ALL_BANDS):
        fit = model.chosen.get((role, band))
        if fit is not None:
            part = rows if band == ALL_BANDS else rows[rows["band"] == band]
            lengths = part["length_chars"].to_numpy(float)
            if "floc" in CANDIDATES.get(fit.distribution, {}):
                lengths = lengths[lengths > 0]
            panels.append((band, lengths, fit))
    return panels


def _panel_grid(count: int, title: str):
    fig, axes = plt.subplots(1, max(count, 1), figsize=(3.2 * max(count, 1) + 1, 3.2), squeeze=False)
    fig.suptitle(title)
    return fig, axes[0]


def _finish_panels(fig, axes, panels, role: str, xlabel: str, ylabel: str):
    if not panels:
        axes[0].text(0.5, 0.5, f"no fit for {role}: too few messages", ha="center", transform=axes[0].transAxes)
    for ax in axes:
        ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def length_fit(df: pd.DataFrame, model, role: str, title: str | None = None):
    """Per turn band (and role-wide), the histogram of message lengths (characters) with
    the density of the distribution ``analysis.fit_lengths`` chose."""
    panels = _band_panels(df, model, role)
    fig, axes = _panel_grid(len(panels), title or f"Message lengths and fitted densities: {role}")
    for ax, (band, lengths, fit) in zip(axes, panels):
        ax.hist(lengths, bins=25, density=True, alpha=0.5, color="#7f8c8d")
        x = np.linspace(max(lengths.min() * 0.8, 0.5), lengths.max() * 1.1, 200)
        ax.plot(x, fit.frozen.pdf(x), color="#c0392b", label=fit.distribution)
        ax.set_title(f"{band} (n={fit.n})", fontsize="medium")
        ax.legend(fontsize="small")
    return _finish_panels(fig, axes, panels, role, xlabel="length (characters)", ylabel="density")


def qq_plot(df: pd.DataFrame, model, role: str, title: str | None = None):
    """Observed length quantiles against the fitted distribution's: points on the
    diagonal mean the fit describes the data; bends show where it does not."""
    panels = _band_panels(df, model, role)
    fig, axes = _panel_grid(len(panels), title or f"QQ plot of message lengths: {role}")
    for ax, (band, lengths, fit) in zip(axes, panels):
        observed = np.sort(lengths)
        expected = fit.frozen.ppf((np.arange(1, observed.size + 1) - 0.5) / observed.size)
        ax.scatter(expected, observed, s=8, alpha=0.6)
        ends = [min(expected.min(), observed.min()), max(expected.max(), observed.max())]
        ax.plot(ends, ends, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(f"{band}: {fit.distribution}", fontsize="medium")
    return _finish_panels(
        fig, axes, panels, role, xlabel="fitted quantile (characters)", ylabel="observed quantile (characters)"
    )


def template_heatmap(matrix: pd.DataFrame, n: int = 30, title: str = "Mean compression ratio per template and codec"):
    """``analysis.template_codec_matrix`` as a heatmap, the ``n`` templates with the widest
    spread between codecs first; 1.0 (no compression) is white, red below, blue above."""
    from matplotlib.colors import TwoSlopeNorm

    shown = (
        matrix.loc[(matrix.max(axis=1) - matrix.min(axis=1)).sort_values(ascending=False).index[:n]]
        if len(matrix)
        else matrix
    )
    fig, ax = plt.subplots(figsize=(2 + 1.2 * max(len(shown.columns), 1), max(3, 0.28 * len(shown) + 1.5)))
    if shown.size and np.isfinite(shown.to_numpy(float)).any():
        values = shown.to_numpy(float)
        low, high = np.nanmin(values), np.nanmax(values)
        norm = TwoSlopeNorm(vcenter=1.0, vmin=min(low, 0.99), vmax=max(high, 1.01))
        image = ax.imshow(values, cmap="RdBu", norm=norm, aspect="auto")
        fig.colorbar(image, ax=ax, label="mean ratio (original / compressed)")
        ax.set_xticks(range(len(shown.columns)), shown.columns)
        ax.set_yticks(range(len(shown)), [f"#{t}" for t in shown.index], fontsize="small")
    ax.set(title=title, xlabel="codec", ylabel="template")
    fig.tight_layout()
    return fig


def template_method_mix(table: pd.DataFrame, n: int = 15, title: str = "Compression method per template"):
    """Stacked method shares of the ``n`` most used templates of a ``template_table``."""
    top = table.sort_values(["uses", "template_id"], ascending=[False, True]).head(n).iloc[::-1]
    shares = pd.DataFrame(
        list(top["method_mix"]), index=[f"#{t} ({u})" for t, u in zip(top["template_id"], top["uses"])]
    ).fillna(0)
    return _method_bars(shares, title, xlabel="share of the template's messages", ylabel="template (uses)")


def selection_curves(result, title: str = "Cumulative overall ratio by selection strategy"):
    """``analysis.simulate_selection`` curves: sum original / sum compressed bytes after
    each simulated message, one line per strategy."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for strategy, part in result.curves.groupby("strategy", sort=False):
        ax.plot(part["message"], part["cumulative_ratio"], label=strategy)
    ax.set(title=title, xlabel="simulated messages", ylabel="cumulative overall ratio")
    if len(result.curves):
        ax.legend(title="strategy")
    fig.tight_layout()
    return fig


def threshold_curves(sweep: pd.DataFrame, title: str = "Overall ratio and UNCOMPRESSED share by threshold"):
    """``analysis.threshold_sweep``: overall ratio (left axis) and share of messages sent
    UNCOMPRESSED (right axis) against the minimum compression size (bytes)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(sweep["threshold"], sweep["overall_ratio"].astype(float), marker="o", color="#2e86c1")
    ax.set(title=title, xlabel="min_compression_size (bytes)", ylabel="overall ratio (original / sent)")
    share = ax.twinx()
    share.plot(sweep["threshold"], sweep["uncompressed_share"].astype(float), marker="s", color="#c0392b")
    share.set_ylabel("UNCOMPRESSED share", color="#c0392b")
    share.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def store_curves(sweep: pd.DataFrame, title: str = "Template store hit rate by capacity and eviction policy"):
    """``analysis.store_sweep``: hit rate against store capacity, one line per policy."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for policy, part in sweep.groupby("policy", sort=False):
        ax.plot(part["capacity"], part["hit_rate"].astype(float), marker="o", label=policy)
    ax.set_xscale("log", base=2)
    ax.set(title=title, xlabel="capacity (templates, log scale)", ylabel="hit rate (share of template uses)")
    if len(sweep):
        ax.legend(title="policy")
    fig.tight_layout()
    return fig


def compare_bars(table: pd.DataFrame, title: str = "Run B against run A: relative change per metric"):
    """``compare_runs``: relative delta (B - A) / |A| per codec and metric; red bars are
    regressions, orange worse within the threshold, blue better or unchanged."""
    from matplotlib.patches import Patch

    data = table.dropna(subset=["relative_delta"]).iloc[::-1]
    colours = ["#c0392b" if r else "#e67e22" if w else "#2e86c1" for r, w in zip(data["regression"], data["worse"])]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(data) + 1)))
    ax.barh(
        [f"{c}: {m}" for c, m in zip(data["codec"], data["metric"])],
        100 * data["relative_delta"].astype(float),
        color=colours,
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.legend(
        handles=[
            Patch(color=colour, label=label)
            for colour, label in (("#c0392b", "regression"), ("#e67e22", "worse"), ("#2e86c1", "better or same"))
        ],
        fontsize="small",
    )
    ax.set(title=title, xlabel="relative change (%)", ylabel="codec: metric")
    fig.tight_layout()
    return fig


# -- traffic profiles (aura_lab.analysis.profiles) -------------------------------------------


def _profile_panels(sizes: pd.DataFrame, profile, role: str):
    """(band, sizes, model) for each band of ``role`` with a model of its own, ``all`` last."""
    from ..traffic.conversations import BANDS

    rows = sizes[sizes["role"] == role] if len(sizes) else sizes
    models = profile.sizes.get(role, {})
    panels = []
    for band in (*BANDS, "all"):
        if band in models:
            part = rows if band == "all" else rows[rows["band"] == band]
            values = part["size"].to_numpy(float)
            if values.size:
                panels.append((band, values, models[band]))
    return panels


def profile_fit(sizes: pd.DataFrame, profile, role: str, title: str | None = None):
    """Per band (and role-wide), the share of messages per size bin (UTF-8 bytes, log
    bins) and the share the profile's model puts there. ``sizes`` is
    ``analysis.profiles.sizes_frame`` of the conversations the profile was fitted to."""
    panels = _profile_panels(sizes, profile, role)
    fig, axes = _panel_grid(len(panels), title or f"Message sizes and the profile's model: {role}")
    for ax, (band, values, model) in zip(axes, panels):
        bins = np.logspace(0, np.log10(max(values.max(), 10) * 1.2), 31)
        ax.hist(values, bins=bins, weights=np.full(values.size, 1 / values.size), alpha=0.5, color="#7f8c8d")
        centres = np.sqrt(bins[:-1] * bins[1:])
        ax.plot(centres, np.diff(model.cdf(bins)), color="#c0392b", label=(model.fit or {}).get("chosen", model.kind))
        ax.set_xscale("log")
        ax.set_title(f"{band} (n={values.size})", fontsize="medium")
        ax.legend(fontsize="small")
    return _finish_panels(fig, axes, panels, role, xlabel="size (bytes, log scale)", ylabel="share of messages")


def profile_qq(sizes: pd.DataFrame, profile, role: str, title: str | None = None):
    """Observed size quantiles against the profile model's, log-log: on the diagonal the
    model describes the data; a bend at the right end is a tail it misses."""
    panels = _profile_panels(sizes, profile, role)
    fig, axes = _panel_grid(len(panels), title or f"QQ plot of message sizes: {role}")
    for ax, (band, values, model) in zip(axes, panels):
        observed = np.sort(values)
        expected = model.ppf((np.arange(1, observed.size + 1) - 0.5) / observed.size)
        ax.scatter(expected, observed, s=6, alpha=0.5)
        ends = [max(1.0, min(observed.min(), expected.min())), max(observed.max(), expected.max())]
        ax.plot(ends, ends, linestyle="--", color="black", linewidth=0.8)
        ax.set(xscale="log", yscale="log")
        ax.set_title(f"{band} (n={values.size})", fontsize="medium")
    return _finish_panels(fig, axes, panels, role, xlabel="model size (bytes)", ylabel="observed size (bytes)")
