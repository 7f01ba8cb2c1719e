"""A comparison of two runs as text, Markdown (a pull-request comment) or JSON.

Numbers have one precision per kind, whatever the value: ratios 3 decimals,
milliseconds 2, rates and relative changes as percentages with 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .compare import METHOD

FORMATS = ("text", "json", "markdown")
RATE_METRICS = ("error_rate", "roundtrip_failure_rate")


def _value(metric: str, value, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    sign = "+" if signed else ""
    if metric in RATE_METRICS:
        return f"{value * 100:{sign}.1f}%" if not signed else f"{value * 100:+.1f} pt"
    if metric.endswith("_ms"):
        return f"{value:{sign}.2f} ms"
    return f"{value:{sign}.3f}"


def _change(row: pd.Series) -> str:
    """The relative change (or, from a zero baseline, the absolute one) with its interval."""
    if row["judged_on"] == "relative":
        point = "-" if pd.isna(row["relative_delta"]) else f"{row['relative_delta'] * 100:+.1f}%"
        span = (
            ""
            if pd.isna(row["change_low"])
            else f" [{row['change_low'] * 100:+.1f}%, {row['change_high'] * 100:+.1f}%]"
        )
        return point + span
    point = _value(row["metric"], row["delta"], signed=True)
    span = (
        ""
        if pd.isna(row["change_low"])
        else f" [{_value(row['metric'], row['change_low'], True)}, {_value(row['metric'], row['change_high'], True)}]"
    )
    return point + span


def _call(row: pd.Series) -> str:
    if row["regression"]:
        return "REGRESSION"
    if isinstance(row.get("note"), str):  # no interval exists: nothing is judged
        direction = "worse" if row["worse"] else "n/a" if pd.isna(row["delta"]) else "not worse"
        return f"{direction}, not judged (no interval)"
    if row["worse"] and not row.get("judged", True):
        return "worse, not judged (--judge-latency)"
    if row["worse"]:
        return "worse, within noise or threshold"
    if row["delta"] is None or pd.isna(row["delta"]):
        return "n/a"
    return "better" if row["delta"] != 0 else "same"


def table_rows(table: pd.DataFrame) -> list[list[str]]:
    """``[codec, metric, A, B, change [interval], call]`` per row, formatted."""
    return [
        [
            str(r["codec"]),
            str(r["metric"]),
            _value(r["metric"], r["a"]),
            _value(r["metric"], r["b"]),
            _change(r),
            _call(r),
        ]
        for _, r in table.iterrows()
    ]


HEADER = ["codec", "metric", "A", "B", "change [95% interval]", "call"]


def _differences_lines(differences: list[dict]) -> list[str]:
    if not differences:
        return ["set-up: the runs were set up alike (options, inputs, codec settings, versions, host)"]
    lines = [f"set-up differs in {len(differences)} setting(s): the change below may come from these, not the code"]
    for d in differences:
        lines.append(d.get("note") or f"  {d['setting']}: A {_short(d['a'])}, B {_short(d['b'])}")
    return lines


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_comparison(
    table: pd.DataFrame,
    *,
    fmt: str = "text",
    labels: tuple[str, str] = ("A", "B"),
    differences: list[dict] | None = None,
    threshold: float = 0.10,
    checks: list[dict] | None = None,
    notes: list[str] | None = None,
    judged: bool = True,
) -> str:
    """The comparison in ``fmt`` (text, markdown or json). ``judged`` False: no interval
    exists (an export on either side), so the verdict says nothing was judged; an empty
    table says nothing was compared. Neither ever reads "no regression"."""
    differences = differences or []
    notes = notes or []
    judged = judged and not table.empty
    regressions = int(table["regression"].sum()) if judged else None
    if fmt == "json":
        import json

        payload = {
            "a": labels[0],
            "b": labels[1],
            "threshold": threshold,
            "method": METHOD,
            "judged": judged,
            "compared": not table.empty,
            "differences": differences,
            "notes": notes,
            "regressions": regressions,
            "rows": [_jsonable(r) for r in table.to_dict("records")],
            "checks": checks or [],
        }
        return json.dumps(payload, indent=2, default=str, allow_nan=False)
    rows = table_rows(table)
    verdict = _verdict(table, regressions, threshold)
    if fmt == "markdown":
        out = [f"### aura-lab compare: B `{labels[1]}` against A `{labels[0]}`", "", f"**{verdict}**", ""]
        out += [f"- {line.strip()}" for line in [*notes, *_differences_lines(differences)]]
        out += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        out += ["", f"_{METHOD if judged else 'point figures, no interval'}; {len(rows)} rows_"]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
    out = [f"A: {labels[0]}", f"B: {labels[1]}", *notes, *_differences_lines(differences), ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(HEADER, widths)))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    out += ["", f"{verdict} ({METHOD})" if judged else verdict]
    return "\n".join(out)


def _verdict(table: pd.DataFrame, regressions: int | None, threshold: float) -> str:
    if table.empty:
        return "nothing compared: the runs share no codec (no verdict)"
    if regressions is None:
        return "not judged: no interval exists (an export holds no per-message records); point changes only"
    unjudged = "" if table["judged"].all() else "; latency shown, not judged (--judge-latency judges it)"
    return (
        f"{regressions} regression(s): the whole 95% interval is worse than the {threshold:.0%} threshold"
        if regressions
        else f"no regression (no interval lies wholly beyond the {threshold:.0%} threshold)"
    ) + unjudged


def _jsonable(record: dict) -> dict:
    out = {}
    for key, value in record.items():
        if isinstance(value, np.generic):
            value = value.item()  # numpy scalars as JSON numbers and booleans
        out[key] = None if isinstance(value, float) and math.isnan(value) else value
    return out
