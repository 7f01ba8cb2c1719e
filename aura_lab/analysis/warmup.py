"""What a warmup says about the traffic mix, and what to change before the main run.

The peer prints a hit rate, a mean ratio and an UNCOMPRESSED share after its warmup and
bumps ``corpus_weight`` when the mean ratio is low. Here the same figures come back as a
``WarmupReport`` whose warnings and recommendations each carry the numbers behind them;
``recommend_adjustments`` is the pure step the runner applies after its own warmup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics
from .metrics import HIT_DEFINITION, UNCOMPRESSED

# The peer's thresholds (docs/peer.md, "Warmup")
MIN_HIT_RATE = 0.35
MAX_UNCOMPRESSED_SHARE = 0.60
MIN_MEAN_RATIO = 1.15
CORPUS_WEIGHT_STEP = 0.2
MAX_CORPUS_WEIGHT = 0.9
# The peer explores 0.3 during warmup and 0.2 after it
EXPLORE_AFTER_WARMUP = 0.2
EXPLORE_WHILE_LEARNING = 0.3
MIN_USES_TO_EXPLOIT = 2  # a template seen fewer times than this has no usable mean


@dataclass
class Recommendation:
    """One suggested setting change. ``figures`` holds the numbers that led to it."""

    setting: str  # corpus_weight | min_compression_size | explore
    current: float | None
    suggested: float | None
    reason: str
    figures: dict = field(default_factory=dict)


@dataclass
class WarmupReport:
    """Figures over the warmup messages. Sizes in bytes; ratios original/compressed."""

    messages: int
    ok_messages: int
    errors: int
    hit_rate: float | None
    mean_ratio: float | None
    overall_ratio: float | None
    uncompressed_share: float | None
    method_shares: dict
    templates_seen: int
    median_uses_per_template: float | None
    ratio_spread_between_templates: float | None  # max - min of per-template mean ratios
    median_bytes_uncompressed: float | None
    median_bytes_compressed: float | None
    min_compression_size: int | None  # current, as told
    suggested_min_compression_size: int | None
    overall_ratio_at_suggestion: float | None
    longest_message: int | None = None  # bytes: a threshold above it sends everything raw
    warnings: list[str] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    hit_definition: str = HIT_DEFINITION
    codecs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.ok_messages == 0

    def summary(self) -> str:
        """A few lines for a notebook or the runner's log."""
        if self.empty:
            return f"warmup: no successful messages ({self.messages} rows, {self.errors} errors)"

        def fmt(value, spec=".2f"):
            return "n/a" if value is None else format(value, spec)

        lines = [
            f"warmup: {self.ok_messages} messages ok, {self.errors} errors",
            f"  template hit rate {fmt(self.hit_rate, '.1%')} ({self.hit_definition})",
            f"  mean ratio {fmt(self.mean_ratio)}, overall ratio {fmt(self.overall_ratio)}, "
            f"UNCOMPRESSED {fmt(self.uncompressed_share, '.1%')}",
        ]
        lines += [f"  WARNING {w}" for w in self.warnings]
        lines += [f"  -> {r.setting}: {r.current} -> {r.suggested}: {r.reason}" for r in self.recommendations]
        return "\n".join(lines)


