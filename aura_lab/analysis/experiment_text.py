"""An experiment's results as text: per traffic, each variant's codecs with the headline
ratios (baseline -> variant, the change and its 95 % interval), the claim made for the
variant beside what was measured, and whether the traffic stayed the same.

A lossy codec is marked LOSSY wherever its ratio is shown; a figure nobody measured is
"not checked", never 0. The claim is judged against the interval: below it when the
whole interval is under the claimed range, above it when over, consistent when they meet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from .divergence import describe
from .experiment import HEADLINE, METHOD
from .metrics import NOT_CHECKED
from .text import LOSSY_SUFFIX

NAMES = {"overall_ratio": "ratio", "safe_ratio": "safe ratio", "wire_ratio": "wire ratio", "mean_ratio": "mean ratio"}


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def percent(value) -> str:
    return f"{value * 100:+.1f}%" if _known(value) else NOT_CHECKED


def change_text(row: dict) -> str:
    """``+1.2% [-0.4%, +2.9%]`` (absolute changes from a zero baseline as numbers)."""
    if not _known(row.get("relative_delta")):
        return NOT_CHECKED
    if row.get("interval") == "absolute":
        return f"{row['relative_delta']:+.4g} [{row['low']:+.4g}, {row['high']:+.4g}] (absolute)"
    interval = f"[{percent(row['low'])}, {percent(row['high'])}]" if _known(row.get("low")) else "[no interval]"
    return f"{percent(row['relative_delta'])} {interval}"


def value_text(value, lossy: bool) -> str:
    text = f"{value:.3f}" if _known(value) else NOT_CHECKED
    return f"{text} {LOSSY_SUFFIX}" if lossy and _known(value) else text


def claim_verdict(claimed: Sequence[float] | None, row: dict) -> str:
    """Where the measured change stands against a claimed range of relative gains."""
    if not claimed or not _known(row.get("low")) or not _known(row.get("high")):
        return ""
    low, high = claimed
    if row["high"] < low:
        return "below the claim"
    if row["low"] > high:
        return "above the claim"
    return "consistent with the claim"


def claim_line(arm: dict, rows: pd.DataFrame) -> str | None:
    """One line: the claim, the measurement, the verdict (the primary codec's)."""
    claimed, target = arm.get("claimed"), arm.get("target")
    if not claimed and not target:
        return None
    metric = arm.get("claim_metric") or "overall_ratio"
    hit = rows[(rows["codec_index"] == 1) & (rows["metric"] == metric)]
    if hit.empty:
        return None
    row = hit.iloc[0].to_dict()
    parts = []
    if claimed:
        parts.append(
            f"claimed {percent(claimed[0])} to {percent(claimed[1])} on the {NAMES.get(metric, metric)} "
            f"of {row['codec']}: measured {change_text(row)}: {claim_verdict(claimed, row) or NOT_CHECKED}"
        )
    if target:
        reached = _known(row["value"]) and target[0] <= row["value"]
        parts.append(
            f"target {target[0]:g}-{target[1]:g}:1: measured {value_text(row['value'], row['lossy_variant'])}"
            f" ({'reached' if reached else 'not reached'})"
        )
    return "; ".join(parts)


def _codec(row: dict) -> str:
    return str(row["codec"]) + (f" {LOSSY_SUFFIX}" if row["lossy_variant"] else "")


def _replicates(row: dict) -> str:
    """The headline change in each replicate and the t interval over them."""
    deltas = [d for d in str(row.get("replicate_deltas") or "").split(";") if d]
    if len(deltas) < 2:
        return "one replicate"
    each = ", ".join(percent(float(d)) for d in deltas)
    return f"{each} [{percent(row['replicate_low'])}, {percent(row['replicate_high'])}]"


def format_experiment(
    results: pd.DataFrame, arms: Sequence[dict], divergence: dict[tuple[str, str], dict], header: Sequence[str] = ()
) -> str:
    """The text table. ``arms``: each arm's name, claim and target (the baseline first);
    ``divergence``: (traffic, variant) -> ``divergence.summarise``'s dict."""
    lines = list(header)
    lines.append(f"change = (variant - baseline) / baseline; [{METHOD}]")
    by_name = {a["name"]: a for a in arms}
    for traffic, part in results.groupby("traffic", sort=False):
        heads = part[part["metric"] == HEADLINE[0]].to_dict("records")
        name_w = max([len("variant"), *(len(str(r["variant"])) for r in heads)]) + 2
        codec_w = max([len("codec"), *(len(_codec(r)) for r in heads)]) + 2
        lines += ["", f"traffic {traffic}"]
        head = f"  {'variant':<{name_w}}{'codec':<{codec_w}}{'ratio: baseline -> variant':<30}{'change':<26}"
        head += "".join(f"{NAMES[m] + ' change':<26}" for m in HEADLINE[1:]) + "ratio change over replicates (t)"
        lines.append(head)
        for variant, rows in part.groupby("variant", sort=False):
            for index, codec_rows in rows.groupby("codec_index", sort=True):
                got = {r["metric"]: r for r in codec_rows.to_dict("records")}
                first = got[HEADLINE[0]]
                values = (
                    f"{value_text(first['baseline'], first['lossy_baseline'])} -> "
                    f"{value_text(first['value'], first['lossy_variant'])}"
                )
                line = f"  {(variant if index == 1 else ''):<{name_w}}{_codec(first):<{codec_w}}{values:<30}"
                line += f"{change_text(first):<26}" + "".join(f"{change_text(got[m]):<26}" for m in HEADLINE[1:])
                lines.append((line + _replicates(first)).rstrip())
            claim = claim_line(by_name.get(str(variant), {}), rows)
            if claim:
                lines.append(f"    {claim}")
            lines.append(f"    {describe(divergence.get((str(traffic), str(variant)), {}))}")
    return "\n".join(lines)
