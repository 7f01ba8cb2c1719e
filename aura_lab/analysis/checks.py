"""Gates for CI: ``--check EXPR`` on ``aura-lab run`` and ``aura-lab compare``.

An expression is ``[CODEC:]METRIC OP NUMBER`` (k6-style thresholds): ``ratio>=1.5``,
``safe_ratio>=1.2``, ``p99_ms<20``, ``roundtrip_failures==0``, ``aura:ratio>=1.2``.
Without a codec it applies to the primary codec. ``OP`` is one of ``< <= > >= == !=``;
a ``_rate`` metric also takes a percentage (``delivered_rate>=99.5%``). Expressions are
parsed before a run starts, so a typo costs nothing; a check of a figure nobody measured
(round trips the server did not report) fails with "not checked", never passes on a 0.
A failed check makes the command exit with ``EXIT_CHECK_FAILED`` (99, as k6 does for
its thresholds), which no other outcome uses.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from ..errors import InputError
from . import metrics

EXIT_CHECK_FAILED = 99

# metric -> (meaning with unit, how to read it from one codec's summary figures)
RUN_METRICS: dict[str, tuple[str, Callable[[dict], float | None]]] = {
    "ratio": ("overall ratio as measured, original / wire bytes", lambda c: c["overall_ratio"]),
    "safe_ratio": ("ratio with lossy messages counted as sent raw", lambda c: c["safe_ratio"]),
    "mean_ratio": ("mean of per-message ratios", lambda c: c["mean_message_ratio"]),
    "roundtrip_failures": ("lossy messages (round-trip failures)", lambda c: c["roundtrip_failures"]),
    "lossy_rate": (
        "lossy / checked messages (fraction)",
        lambda c: None if not c["loss"]["checked"] else c["loss"]["lossy"] / c["loss"]["checked"],
    ),
    "lossless_rate": ("lossless / checked messages (fraction)", lambda c: c["lossless_rate"]),
    "delivered_rate": ("ok replies / messages (fraction)", lambda c: c["delivered_rate"]),
    "errors": ("messages without an ok reply", lambda c: c["errors"]),
    "error_rate": (
        "messages without an ok reply / messages (fraction)",
        lambda c: None if not c["messages"] else c["errors"] / c["messages"],
    ),
    "messages": ("messages of the phase", lambda c: c["messages"]),
    "messages_per_second": ("ok replies per second", lambda c: c["messages_per_second"]),
    "hit_rate": ("template hit rate (fraction; n/a without templates)", lambda c: c["template_hit_rate"]),
    "mean_ms": ("mean latency, ms", lambda c: c["latency_ms"]["mean"]),
    "max_ms": ("largest latency, ms", lambda c: c["latency_ms"]["max"]),
}


def _latency(key: str) -> Callable[[dict], float | None]:
    return lambda c: c["latency_ms"][key]


for _q in ("50", "90", "95", "99", "99.9"):
    RUN_METRICS[f"p{_q}_ms"] = (f"{_q}th percentile latency, ms", _latency(f"p{_q}"))
# compare adds: regressions of one codec (or of every codec, unscoped), by interval
COMPARE_METRICS = {"regressions": "metrics flagged as regressions (interval beyond the threshold)"}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_EXPRESSION = re.compile(
    r"^\s*(?:(?P<codec>[A-Za-z0-9_.\-]+)\s*:\s*)?(?P<metric>[a-z][a-z0-9_.]*)\s*"
    r"(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<percent>%?)\s*$"
)


@dataclass(frozen=True)
class Check:
    """One parsed expression. ``codec`` None: the primary codec (compare: every codec
    for ``regressions``)."""

    expression: str
    codec: str | None
    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)


@dataclass
class Outcome:
    """A check's result: ``value`` the figure (None: not measured), ``passed``, and a
    line saying which check and which figure."""

    check: Check
    codec: str | None
    value: float | None
    passed: bool
    message: str

    def to_dict(self) -> dict:
        return {
            **asdict(self.check),
            "codec": self.codec,
            "value": self.value,
            "passed": self.passed,
            "message": self.message,
        }


def known_metrics(compare: bool = False) -> list[str]:
    return [*RUN_METRICS, *(COMPARE_METRICS if compare else {})]


def parse_check(text: str, compare: bool = False, where: str = "--check") -> Check:
    """``[CODEC:]METRIC OP NUMBER`` -> ``Check``; an ``InputError`` naming ``where``, the
    expression and the fix for anything else."""
    match = _EXPRESSION.match(str(text))
    if not match:
        raise InputError(
            f"cannot read {text!r}",
            where=where,
            fix="write [CODEC:]METRIC OP NUMBER, e.g. 'safe_ratio>=1.2' or 'aura:roundtrip_failures==0' "
            "(OP: < <= > >= == !=)",
        )
    metric = match["metric"]
    if metric not in known_metrics(compare):
        raise InputError(
            f"unknown metric {metric!r} in {text!r}", where=where, fix=f"one of: {', '.join(known_metrics(compare))}"
        )
    value = float(match["value"])
    if match["percent"]:
        if not metric.endswith("_rate"):
            raise InputError(f"{text!r}: only a _rate metric takes a percentage", where=where, fix="drop the %")
        value /= 100
    if not math.isfinite(value):
        raise InputError(f"{text!r}: the number must be finite", where=where)
    return Check(str(text).strip(), match["codec"], metric, match["op"], value)


def parse_checks(texts: Iterable[str] | None, compare: bool = False, where: str = "--check") -> list[Check]:
    return [parse_check(t, compare, where) for t in texts or ()]


def check_scopes(checks: Iterable[Check], codecs: Iterable[str], where: str = "--check") -> None:
    """Refuse a check scoped to a codec the run will not have (known before it starts
    for embedded servers)."""
    names = list(codecs)
    for check in checks:
        if check.codec is not None and check.codec not in names:
            raise InputError(
                f"{check.expression!r} names codec {check.codec!r}, which is not in this run",
                where=where,
                fix=f"the run's codecs: {', '.join(names)}",
            )


def evaluate(checks: Iterable[Check], summary: dict, regressions: dict[str, int | None] | None = None) -> list[Outcome]:
    """Each check against a run's summary (and, for compare, the regressions per codec;
    None for a codec nothing could be judged on, which fails a ``regressions`` check)."""
    codecs = summary.get("codecs", {})
    primary = summary.get("primary_codec")
    outcomes = []
    for check in checks:
        if check.metric in COMPARE_METRICS:
            counts = regressions or {}
            codec = check.codec
            if codec is not None and codec not in counts:
                outcomes.append(_failed(check, codec, None, f"no codec {codec!r} in both runs"))
                continue
            said = [counts[codec]] if codec else list(counts.values())
            if any(n is None for n in said):
                why = "not judged: no interval exists (an export holds no per-message records)"
                outcomes.append(_failed(check, codec, None, why))
                continue
            value: float | None = float(sum(n or 0 for n in said))
        else:
            codec = check.codec or primary
            if codec not in codecs:
                outcomes.append(_failed(check, codec, None, f"no codec {codec!r} in this run"))
                continue
            value = RUN_METRICS[check.metric][1](codecs[codec])
        if value is None:
            why = _why_unmeasured(check, codecs.get(codec or "", {}))
            outcomes.append(_failed(check, codec, None, why))
            continue
        passed = check.holds(float(value))
        figure = f"{codec + ' ' if codec else ''}{check.metric} = {_number(value)}"
        outcomes.append(Outcome(check, codec, float(value), passed, f"{check.expression}: {figure}"))
    return outcomes


def _why_unmeasured(check: Check, figures: dict) -> str:
    if check.metric in ("roundtrip_failures", "lossy_rate", "lossless_rate", "safe_ratio") and not figures.get(
        "loss", {}
    ).get("checked"):
        return f"{metrics.NOT_CHECKED} (the server does not report round trips; add --verify CODEC)"
    if check.metric == "safe_ratio" and figures.get("loss", {}).get("unchecked"):
        return f"{metrics.NOT_CHECKED} (some messages were not checked for loss)"
    if check.metric == "hit_rate":
        return "n/a (the codec has no templates)"
    return "not measured (no message to measure it on)"


def _failed(check: Check, codec: str | None, value: float | None, why: str) -> Outcome:
    return Outcome(check, codec, value, False, f"{check.expression}: {why}")


def _number(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"


def report(outcomes: list[Outcome]) -> list[str]:
    """One line per check: "check passed: ..." or "check FAILED: ..."."""
    return [f"check {'passed' if o.passed else 'FAILED'}: {o.message}" for o in outcomes]
