"""How long a simulated user pauses after each reply: the think time, from its text form.

A think time is ``0``, a constant (``0.5`` or ``constant:0.5`` seconds), ``uniform:A,B``
seconds, or ``lognormal:MU,SIGMA`` (of the log of seconds; its tail is cut at 60 s).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MAX_THINK_TIME_S = 3600.0  # the longest constant or uniform pause accepted
LOGNORMAL_THINK_CAP_S = 60.0  # a lognormal think time's tail is cut here


@dataclass(frozen=True)
class ThinkTime:
    """Pause after each reply, in seconds: ``0``, a constant (``0.5`` or
    ``constant:0.5``), ``uniform:A,B`` or ``lognormal:MU,SIGMA`` (of the log of seconds;
    its tail is cut at 60 s)."""

    kind: str = "uniform"
    a: float = 0.1
    b: float = 2.0

    FORMS = "0, SECONDS, constant:SECONDS, uniform:A,B or lognormal:MU,SIGMA"

    @classmethod
    def parse(cls, spec: str | float | int) -> ThinkTime:
        """A think time from its text form; ``ValueError`` names the forms accepted."""
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = repr(float(spec))
        text = str(spec).strip().lower()
        if text == "none":
            text = "0"
        kind, colon, args = text.partition(":")
        try:
            if not colon:  # a bare number is a constant pause
                kind, args = "constant", text
            values = [float(x) for x in args.split(",")]
        except ValueError:
            raise ValueError(f"expected {cls.FORMS}, got {spec!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"expected {cls.FORMS} with finite numbers, got {spec!r}")
        cap = MAX_THINK_TIME_S
        if kind == "constant" and len(values) == 1 and 0 <= values[0] <= cap:
            return cls("none", 0.0, 0.0) if values[0] == 0 else cls("constant", values[0], values[0])
        if kind == "uniform" and len(values) == 2 and 0 <= values[0] <= values[1] <= cap:
            return cls("uniform", values[0], values[1])
        if kind == "lognormal" and len(values) == 2 and 0 < values[1] < 10 and abs(values[0]) < 100:
            return cls("lognormal", values[0], values[1])
        raise ValueError(f"expected {cls.FORMS} (0 <= A <= B <= {cap:g} s; 0 < SIGMA < 10), got {spec!r}")

    @property
    def longest(self) -> float:
        """The longest pause it can give, seconds."""
        return {"none": 0.0, "constant": self.a, "uniform": self.b}.get(self.kind, LOGNORMAL_THINK_CAP_S)

    def sample(self, rng: random.Random) -> float:
        """One pause in seconds."""
        if self.kind == "none":
            return 0.0
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        try:
            return min(rng.lognormvariate(self.a, self.b), LOGNORMAL_THINK_CAP_S)
        except OverflowError:  # exp() of a huge draw: beyond the cut too
            return LOGNORMAL_THINK_CAP_S

    def __str__(self) -> str:
        if self.kind == "none":
            return "0"
        if self.kind == "constant":
            return f"constant:{self.a:g}"
        return f"{self.kind}:{self.a:g},{self.b:g}"
