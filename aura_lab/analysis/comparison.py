"""Two runs of any kind compared: run folders, the peer's trace folders, exports.

``compare(run_a, run_b)`` matches codecs by label (``codec_map`` renames labels first:
``{"external": "aura"}``, for the same codec under two names), then compares them:

- both runs have per-message records: ``compare.compare_runs``, with intervals over
  conversations and the regression test;
- either is an export (totals only): the point figures side by side, every row saying
  that no interval exists, and nothing judged; never a silent "no regression".

Latency percentiles are compared by one method on both sides: the peer's export has only
its own (``sorted[int(n * q)]``), so a run compared with it is measured the same way,
and the comparison says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import InputError
from . import metrics
from .compare import COLUMNS, HIGHER_IS_BETTER, METRICS, compare_runs, point_figures, regressions_by_codec
from .compare_text import format_comparison
from .run import RUN_FOLDER, Run
from .setups import setup_differences
from .stats import PEER_PERCENTILE_METHOD, divide, peer_percentile

NO_INTERVAL = "no interval: {which} (totals only, no per-message records)"


@dataclass
class Comparison:
    """Run B against run A: the table (``compare.COLUMNS``), set-up differences, notes,
    whether intervals exist (``judged``), and the codecs only one run has."""

    table: pd.DataFrame
    labels: tuple[str, str]
    differences: list[dict]
    notes: list[str] = field(default_factory=list)
    judged: bool = True
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.table.empty

    @property
    def regressions(self) -> int | None:
        """Metrics flagged as regressions; None when nothing could be judged."""
        return int(self.table["regression"].sum()) if self.judged and not self.empty else None

    def regressions_by_codec(self) -> dict[str, int | None]:
        return regressions_by_codec(self.table) if self.judged else {c: None for c in self.table["codec"].unique()}

    def why_empty(self) -> str:
        """Why nothing was compared, with the fix."""
        a = ", ".join(self.only_a) or "none"
        b = ", ".join(self.only_b) or "none"
        hint = f" --map {self.only_b[0]}={self.only_a[0]}" if self.only_a and self.only_b else ""
        return f"the runs share no codec (A has {a}; B has {b}): nothing was compared, so there is no verdict" + (
            f"; if they are the same codec under two labels, pass{hint}" if hint else ""
        )

    def text(self, fmt: str = "text", threshold: float = 0.10, checks: list[dict] | None = None) -> str:
        return format_comparison(
            self.table,
            fmt=fmt,
            labels=self.labels,
            differences=self.differences,
            threshold=threshold,
            checks=checks,
            notes=[*self.notes, *([self.why_empty()] if self.empty else [])],
            judged=self.judged,
        )


def parse_codec_map(texts, where: str = "--map") -> dict[str, str]:
    """``["external=aura", "a=b,c=d"]`` -> ``{"external": "aura", "a": "b", "c": "d"}``."""
    mapping: dict[str, str] = {}
    for text in texts or ():
        for item in str(text).split(","):
            if not item.strip():
                continue  # "" (a notebook's empty codec_map) maps nothing
            old, sep, new = (part.strip() for part in item.partition("="))
            if not sep or not old or not new:
                raise InputError(
                    f"expected OLD=NEW, got {item.strip()!r}",
                    where=where,
                    fix="e.g. --map external=aura (a codec label of either run, and its new label)",
                )
            mapping[old] = new
    return mapping


def _codecs(run: Run) -> list[str]:
    if run.has_records:
        return sorted(set(run.traces["codec"].astype(str))) if len(run.traces) else []
    return list(run.summary.get("codecs", {}))


def _check_map(mapping: dict[str, str], codecs_a: list[str], codecs_b: list[str], where: str) -> None:
    unknown = [old for old in mapping if old not in codecs_a and old not in codecs_b]
    if unknown:
        raise InputError(
            f"no codec {unknown[0]!r} in either run (A: {', '.join(codecs_a) or 'none'}; "
            f"B: {', '.join(codecs_b) or 'none'})",
            where=where,
            fix="map a label one of the runs has",
        )
    for side, codecs in (("A", codecs_a), ("B", codecs_b)):
        renamed = [mapping.get(c, c) for c in codecs]
        twice = sorted({c for c in renamed if renamed.count(c) > 1})
        if twice:
            raise InputError(f"run {side} would have two codecs named {twice[0]!r}", where=where,
                             fix="map only labels that name the same codec in the other run")  # fmt: skip


def compare(
    run_a: Run,
    run_b: Run,
    *,
    codec_map: dict[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: float = 0.10,
    phase: str | None = "main",
    judge_latency: bool = False,
    where: str = "codec_map",
) -> Comparison:
    """Run B against run A (see the module's note). ``codec_map`` renames codec labels in
    both runs before they are matched; ``phase`` None compares every phase (records only)."""
    mapping = dict(codec_map or {})
    codecs_a, codecs_b = _codecs(run_a), _codecs(run_b)
    _check_map(mapping, codecs_a, codecs_b, where)
    renamed_a = [mapping.get(c, c) for c in codecs_a]
    renamed_b = [mapping.get(c, c) for c in codecs_b]
    labels = (str(run_a.path), str(run_b.path))
    manifests = [r.manifest if r.kind == RUN_FOLDER else None for r in (run_a, run_b)]
    differences = setup_differences(*manifests)
    only_a = sorted(set(renamed_a) - set(renamed_b))
    only_b = sorted(set(renamed_b) - set(renamed_a))
    notes = [f"codec labels renamed: {', '.join(f'{k} -> {v}' for k, v in mapping.items())}"] if mapping else []
    if run_a.has_records and run_b.has_records:
        table = compare_runs(
            _renamed(run_a.traces, mapping),
            _renamed(run_b.traces, mapping),
            n_boot=n_boot,
            seed=seed,
            threshold=threshold,
            phase=phase,
            judge_latency=judge_latency,
        )
        return Comparison(table, labels, differences, notes, True, only_a, only_b)
    if phase != "main":
        raise InputError(f"an export holds the main phase only, got phase {phase!r}", where="phase",
                         fix="compare the main phase (--phase main)")  # fmt: skip
    exports = [side for side, r in (("A", run_a), ("B", run_b)) if not r.has_records]
    which = "runs A and B are exports" if len(exports) == 2 else f"run {exports[0]} is an export"
    method = _latency_method(run_a, run_b)
    if method == PEER_PERCENTILE_METHOD:
        notes.append(f"latency p99 by the peer's method on both sides ({PEER_PERCENTILE_METHOD}): the peer's "
                     "export has no other; '-' where a side does not have it")  # fmt: skip
    rows = []
    for codec in sorted(set(renamed_a) & set(renamed_b)):
        a = _figures(run_a, _original(codec, codecs_a, mapping), method)
        b = _figures(run_b, _original(codec, codecs_b, mapping), method)
        rows += [_row(codec, m, a[m], b[m], NO_INTERVAL.format(which=which)) for m in METRICS]
    notes.append(f"point figures only: {NO_INTERVAL.format(which=which)}; nothing judged")
    return Comparison(pd.DataFrame(rows, columns=COLUMNS), labels, differences, notes, False, only_a, only_b)


def _renamed(df: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    if not mapping or df.empty:
        return df
    return df.assign(codec=df["codec"].astype(str).replace(mapping).astype("category"))


def _original(codec: str, codecs: list[str], mapping: dict[str, str]) -> str:
    return next(c for c in codecs if mapping.get(c, c) == codec)


def _latency_method(run_a: Run, run_b: Run) -> str | None:
    """The peer's percentile method when a side is the peer's export (it has no other)."""
    for run in (run_a, run_b):
        if not run.has_records and any(
            (c.get("latency_ms") or {}).get("method") for c in run.summary.get("codecs", {}).values()
        ):
            return PEER_PERCENTILE_METHOD
    return None


def _figures(run: Run, codec: str, latency_method: str | None) -> dict[str, float | None]:
    """The metrics of one codec of a run: from its records when it has them (the p99 by
    ``latency_method``), else from its summary (an export's figures)."""
    if run.has_records:
        rows = metrics.select(run.traces, phase="main", codec=codec)
        figures = point_figures(rows)
        if latency_method == PEER_PERCENTILE_METHOD:
            ok = metrics.select(rows, phase=None, ok=True)
            figures["latency_p99_ms"] = peer_percentile(ok["latency_ms"].dropna().to_numpy(float), 0.99)
        return figures
    c = run.summary["codecs"][codec]
    loss = c.get("loss") or {}
    p99 = c["latency_ms"].get("p99")
    if latency_method == PEER_PERCENTILE_METHOD and c["latency_ms"].get("method") is None:
        # aura-lab's summary interpolates; its export's peer keys hold the primary codec's
        # p99 by the peer's method (an earlier export of aura-lab's: interpolated, not used)
        fresh = run.export is not None and run.export.get("aura_lab.peer_keys") is not None
        primary = codec == run.summary.get("primary_codec")
        p99 = run.export.get("latencies.p99_ms") if fresh and primary and run.export is not None else None
    return {
        "overall_ratio": c.get("overall_ratio"),
        "safe_ratio": c.get("safe_ratio"),
        "mean_ratio": c.get("mean_message_ratio"),
        "latency_p50_ms": c["latency_ms"].get("p50"),
        "latency_p99_ms": p99,
        "error_rate": divide(c["errors"], c["messages"]) if c.get("messages") else None,
        "roundtrip_failure_rate": divide(loss.get("lossy", 0), loss["checked"]) if loss.get("checked") else None,
    }


def _row(codec: str, metric: str, a: float | None, b: float | None, note: str) -> dict:
    delta = None if a is None or b is None else b - a
    worse = delta is not None and (delta < 0 if HIGHER_IS_BETTER[metric] else delta > 0)
    return {
        "codec": codec, "metric": metric, "a": a, "b": b, "delta": delta,
        "relative_delta": divide(delta, abs(a)) if delta is not None and a else None,
        "delta_low": None, "delta_high": None, "paired": False,
        "judged_on": "relative" if a else "absolute", "change_low": None, "change_high": None,
        "higher_is_better": HIGHER_IS_BETTER[metric], "worse": worse, "judged": False, "regression": False,
        "note": note,
    }  # fmt: skip
