"""An experiment's charts: the forest plot of each variant's change with its interval,
and the cost chart (wire ratio against CPU per message, memory per connection as the
marker's size) with the Pareto front.

Colours are the codecs' own (``palette``, by the codec's name before its options); a
lossy codec is labelled LOSSY wherever its ratio is drawn; a variant whose traffic
differs from the baseline's is drawn hollow ("traffic changed"); a claimed range is a
grey band on its variant's row. Each chart carries its alt text.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator

from ..analysis.text import LOSSY_SUFFIX
from .figures import describe, readable_log_axis
from .palette import codec_colour

CLAIM_COLOUR = "#DDDDDD"


def _label(variant: str, codec: str, lossy: bool, index: int) -> str:
    name = f"{codec} {LOSSY_SUFFIX}" if lossy else str(codec)
    return f"{variant}: {name}" if index == 1 else f"    {name}"


def forest_plot(
    results: pd.DataFrame,
    metric: str = "overall_ratio",
    claims: dict | None = None,
    changed: dict | None = None,
    title: str | None = None,
):
    """Each variant's relative change of ``metric`` per codec, with its 95 % interval, one
    panel per traffic; ``claims``: variant -> (low, high) relative gain claimed (drawn on
    the first codec's row); ``changed``: (traffic, variant) -> True when its traffic differed."""
    claims, changed = claims or {}, changed or {}
    rows = results[results["metric"] == metric]
    traffics = list(dict.fromkeys(rows["traffic"]))
    heights = [max(1.5, 0.32 * (rows["traffic"] == t).sum() + 0.8) for t in traffics] or [2]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(8.5, sum(heights) + 0.6), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    described = []
    for ax, traffic in zip(axes[:, 0], traffics):
        part = rows[rows["traffic"] == traffic].iloc[::-1]
        y = np.arange(len(part))
        labels = []
        for yi, r in zip(y, part.to_dict("records")):
            labels.append(_label(r["variant"], r["codec"], bool(r["lossy_variant"]), int(r["codec_index"])))
            claim = claims.get(r["variant"])
            if claim and int(r["codec_index"]) == 1:
                ax.fill_betweenx([yi - 0.4, yi + 0.4], 100 * claim[0], 100 * claim[1], color=CLAIM_COLOUR, zorder=0)
            if r["relative_delta"] is None or pd.isna(r["relative_delta"]) or r["interval"] != "relative":
                continue
            colour = codec_colour(str(r["codec"]))  # as in every chart of its runs
            hollow = changed.get((traffic, r["variant"]), False)
            err = [
                [max(0.0, 100 * (r["relative_delta"] - r["low"]))],
                [max(0.0, 100 * (r["high"] - r["relative_delta"]))],
            ]
            ax.errorbar(
                100 * r["relative_delta"],
                yi,
                xerr=err if pd.notna(r["low"]) else None,
                fmt="o",
                capsize=3,
                color=colour,
                markerfacecolor="white" if hollow else colour,
            )
            described.append(
                f"{traffic}, {labels[-1].strip()}: {100 * r['relative_delta']:+.1f}% "
                f"[{100 * r['low']:+.1f}%, {100 * r['high']:+.1f}%]"
                if pd.notna(r["low"])
                else ""
            )
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, labels, fontsize="small")
        ax.set_title(f"traffic {traffic}", fontsize="medium", loc="left")
        ax.set_xlabel(f"relative change of the {metric.replace('_', ' ')} (%), 95% interval")
    handles: list = [
        plt.Line2D([], [], marker="o", linestyle="", color="grey", label="same traffic"),
        plt.Line2D([], [], marker="o", linestyle="", color="grey", markerfacecolor="white", label="traffic changed"),
    ]
    if claims:
        from matplotlib.patches import Patch

        handles.append(Patch(color=CLAIM_COLOUR, label="claimed gain"))
    fig.legend(handles=handles, fontsize="small", loc="lower center", ncol=len(handles), bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title or f"What each variant changes: {metric.replace('_', ' ')} against the baseline")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return describe(
        fig,
        "Forest plot of relative changes with 95% intervals: "
        + ("; ".join(d for d in described if d) or "no data")
        + ".",
    )


def pareto_chart(costs: pd.DataFrame, traffic: str, title: str | None = None):
    """Wire ratio (frame headers counted) against CPU per message (compress + decompress,
    µs, log scale), each point a codec setting (the first arm that has it: the
    baseline's, where it has it), numbered, its area the memory it holds per connection;
    ringed in black when on the Pareto front (lossless settings no other beats on ratio,
    CPU and memory at once). Lossy settings are crosses labelled LOSSY: never on the front.
    The legend lists each number's codec with its figures."""
    from matplotlib.lines import Line2D

    part = costs[costs["traffic"] == traffic].dropna(subset=["cpu_us_per_message", "wire_ratio"])
    if "setting" in part:
        part = part[part["setting"].astype(bool)]  # a codec in several arms: its first (the baseline's)
    part = part.sort_values("wire_ratio", ascending=False)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    memory = pd.to_numeric(part["memory_bytes"], errors="coerce").fillna(0).to_numpy(float)
    sizes = 30 + 400 * np.sqrt(memory / memory.max()) if memory.max() > 0 else np.full(len(part), 30.0)
    handles = []
    for number, (r, size) in enumerate(zip(part.to_dict("records"), sizes), 1):
        lossy, front = bool(r["lossy"]), bool(r.get("pareto"))
        colour = codec_colour(str(r["codec"]))  # as in every chart of its runs
        x, y = r["cpu_us_per_message"], r["wire_ratio"]
        if lossy:
            ax.scatter(x, y, s=size, color=colour, marker="x", linewidths=1.5)
        else:
            ax.scatter(x, y, s=size, color=colour, alpha=0.8, edgecolors="black" if front else "none", linewidths=1.5)
        ax.annotate(str(number), (x, y), xytext=(4, 3), textcoords="offset points", fontsize="small")
        kib = (r["memory_bytes"] or 0) / 1024
        label = (
            f"{number}: {r['codec']}{' ' + LOSSY_SUFFIX if lossy else ''}{' (front)' if front else ''}: "
            f"{y:.2f}, {x:.0f} µs, {kib:.0f} KiB"
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="x" if lossy else "o",
                linestyle="",
                color=colour,
                label=label,
                markeredgecolor="black" if front else colour,
            )
        )
    ax.legend(
        handles=handles,
        fontsize="x-small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        title="setting: wire ratio, CPU, memory per connection",
        title_fontsize="x-small",
    )
    ax.set_xscale("log")
    readable_log_axis(ax.xaxis)
    low, high = ax.get_xlim()
    if high / max(low, 1e-9) > 1e3:  # 1-2-5 ticks collide over many decades: decades only
        ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.set_ylim(bottom=0)
    ax.set(
        title=title or f"Ratio against cost, traffic {traffic} (marker area: memory per connection)",
        xlabel="CPU per message: compress + decompress (µs, log scale)",
        ylabel="wire ratio (frame headers counted)",
    )
    fig.tight_layout()
    front_rows = part[part["pareto"].astype(bool)].sort_values("cpu_us_per_message")
    listed = "; ".join(
        f"{r['codec']}: ratio {r['wire_ratio']:.2f}, {r['cpu_us_per_message']:.0f} µs, "
        f"{(r['memory_bytes'] or 0) / 1024:.0f} KiB"
        for r in front_rows.to_dict("records")
    )
    return describe(
        fig, f"Scatter of wire ratio against CPU per message on traffic {traffic}; Pareto front: {listed or 'none'}."
    )
