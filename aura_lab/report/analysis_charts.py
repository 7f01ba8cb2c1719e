"""The charts of the analyses behind the notebooks (length fits, traffic profiles, templates, selection,
thresholds, the template store, run comparisons); ``plots`` exports them with the run
charts. Same rules: alt text, the palette's colours, ratio axes from 0, lossy marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .figures import LossStates, describe, method_bars, readable_log_axis
from .palette import codec_colour, codec_tick


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


def _finish_panels(fig, axes, panels, role: str, xlabel: str, ylabel: str, what: str):
    if not panels:
        why = f"no fit for {role}: too few messages (a role absent from the records has none)"
        axes[0].text(0.5, 0.5, why, ha="center", transform=axes[0].transAxes, wrap=True)
    for ax in axes:
        ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    fits = "; ".join(f"{band}: {fit.distribution} over {fit.n} messages" for band, _, fit in panels)
    return describe(fig, f"{what} for {role} messages, one panel per turn band: {fits or 'no fit'}.")


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
    return _finish_panels(
        fig, axes, panels, role, xlabel="length (characters)", ylabel="density", what="Length histograms with fits"
    )


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
        fig,
        axes,
        panels,
        role,
        xlabel="fitted quantile (characters)",
        ylabel="observed quantile (characters)",
        what="QQ plots of lengths against the fits",
    )


# -- traffic profiles (aura_lab.analysis.profiles) -------------------------------------------


def _profile_panels(sizes: pd.DataFrame, profile, role: str):
    """(band, sizes, model) for each band of ``role`` with a model of its own, ``all`` last."""
    from ..traffic.conversations import BANDS

    models = profile.sizes.get(role, {})
    stand_in = any((m.fit or {}).get("role") for m in models.values())  # fitted to messages without a role
    rows = (sizes[sizes["role"].isna()] if stand_in else sizes[sizes["role"] == role]) if len(sizes) else sizes
    panels = []
    for band in (*BANDS, "all"):
        if band in models:
            part = rows if band == "all" else rows[rows["band"] == band]
            values = part["size"].to_numpy(float)
            if values.size:
                panels.append((band, values, models[band]))
    return panels


def _finish_profile_panels(fig, axes, panels, role: str, xlabel: str, ylabel: str, what: str):
    if not panels:
        axes[0].text(0.5, 0.5, f"no model for {role}: too few messages", ha="center", transform=axes[0].transAxes)
    for ax in axes:
        ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    models = "; ".join(
        f"{band}: {(model.fit or {}).get('chosen', model.kind)} against {values.size} messages, "
        f"median {np.median(values):.0f} bytes"
        for band, values, model in panels
    )
    return describe(fig, f"{what} for {role} messages, one panel per band: {models or 'no model'}.")


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
        readable_log_axis(ax.xaxis)
        ax.set_title(f"{band} (n={values.size})", fontsize="medium")
        ax.legend(fontsize="small")
    what = "Size histograms with the profile's model"
    return _finish_profile_panels(fig, axes, panels, role, "size (bytes, log scale)", "share of messages", what)


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
        readable_log_axis(ax.xaxis)
        readable_log_axis(ax.yaxis)
        ax.set_title(f"{band} (n={values.size})", fontsize="medium")
    what = "QQ plots of sizes against the profile"
    return _finish_profile_panels(fig, axes, panels, role, "model size (bytes)", "observed size (bytes)", what)


def template_heatmap(
    matrix: pd.DataFrame,
    n: int = 30,
    title: str = "Mean compression ratio per template and codec",
    lossy: set[str] | frozenset[str] = frozenset(),
    states: LossStates | None = None,
):
    """``analysis.template_codec_matrix`` as a heatmap, the ``n`` templates with the widest
    spread between codecs first; 1.0 (no compression) is white, red below, blue above;
    the codecs in ``lossy`` labelled LOSSY, or each marked as ``codec_tick`` does from
    ``states`` (``report.figures.loss_states``) when given."""
    from matplotlib.colors import TwoSlopeNorm

    def tick(codec: str) -> str:
        return codec_tick(codec, *(states or {}).get(codec, (codec in lossy, "checked")))

    shown = (
        matrix.loc[(matrix.max(axis=1) - matrix.min(axis=1)).sort_values(ascending=False).index[:n]]
        if len(matrix)
        else matrix
    )
    fig, ax = plt.subplots(figsize=(2.5 + 1.3 * max(len(shown.columns), 1), max(3, 0.28 * len(shown) + 1.5)))
    if shown.size and np.isfinite(shown.to_numpy(float)).any():
        values = shown.to_numpy(float)
        low, high = np.nanmin(values), np.nanmax(values)
        norm = TwoSlopeNorm(vcenter=1.0, vmin=min(low, 0.99), vmax=max(high, 1.01))
        image = ax.imshow(values, cmap="RdBu", norm=norm, aspect="auto")
        fig.colorbar(image, ax=ax, label="mean ratio (original / wire bytes)")
        ax.set_xticks(range(len(shown.columns)), [tick(c) for c in shown.columns], rotation=20)
        ax.set_yticks(range(len(shown)), [f"#{t}" for t in shown.index], fontsize="small")
    ax.set(title=title, xlabel="codec", ylabel="template")
    fig.tight_layout()
    means = ", ".join(f"{tick(c)} {shown[c].mean():.2f}" for c in shown.columns) if len(shown) else ""
    return describe(
        fig, f"Heatmap of mean ratio for {len(shown)} templates by codec; column means: {means or 'no data'}."
    )


def template_method_mix(table: pd.DataFrame, n: int = 15, title: str = "Compression method per template"):
    """Stacked method shares of the ``n`` most used templates of a ``template_table``,
    with each template's uses."""
    top = table.sort_values(["uses", "template_id"], ascending=[False, True]).head(n).iloc[::-1]
    counts = (
        pd.DataFrame(
            [{m: share * u for m, share in mix.items()} for mix, u in zip(top["method_mix"], top["uses"])],
            index=[f"#{t}" for t in top["template_id"]],
        )
        .fillna(0)
        .round()
    )
    return method_bars(counts, title, xlabel="share of the template's messages", ylabel="template (uses)")