def analyse_warmup(
    df: pd.DataFrame,
    all_rows: bool = False,
    corpus_weight: float | None = None,
    explore: float | None = None,
    min_compression_size: int | None = 35,
) -> WarmupReport:
    """Warmup figures over ``phase == "warmup"`` rows (every row when ``all_rows``).

    ``corpus_weight``, ``explore`` and ``min_compression_size`` (bytes; 35 is the
    peer's server) are the settings the warmup ran with; recommendations are relative to
    them (``None``: unknown, the recommendation then states the change only).
    """
    rows = metrics.select(df, phase=None if all_rows else "warmup")
    codecs = tuple(sorted(rows["codec"].dropna().astype(str).unique())) if "codec" in rows else ()
    ok = metrics.select(rows, phase=None, ok=True)
    report = WarmupReport(
        messages=len(rows),
        ok_messages=len(ok),
        errors=len(rows) - len(ok),
        hit_rate=None,
        mean_ratio=None,
        overall_ratio=None,
        uncompressed_share=None,
        method_shares={},
        templates_seen=0,
        median_uses_per_template=None,
        ratio_spread_between_templates=None,
        median_bytes_uncompressed=None,
        median_bytes_compressed=None,
        min_compression_size=min_compression_size,
        suggested_min_compression_size=None,
        overall_ratio_at_suggestion=None,
        codecs=codecs,
    )
    if report.empty:
        report.warnings.append("no successful warmup messages: nothing to judge")
        return report

    methods = metrics.methods(ok).fillna("UNKNOWN")
    report.hit_rate = metrics.template_hit_rate(ok)
    report.mean_ratio = metrics.mean_ratio(ok)
    sized = metrics.sized(ok)
    report.overall_ratio = metrics.overall_ratio(sized)
    report.uncompressed_share = metrics.uncompressed_share(ok)
    report.method_shares = {m: float(s) for m, s in methods.value_counts(normalize=True).items()}

    templated = ok[ok["template_id"].notna()] if "template_id" in ok else ok.iloc[:0]
    if len(templated):
        per_template = templated.groupby("template_id", observed=True)["ratio"].agg(["count", "mean"])
        report.templates_seen = len(per_template)
        report.median_uses_per_template = float(per_template["count"].median())
        usable = per_template[per_template["count"] >= MIN_USES_TO_EXPLOIT]["mean"].dropna()
        if len(usable) >= 2:
            report.ratio_spread_between_templates = float(usable.max() - usable.min())

    if len(sized):
        sizes = sized["original_size"].astype(float)
        sized_uncompressed = metrics.methods(sized).eq(UNCOMPRESSED).fillna(False)
        if sized_uncompressed.any():
            report.median_bytes_uncompressed = float(sizes[sized_uncompressed].median())
        if (~sized_uncompressed).any():
            report.median_bytes_compressed = float(sizes[~sized_uncompressed].median())
        best, ratio_at_best = best_min_compression_size(
            sized["original_size"].to_numpy(float),
            sized["compressed_size"].to_numpy(float),
            prefer=min_compression_size,
        )
        report.suggested_min_compression_size = best
        report.overall_ratio_at_suggestion = ratio_at_best
        report.longest_message = int(sizes.max())

    _warn(report)
    if len(codecs) > 1:
        report.warnings.append(f"figures mix {len(codecs)} codecs ({', '.join(codecs)}): pass one codec's rows")
    _, _, report.recommendations = _recommend(report, corpus_weight, explore)
    return report


def best_min_compression_size(
    original_size, compressed_size, prefer: int | None = None
) -> tuple[int | None, float | None]:
    """The threshold (bytes) below which sending a message uncompressed gives the best
    overall ratio over these messages, and that ratio.

    Below the threshold a message costs its original size; at or above it, what the
    codec produced. ``prefer`` (the current setting) wins when it is as good as the best,
    since a trace cannot tell apart thresholds below the one it ran with; otherwise the
    smallest best threshold.
    """
    original = np.asarray(original_size, dtype=float)
    compressed = np.asarray(compressed_size, dtype=float)
    keep = ~(np.isnan(original) | np.isnan(compressed))
    original, compressed = original[keep], compressed[keep]
    if original.size == 0 or original.sum() == 0:
        return None, None
    order = np.argsort(original, kind="stable")
    original, compressed = original[order], compressed[order]
    # cost(t) = sum(original[< t]) + sum(compressed[>= t]), via prefix sums over sorted sizes
    prefix_original = np.concatenate([[0.0], np.cumsum(original)])
    prefix_compressed = np.concatenate([[0.0], np.cumsum(compressed)])

    def cost(thresholds):
        below = np.searchsorted(original, thresholds, side="left")
        return prefix_original[below] + (prefix_compressed[-1] - prefix_compressed[below])

    thresholds = np.append(np.unique(original), original[-1] + 1)  # last: above every message
    costs = cost(thresholds)
    lowest = costs.min()
    if prefer is not None and cost(np.array([prefer], dtype=float))[0] <= lowest * (1 + 1e-12):
        return int(prefer), float(prefix_original[-1] / lowest)
    best = int(np.argmin(costs))  # first minimum: the smallest threshold
    return int(thresholds[best]), float(prefix_original[-1] / lowest)


