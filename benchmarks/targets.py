"""How the benchmarks judge a target. The host's speed drifts from minute to minute, so
one run's figure proves little: each alternation of the clients is one repeat of the
measurement, and a target is met only when the 95 % interval of the repeats' mean lies
wholly on its side, missed when it lies wholly on the other, and undecided when it
straddles the target (``analysis.stats.mean_interval``, ``against``): more ``--repeats``
narrow the interval."""

from __future__ import annotations

from collections.abc import Sequence

from aura_lab.analysis.stats import against, mean_interval

CALLS = {"met": "met", "missed": "MISSED", "undecided": "undecided at this noise"}


def verdict(
    name: str, values: Sequence[float], target: float, above: bool, log: bool = False, form: str = ".2f", unit: str = ""
) -> str:
    """One line: the mean of ``values`` (geometric when ``log``), its 95 % interval, and
    the target's call."""
    mean, low, high = mean_interval(values, log=log)
    if mean is None:
        return f"{name}: not measured"
    what = f"{'geometric mean' if log else 'mean'} of {len(values)}"
    if low is None or high is None:
        interval = "no interval from one alternation"
    else:
        interval = f"95% interval {low:{form}} to {high:{form}}{unit}"
    side = ">=" if above else "<"
    call = CALLS[against(low, high, target, above)]
    return f"{name} {mean:{form}}{unit} ({what}; {interval}): target {side} {target:{form}}{unit} {call}"