def selection_curves(result, title: str = "Cumulative overall ratio by selection strategy"):
    """``analysis.simulate_selection`` curves: sum original / sum compressed bytes after
    each simulated message, one line per strategy (ratio axis from 0)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    styles = ["-", "--", "-.", ":"]
    ends = []
    for i, (strategy, part) in enumerate(result.curves.groupby("strategy", sort=False)):
        ax.plot(part["message"], part["cumulative_ratio"], label=strategy, linestyle=styles[i % len(styles)])
        ends.append(f"{strategy} {part['cumulative_ratio'].iloc[-1]:.3f}")
    ax.set_ylim(bottom=0)
    ax.set(title=title, xlabel="simulated messages", ylabel="cumulative overall ratio")
    if len(result.curves):
        ax.legend(title="strategy")
    fig.tight_layout()
    return describe(
        fig, f"Lines of cumulative ratio per selection strategy, from 0; final: {', '.join(ends) or 'none'}."
    )


def threshold_curves(sweep: pd.DataFrame, title: str = "Overall ratio and UNCOMPRESSED share by threshold"):
    """``analysis.threshold_sweep`` (one codec) or ``threshold_sweeps`` (a ``codec``
    column): overall ratio (top, from 0, with each codec's spread over the thresholds)
    and the share of messages sent UNCOMPRESSED (bottom) against the minimum compression
    size (bytes). A codec that lost messages in the replay is dashed and labelled LOSSY."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.2), sharex=True)
    data = sweep if "codec" in sweep else sweep.assign(codec="")
    described = []
    for codec, part in data.groupby("codec", sort=False):
        ratio = part["overall_ratio"].astype(float)
        lossy = bool(part.get("lossy_messages", pd.Series([0])).max())
        spread = (ratio.max() / ratio.min() - 1) if len(ratio) and ratio.min() else 0.0
        label = f"{codec_tick(str(codec), lossy) if codec else 'ratio'} (spread {spread:.2%})"
        colour = codec_colour(str(codec)) if codec else "#0072B2"
        style = "--" if lossy else "-"
        top.plot(part["threshold"], ratio, marker="o", color=colour, linestyle=style, label=label)
        bottom.plot(part["threshold"], part["uncompressed_share"].astype(float), marker="s", color=colour,
                    linestyle=style, label=str(codec) or "UNCOMPRESSED share")  # fmt: skip
        if len(ratio):
            described.append(f"{label}: {ratio.min():.4f} to {ratio.max():.4f}")
    top.set_ylim(
        bottom=0, top=max(1.1, float(data["overall_ratio"].astype(float).max() or 1) * 1.15) if len(data) else 1.1
    )
    top.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    top.set(title=title, ylabel="overall ratio (original / sent)")
    bottom.set(xlabel="min_compression_size (bytes)", ylabel="UNCOMPRESSED share")
    bottom.set_ylim(0, 1)
    if len(data):
        top.legend(fontsize="small", title="codec (spread over the thresholds)")
    top.set_xlabel("min_compression_size (bytes)")
    fig.tight_layout()
    return describe(fig, f"Threshold sweep, ratio from 0 and UNCOMPRESSED share: {'; '.join(described) or 'no data'}.")


def store_curves(sweep: pd.DataFrame, title: str = "Template store hit rate by capacity and eviction policy"):
    """``analysis.store_sweep``: hit rate against store capacity, one line per policy;
    each policy has its own marker and line style, and lines that coincide are said to
    in the legend (so none vanishes under another)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    styles = [("o", "-", 9), ("s", "--", 6), ("^", ":", 4), ("D", "-.", 3)]
    seen: dict[tuple, str] = {}
    described = []
    for i, (policy, part) in enumerate(sweep.groupby("policy", sort=False)):
        marker, line, size = styles[i % len(styles)]
        values = tuple(np.round(part["hit_rate"].astype(float).to_numpy(), 9))
        same = seen.setdefault(values, str(policy))
        label = str(policy) if same == policy else f"{policy} (same as {same})"
        ax.plot(part["capacity"], part["hit_rate"].astype(float), marker=marker, linestyle=line, markersize=size,
                label=label, markerfacecolor="none" if i else None)  # fmt: skip
        described.append(f"{label}: {part['hit_rate'].astype(float).max():.1%} at most")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.02)
    ax.set(title=title, xlabel="capacity (templates, log scale)", ylabel="hit rate (share of template uses)")
    if len(sweep):
        ax.legend(title="policy")
    fig.tight_layout()
    return describe(fig, f"Lines of store hit rate by capacity per policy: {'; '.join(described) or 'no data'}.")


def compare_bars(table: pd.DataFrame, title: str = "Run B against run A: relative change per metric"):
    """``compare_runs``: relative change (B - A) / |A| per codec and metric with its 95 %
    interval; red bars are regressions (the whole interval beyond the threshold), orange
    worse within it, blue better or unchanged. Without intervals (an export on either
    side) the bars have no whiskers and orange reads "worse, not judged"."""
    from matplotlib.patches import Patch

    data = table.dropna(subset=["relative_delta"]).iloc[::-1]
    no_interval = "note" in data and bool(data["note"].notna().any())
    colours = ["#c0392b" if r else "#e67e22" if w else "#2e86c1" for r, w in zip(data["regression"], data["worse"])]
    fig, ax = plt.subplots(figsize=(7.5, max(3, 0.3 * len(data) + 1)))
    relative = data["judged_on"].eq("relative") if "judged_on" in data else pd.Series(True, index=data.index)
    low = (100 * (data["relative_delta"] - data["change_low"].where(relative))).clip(lower=0).fillna(0)
    high = (100 * (data["change_high"].where(relative) - data["relative_delta"])).clip(lower=0).fillna(0)
    ax.barh(
        [f"{c}: {m}" for c, m in zip(data["codec"], data["metric"])],
        100 * data["relative_delta"].astype(float),
        xerr=[low.astype(float), high.astype(float)],
        capsize=2,
        color=colours,
    )
    ax.axvline(0, color="black", linewidth=0.8)
    if data.empty:
        ax.text(0.5, 0.5, "nothing compared: the runs share no codec", ha="center", transform=ax.transAxes)
    ax.legend(
        handles=[
            Patch(color=colour, label=label)
            for colour, label in (
                ("#c0392b", "regression"),
                ("#e67e22", "worse, not judged (no interval)" if no_interval else "worse, within noise"),
                ("#2e86c1", "better or same"),
            )
        ],
        fontsize="small",
    )
    xlabel = "relative change (%), no interval" if no_interval else "relative change (%), 95% interval"
    ax.set(title=title, xlabel=xlabel, ylabel="codec: metric")
    fig.tight_layout()
    flagged = ", ".join(f"{c} {m}" for c, m, r in zip(data["codec"], data["metric"], data["regression"]) if r)
    said = "nothing compared" if data.empty else "not judged (no interval)" if no_interval else flagged or "none"
    return describe(fig, f"Bars of relative change per codec and metric; regressions: {said}.")
