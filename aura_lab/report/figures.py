"""What every chart shares: its alt text, how it is shown in a notebook (with the alt
text in the output's metadata, which the HTML report puts on the ``<img>``), readable
log-scale ticks, counts written on bars, and which codecs lost messages."""

from __future__ import annotations

import io

import matplotlib

if matplotlib.get_backend().lower().startswith("qt"):  # pragma: no cover - headless machines
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis import metrics
from .palette import LOSSY_HATCH, LOSSY_LEGEND, codec_tick

ALT_ATTRIBUTE = "aura_alt_text"  # a Figure's description, set by each chart function


def describe(fig, text: str):
    """Attach a chart's alt text (what it shows, with its main figures) to the figure."""
    setattr(fig, ALT_ATTRIBUTE, text)
    return fig


def alt_text(fig) -> str:
    return getattr(fig, ALT_ATTRIBUTE, "") or (fig.axes[0].get_title() if fig.axes else "chart")


def show(fig) -> None:
    """Display a chart in a notebook as a PNG whose output metadata holds its alt text
    (``{"image/png": {"alt": ...}}``: the report's template writes it as the image's
    ``alt``), and close it so the inline backend does not show it a second time."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"), metadata={"image/png": {"alt": alt_text(fig)}})


def readable_log_axis(axis) -> None:
    """Ticks at 1, 2 and 5 of each decade, written as plain numbers (0.5, 1, 20), and no
    minor labels: the default mathtext ticks collide on a narrow log axis."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def label_bars(ax, bars, texts, horizontal: bool = False) -> None:
    """Write ``texts`` just past the end of each bar."""
    for bar, text in zip(bars, texts):
        if not text:
            continue
        if horizontal:
            x, y = bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2
            ax.annotate(text, (x, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize="small")
        else:
            x, y = bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height()
            ax.annotate(text, (x, y), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                        fontsize="small")  # fmt: skip


LossStates = dict[str, tuple[bool, str]]  # codec -> (lost a message, metrics.loss's status)


def loss_states(df: pd.DataFrame) -> LossStates:
    """``{codec: (lost a message, "checked" | "partly checked" | "not checked")}`` over
    the main phase: what ``codec_tick`` marks a codec's name with."""
    main = metrics.select(df, phase="main")
    out = {}
    for codec, part in main.groupby(main["codec"].astype(str), sort=False):
        loss = metrics.loss(part)
        out[str(codec)] = (loss["lossy"] > 0, str(loss["status"]))
    return out


def codec_ticks(names, states: LossStates) -> list[str]:
    return [codec_tick(n, *states.get(n, (False, "checked"))) for n in names]


def mark_lossy(ax, bars, lossy: list[bool]) -> bool:
    """Hatch the bars of lossy codecs; True when one was hatched (add ``LOSSY_LEGEND``)."""
    for bar, flag in zip(bars, lossy):
        if flag:
            bar.set_hatch(LOSSY_HATCH)
            bar.set_edgecolor("black")
    return any(lossy)


def lossy_handle():
    from matplotlib.patches import Patch

    return Patch(facecolor="white", edgecolor="black", hatch=LOSSY_HATCH, label=LOSSY_LEGEND)


def method_bars(counts: pd.DataFrame, title: str, xlabel: str, ylabel: str):
    """Horizontal stacked bars: one row of ``counts`` a bar labelled with its total, one
    column (method) a colour; each segment of 8 % or more shows its count."""
    import numpy as np

    from .palette import method_colour

    fig, ax = plt.subplots(figsize=(7.5, max(3.5, 0.35 * len(counts) + 1.2)))
    described = []
    if not counts.empty:
        totals = counts.sum(axis=1)
        shares = counts.div(totals.where(totals > 0, 1), axis=0)
        left = np.zeros(len(shares))
        labels = [f"{name} ({int(total)})" for name, total in totals.items()]
        for method in shares.columns:
            widths = shares[method].to_numpy(float)
            bars = ax.barh(labels, widths, left=left, color=method_colour(method), label=method, height=0.7)
            for bar, width, count in zip(bars, widths, counts[method]):
                if width >= 0.08:
                    ax.text(bar.get_x() + width / 2, bar.get_y() + bar.get_height() / 2, str(int(count)),
                            ha="center", va="center", fontsize="small")  # fmt: skip
            left += widths
        ax.legend(title="method", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize="small")
        for name, row in counts.iterrows():
            described.append(f"{name}: " + ", ".join(f"{m} {int(v)}" for m, v in row.items() if v))
    ax.set_xlim(0, 1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return describe(fig, f"Stacked bars of method shares: {'; '.join(described) or 'no data'}.")
