"""Every chart returns a titled Figure with labelled axes, on a real run's traces and on
an empty trace frame."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

from aura_lab.analysis import (
    compare_runs,
    fit_lengths,
    simulate_selection,
    store_sweep,
    template_codec_matrix,
    template_sequence,
    template_table,
    threshold_sweep,
)
from aura_lab.analysis.profiles import fit_profile, sizes_frame
from aura_lab.analysis.selection import SelectionResult
from aura_lab.analysis.summary import summarise
from aura_lab.report import plots
from aura_lab.traces.logs import trace_conversations
from aura_lab.traces.schema import empty_frame


def charts(df: pd.DataFrame, df_b: pd.DataFrame) -> dict:
    """name -> a function drawing that chart from ``df`` (and ``df_b`` for comparisons)."""
    codec = str(df["codec"].iloc[0]) if len(df) else None
    primary = df[df["codec"].astype(str) == codec] if codec else df
    table = template_table(primary, n_boot=50)
    model = fit_lengths(df, min_samples=10)
    selection = (
        simulate_selection(primary, n_messages=200, codec=codec, warmup_messages=50)
        if len(df)
        else SelectionResult(
            pd.DataFrame(columns=["strategy", "message", "cumulative_ratio"]), pd.DataFrame(), pd.Series(dtype=float)
        )
    )
    texts = primary["text"].dropna().tolist()
    sizes = sizes_frame(trace_conversations(primary))
    profile = fit_profile(sizes, "run", min_samples=10)
    return {
        "codec_ratios": lambda: plots.codec_ratios(summarise(df)),
        "latency_cdf": lambda: plots.latency_cdf(df),
        "method_mix": lambda: plots.method_mix(df),
        "ratio_by_length": lambda: plots.ratio_by_length(df),
        "length_histogram": lambda: plots.length_histogram(df),
        "template_bars": lambda: plots.template_bars(table),
        "size_by_method": lambda: plots.size_by_method(primary),
        "length_fit_ai": lambda: plots.length_fit(df, model, "ai"),
        "length_fit_human": lambda: plots.length_fit(df, model, "human"),
        "qq_plot_ai": lambda: plots.qq_plot(df, model, "ai"),
        "qq_plot_human": lambda: plots.qq_plot(df, model, "human"),
        "template_heatmap": lambda: plots.template_heatmap(template_codec_matrix(df)),
        "template_method_mix": lambda: plots.template_method_mix(table),
        "selection_curves": lambda: plots.selection_curves(selection),
        "threshold_curves": lambda: plots.threshold_curves(threshold_sweep(texts, "deflate")),
        "store_curves": lambda: plots.store_curves(store_sweep(template_sequence(primary))),
        "compare_bars": lambda: plots.compare_bars(compare_runs(df, df_b, n_boot=20)),
        "profile_fit_assistant": lambda: plots.profile_fit(sizes, profile, "assistant"),
        "profile_fit_human": lambda: plots.profile_fit(sizes, profile, "human"),
        "profile_qq_assistant": lambda: plots.profile_qq(sizes, profile, "assistant"),
        "profile_qq_human": lambda: plots.profile_qq(sizes, profile, "human"),
    }


CHARTS = list(charts(empty_frame(), empty_frame()))


def check(fig) -> None:
    assert isinstance(fig, Figure)
    axes = fig.axes
    title = fig._suptitle.get_text() if fig._suptitle else axes[0].get_title()
    assert title
    assert axes[0].get_xlabel() and axes[0].get_ylabel()  # panels and twin axes: the first one
    plt.close(fig)


@pytest.fixture(scope="module")
def real_charts(small_run, small_run_b):
    return charts(small_run.traces, small_run_b.traces)


@pytest.fixture(scope="module")
def empty_charts():
    return charts(empty_frame(), empty_frame())


@pytest.mark.parametrize("name", CHARTS)
def test_chart_on_run(real_charts, name):
    check(real_charts[name]())


@pytest.mark.parametrize("name", CHARTS)
def test_chart_on_empty_traces(empty_charts, name):
    check(empty_charts[name]())


def test_every_chart_function_is_covered():
    public = {
        n
        for n in dir(plots)
        if not n.startswith("_")
        and callable(getattr(plots, n))
        and getattr(getattr(plots, n), "__module__", "") == plots.__name__
    }
    covered = {name.rsplit("_ai", 1)[0].rsplit("_human", 1)[0] for name in CHARTS}
    assert public <= covered, public - covered