def _warn(report: WarmupReport) -> None:
    if report.hit_rate is not None and report.hit_rate < MIN_HIT_RATE:
        report.warnings.append(
            f"template hit rate {report.hit_rate:.1%} is below {MIN_HIT_RATE:.0%}: "
            "few messages are compressed with a template"
        )
    if report.uncompressed_share is not None and report.uncompressed_share > MAX_UNCOMPRESSED_SHARE:
        report.warnings.append(
            f"UNCOMPRESSED share {report.uncompressed_share:.1%} is above {MAX_UNCOMPRESSED_SHARE:.0%}"
        )
    if report.mean_ratio is not None and report.mean_ratio < MIN_MEAN_RATIO:
        report.warnings.append(f"mean ratio {report.mean_ratio:.3f} is below {MIN_MEAN_RATIO}")


def recommend_adjustments(report: WarmupReport, corpus_weight: float, explore: float) -> tuple[float, float, list[str]]:
    """``(new_corpus_weight, new_explore, reasons)`` after a warmup. Pure: the runner
    calls it between its warmup and its main phase."""
    new_weight, new_explore, recommendations = _recommend(report, corpus_weight, explore)
    reasons = [r.reason for r in recommendations if r.setting in ("corpus_weight", "explore")]
    return new_weight, new_explore, reasons


def _recommend(report: WarmupReport, corpus_weight: float | None, explore: float | None):
    out: list[Recommendation] = []
    new_weight, new_explore = corpus_weight, explore
    if report.empty:
        return new_weight, new_explore, out

    if report.mean_ratio is not None and report.mean_ratio < MIN_MEAN_RATIO:
        target = None if corpus_weight is None else round(min(corpus_weight + CORPUS_WEIGHT_STEP, MAX_CORPUS_WEIGHT), 6)
        if target != corpus_weight or corpus_weight is None:
            new_weight = target
            out.append(
                Recommendation(
                    "corpus_weight",
                    corpus_weight,
                    target,
                    f"mean ratio {report.mean_ratio:.3f} < {MIN_MEAN_RATIO}: raise corpus weight by "
                    f"{CORPUS_WEIGHT_STEP} (max {MAX_CORPUS_WEIGHT})",
                    {"mean_ratio": report.mean_ratio, "threshold": MIN_MEAN_RATIO},
                )
            )

    figures = {
        "templates_seen": report.templates_seen,
        "median_uses_per_template": report.median_uses_per_template,
        "ratio_spread_between_templates": report.ratio_spread_between_templates,
    }
    if report.templates_seen:
        learning = (report.median_uses_per_template or 0) < MIN_USES_TO_EXPLOIT
        target = EXPLORE_WHILE_LEARNING if learning else EXPLORE_AFTER_WARMUP
        if explore is not None:
            # never lower exploration while templates are unknown, never raise it after
            target = max(explore, target) if learning else min(explore, target)
        if target != explore:
            new_explore = target
            why = (
                (
                    f"median {report.median_uses_per_template:g} use(s) per template: too few to "
                    "trust their mean ratios, keep exploring"
                )
                if learning
                else (
                    f"{report.templates_seen} templates seen, median {report.median_uses_per_template:g} "
                    "uses each: their mean ratios are known, explore less (the peer's post-warmup value)"
                )
            )
            out.append(Recommendation("explore", explore, target, why, figures))

    current = report.min_compression_size
    suggested = report.suggested_min_compression_size
    if suggested is not None and suggested != current:
        longest = report.longest_message
        raw_everything = longest is not None and suggested > longest
        what = (
            f"a threshold above the longest message ({longest} B) means: send everything raw, compression does "
            f"not pay on these messages; that gives overall ratio {report.overall_ratio_at_suggestion:.3f}"
            if raw_everything
            else f"sending messages under {suggested} bytes uncompressed gives overall ratio "
            f"{report.overall_ratio_at_suggestion:.3f}"
        )
        out.append(
            Recommendation(
                "min_compression_size",
                current,
                suggested,
                f"{what} over the warmup (now {report.overall_ratio:.3f}); "
                f"median size UNCOMPRESSED {report.median_bytes_uncompressed} B vs compressed "
                f"{report.median_bytes_compressed} B",
                {
                    "overall_ratio_now": report.overall_ratio,
                    "overall_ratio_at_suggestion": report.overall_ratio_at_suggestion,
                    "median_bytes_uncompressed": report.median_bytes_uncompressed,
                    "median_bytes_compressed": report.median_bytes_compressed,
                    "longest_message": longest,
                    "raw_everything": raw_everything,
                },
            )
        )
    return new_weight, new_explore, out
