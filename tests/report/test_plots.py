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
    threshold_sweeps,
)
from aura_lab.analysis.profiles import fit_profile, sizes_frame
from aura_lab.analysis.selection import SelectionResult
from aura_lab.analysis.summary import summarise
from aura_lab.report import palette, plots
from aura_lab.report.figures import alt_text, loss_states
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
        "threshold_curves_codecs": lambda: plots.threshold_curves(threshold_sweeps(texts[:30], ["deflate", "aura"])[0]),
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
    assert len(alt_text(fig)) > 30  # every chart describes itself (the report's alt text)
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
    from aura_lab.report import analysis_charts

    public = {
        n
        for n in dir(plots)
        if not n.startswith("_")
        and callable(getattr(plots, n))
        and getattr(getattr(plots, n), "__module__", "") in (plots.__name__, analysis_charts.__name__)
    }
    covered = {name.rsplit("_ai", 1)[0].rsplit("_human", 1)[0].rsplit("_codecs", 1)[0] for name in CHARTS}
    assert public <= covered, public - covered


def _colour(artist) -> str:
    return matplotlib.colors.to_hex(artist.get_facecolor() if hasattr(artist, "get_facecolor") else artist.get_color())


def test_one_colour_per_codec_in_every_chart_and_lossy_marked(small_run):
    """aura keeps its colour from chart to chart, and its ratio bars are hatched and
    labelled LOSSY wherever its ratio is drawn."""
    df, summary = small_run.traces, small_run.summary
    colour = palette.codec_colour("aura").lower()
    ratios = plots.codec_ratios(summary)
    aura_bar = ratios.axes[0].patches[0]
    assert _colour(aura_bar) == colour
    lossy = summary["codecs"]["aura"]["lossy"]
    assert (aura_bar.get_hatch() == palette.LOSSY_HATCH) == lossy
    ticks = [t.get_text() for t in ratios.axes[0].get_xticklabels()]
    assert ticks[0] == ("aura\nLOSSY" if lossy else "aura")  # the mark under the name: side-by-side ticks
    assert ratios.axes[0].get_ylim()[0] == 0  # ratio axes start at 0
    cdf = plots.latency_cdf(df)
    (line,) = [line for line in cdf.axes[0].get_lines() if line.get_label() == "aura"]
    assert _colour(line) == colour
    by_length = plots.ratio_by_length(df)
    assert by_length.axes[0].get_ylim()[0] == 0
    assert _colour(by_length.axes[0].patches[0]) == colour
    mix = plots.method_mix(df)
    uncompressed = [p for p in mix.axes[0].patches if _colour(p) == palette.method_colour("UNCOMPRESSED").lower()]
    assert uncompressed  # UNCOMPRESSED is grey in every chart
    assert palette.codec_colour("some-new-codec") == palette.codec_colour("some-new-codec")
    if lossy:
        assert "LOSSY" in alt_text(ratios)
    for fig in (ratios, cdf, by_length, mix):
        plt.close(fig)


def test_threshold_sweep_axis_starts_at_0_and_says_the_spread():
    sweep = pd.DataFrame(
        {
            "threshold": [20, 25, 30],
            "overall_ratio": [1.1654, 1.1658, 1.1662],
            "uncompressed_share": [0.1, 0.2, 0.3],
            "codec": "aura",
            "lossy_messages": [3, 3, 2],
        }
    )
    fig = plots.threshold_curves(sweep)
    assert fig.axes[0].get_ylim()[0] == 0
    (label,) = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert label == "aura LOSSY (spread 0.07%)"
    plt.close(fig)


def test_store_lines_that_coincide_stay_visible():
    sweep = pd.DataFrame(
        {"policy": ["LRU"] * 3 + ["LFU"] * 3, "capacity": [1, 2, 4] * 2, "hit_rate": [0.1, 0.5, 0.9] * 2}
    )
    fig = plots.store_curves(sweep)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["LRU", "LFU (same as LRU)"]
    assert lines[0].get_marker() != lines[1].get_marker() and lines[0].get_linestyle() != lines[1].get_linestyle()
    plt.close(fig)


def test_a_template_used_once_gets_no_interval(small_run):
    table = template_table(small_run.rows(), n_boot=50)
    once = table[table["uses"] == 1]
    assert len(once) and once["mean_ratio_low"].isna().all()
    fig = plots.template_bars(table)
    assert "no interval" in " ".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_log_ticks_are_plain_numbers(small_run):
    fig = plots.latency_cdf(small_run.traces)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all("$" not in text for text in labels)  # no mathtext 10^x
    assert set(loss_states(small_run.traces)) == set(small_run.codecs)
    plt.close(fig)


@pytest.mark.parametrize("share", [1.0, 0.5], ids=["not checked", "partly checked"])
def test_a_codec_whose_loss_was_not_all_checked_is_marked_alike_everywhere(small_run, share):
    """The summary's label, the ratio chart, the template bars and the template heatmap
    mark a codec whose round trips were not (all) checked the same way: they once said
    nothing on the template charts while the ratio chart said "(loss not checked)"."""
    from aura_lab.analysis.text import codec_label

    df = small_run.traces.copy()
    codec = next(c for c, f in small_run.summary["codecs"].items() if not f["lossy"])  # LOSSY would win
    rows = df.index[(df["codec"] == codec).to_numpy()]
    df.loc[rows[: int(len(rows) * share)], ["roundtrip_ok", "roundtrip_by"]] = None
    status = "not checked" if share == 1.0 else "partly checked"
    summary = summarise(df, primary_codec=codec, n_boot=20)
    assert summary["codecs"][codec]["loss"]["status"] == status
    expected = f"{codec} (loss {status})"
    assert codec_label(codec, summary["codecs"][codec]) == expected
    states = loss_states(df)
    ratios = plots.codec_ratios(summary)
    bars = plots.template_bars(template_table(df[df["codec"] == codec], n_boot=20), states=states)
    heatmap = plots.template_heatmap(template_codec_matrix(df), states=states)
    assert expected.replace(" (", "\n(") in [t.get_text() for t in ratios.axes[0].get_xticklabels()]
    assert bars.axes[0].get_title().endswith(f"({expected})")
    assert expected in [t.get_text() for t in heatmap.axes[0].get_xticklabels()]
    assert expected in alt_text(heatmap)
    for fig in (ratios, bars, heatmap):
        plt.close(fig)


def _overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs of tick labels or bar labels of one axes whose drawn boxes overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pairs = []
    for ax in fig.axes:
        texts = [
            t for t in [*ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts] if t.get_text() and t.get_visible()
        ]
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
        for i, (a, box_a) in enumerate(boxes):
            pairs += [(a, b) for b, box_b in boxes[i + 1 :] if box_a.overlaps(box_b)]
    return pairs


def test_seven_codecs_labels_do_not_collide():
    """With 7 codecs the ratio chart's values ran together ("3.0913.091") and the codec
    names under the bars overlapped: no two labels' boxes may overlap once drawn."""
    from tests.analysis.test_summary_text import seven_codec_frame

    df = seven_codec_frame()
    summary = summarise(df)
    assert {f["loss"]["status"] for f in summary["codecs"].values()} == {"checked", "not checked"}
    figures = {
        "codec_ratios": plots.codec_ratios(summary),
        "ratio_by_length": plots.ratio_by_length(df),
        "method_mix": plots.method_mix(df),
        "compare_bars": plots.compare_bars(compare_runs(df, df, n_boot=20)),
    }
    for name, fig in figures.items():
        assert not _overlapping_texts(fig), name
        plt.close(fig)
    ratios = figures["codec_ratios"]
    assert len(ratios.axes[0].texts) == 14  # every value drawn: none dropped to make room
