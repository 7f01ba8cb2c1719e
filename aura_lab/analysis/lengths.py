"""Message length distributions fitted from traces, usable as a length model.

Lengths are in characters (``length_chars``). Each role and turn band (see
``aura_lab.lengths.turn_band``; a user's conversation length is its max turn + 1) gets
the candidate distributions below, fitted by maximum likelihood; the lowest AIC wins.
The KS p-value is computed with the fitted parameters, so it is optimistic (the
parameters came from the same data): read it as a distance, not as a test.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..traffic.lengths import ANY_ROLE, PEER_LENGTHS, ROLES, TURN_BANDS, LengthModel, turn_band

# name -> fixed-parameter keywords for scipy's fit: lengths are positive, so the
# positive families are anchored at 0 and fit shape and scale only
CANDIDATES: dict[str, dict] = {
    "lognorm": {"floc": 0},
    "gamma": {"floc": 0},
    "weibull_min": {"floc": 0},
    "expon": {"floc": 0},
    "norm": {},
}
MIN_LENGTH, MAX_LENGTH = 1, 2000  # characters; sampled lengths are clipped to this
RANGE_WIDTH = 0.15  # target_range returns L * (1 -/+ RANGE_WIDTH)
ALL_BANDS = "all"  # the band label of a role-wide fit


@dataclass(frozen=True)
class CandidateFit:
    """One distribution fitted to one sample. ``params`` in scipy's order (shapes, loc, scale)."""

    distribution: str
    params: tuple[float, ...]
    n: int
    log_likelihood: float
    aic: float
    ks_stat: float
    ks_pvalue: float

    @cached_property
    def frozen(self):
        """The scipy frozen distribution (built once: sampling calls it per message)."""
        return getattr(sps, self.distribution)(*self.params)

    def param_dict(self) -> dict[str, float]:
        dist = getattr(sps, self.distribution)
        names = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()] + ["loc", "scale"]
        return dict(zip(names, self.params))


def fit_distribution(values: Sequence[float], candidates: Sequence[str] = tuple(CANDIDATES)) -> list[CandidateFit]:
    """Every candidate fitted to ``values``, best (lowest AIC) first. A candidate whose
    fit fails or gives a non-finite likelihood is left out."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    out = []
    for name in candidates:
        fixed = CANDIDATES.get(name, {})
        sample = data[data > 0] if "floc" in fixed else data
        if sample.size < 2 or np.ptp(sample) == 0:
            continue
        dist = getattr(sps, name)
        try:
            params = tuple(float(p) for p in dist.fit(sample, **fixed))
        except Exception:  # scipy raises several types when an optimiser gives up
            continue
        log_likelihood = float(np.sum(dist.logpdf(sample, *params)))
        if not math.isfinite(log_likelihood):
            continue
        free = len(params) - len(fixed)
        ks = sps.kstest(sample, name, args=params)
        out.append(
            CandidateFit(
                name,
                params,
                int(sample.size),
                log_likelihood,
                2 * free - 2 * log_likelihood,
                float(ks.statistic),
                float(ks.pvalue),
            )
        )
    return sorted(out, key=lambda f: f.aic)


def conversation_lengths(df: pd.DataFrame) -> pd.Series:
    """Number of turns per row's conversation: max turn + 1 of its (run, user)."""
    keys = [k for k in ("run_id", "user_id") if k in df]
    return df.groupby(keys, observed=True)["turn"].transform("max") + 1


def message_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per message: a trace holds each message once per codec. A message whose
    record has no role gets ``ANY_ROLE``."""
    keys = [k for k in ("run_id", "user_id", "turn", "role") if k in df]
    rows = df.dropna(subset=["length_chars", "turn"])
    if "role" in rows and rows["role"].isna().any():
        rows = rows.assign(role=rows["role"].astype(object).where(rows["role"].notna(), ANY_ROLE))
    return rows.drop_duplicates(subset=keys)


def banded_rows(df: pd.DataFrame) -> pd.DataFrame:
    """``message_rows`` with a ``band`` column: the turn band each message fell in."""
    rows = message_rows(df)
    if not len(rows):
        return rows.assign(band=pd.Series(dtype=str))
    return rows.assign(band=[turn_band(int(t), int(n)) for t, n in zip(rows["turn"], conversation_lengths(rows))])


class FittedLengthModel:
    """A length model (``target_range``) drawing lengths from fitted distributions.

    ``fits`` is tidy: one row per (role, band, distribution), ``band == "all"`` for the
    role-wide fit, ``chosen`` marking the lowest AIC of each group.
    """

    def __init__(
        self,
        fits: pd.DataFrame,
        chosen: dict[tuple[str, str], CandidateFit],
        fallback: LengthModel = PEER_LENGTHS,
        min_samples: int = 30,
    ):
        self.fits = fits
        self.chosen = chosen
        self.fallback = fallback
        self.min_samples = min_samples

    @property
    def roles(self) -> list[str]:
        """The roles with at least one fit (``ANY_ROLE`` for messages without a role)."""
        return [r for r in (*ROLES, ANY_ROLE) if any(role == r for role, _ in self.chosen)]

    def fit_for(self, role: str, band: str) -> CandidateFit | None:
        """The band's fit, else the role-wide fit, else the fits of messages without a
        role (band, then role-wide), else ``None`` (the fallback table)."""
        for key in ((role, band), (role, ALL_BANDS), (ANY_ROLE, band), (ANY_ROLE, ALL_BANDS)):
            if key in self.chosen:
                return self.chosen[key]
        return None

    def sample_length(self, role: str, band: str, rng: random.Random) -> int | None:
        """One length in characters, clipped to [1, 2000]; ``None`` without a fit."""
        fit = self.fit_for(role, band)
        if fit is None:
            return None
        u = min(max(rng.random(), 1e-12), 1 - 1e-12)  # inverse CDF of a uniform draw
        length = float(fit.frozen.ppf(u))
        if not math.isfinite(length):
            length = MAX_LENGTH
        return round(min(max(length, MIN_LENGTH), MAX_LENGTH))

    def target_range(self, role: str, turn: int, n_turns: int, rng: random.Random) -> tuple[int, int]:
        length = self.sample_length(role, turn_band(turn, n_turns), rng)
        if length is None:
            return self.fallback.target_range(role, turn, n_turns, rng)
        return max(MIN_LENGTH, round(length * (1 - RANGE_WIDTH))), round(length * (1 + RANGE_WIDTH)) + 1


def fit_lengths(df: pd.DataFrame, min_samples: int = 30, fallback: LengthModel = PEER_LENGTHS) -> FittedLengthModel:
    """Fit ``length_chars`` per role and turn band, plus one role-wide fit per role
    (messages without a role as ``ANY_ROLE``). Groups with fewer than ``min_samples``
    messages get no fit of their own."""
    rows = banded_rows(df)
    records, chosen = [], {}
    roles = [r for r in (*ROLES, ANY_ROLE) if r in set(rows["role"].astype(str))] if len(rows) else []
    for role in roles:
        of_role = rows[rows["role"].astype(str) == role]
        groups = [(band, of_role[of_role["band"] == band]) for band in TURN_BANDS]
        groups.append((ALL_BANDS, of_role))
        for band, group in groups:
            if len(group) < min_samples:
                continue
            fits = fit_distribution(group["length_chars"].to_numpy(float))
            if not fits:
                continue
            chosen[(role, band)] = fits[0]
            for fit in fits:
                records.append(
                    {
                        "role": role,
                        "band": band,
                        "n": fit.n,
                        "distribution": fit.distribution,
                        "params": fit.param_dict(),
                        "aic": fit.aic,
                        "ks_stat": fit.ks_stat,
                        "ks_pvalue": fit.ks_pvalue,
                        "chosen": fit is fits[0],
                    }
                )
    columns = ["role", "band", "n", "distribution", "params", "aic", "ks_stat", "ks_pvalue", "chosen"]
    return FittedLengthModel(pd.DataFrame(records, columns=columns), chosen, fallback, min_samples)


def generated_frame(messages) -> pd.DataFrame:
    """user_id, turn, role and length_chars of generated messages
    (``aura_lab.generators.generate``): the columns ``fit_lengths`` reads."""
    return pd.DataFrame(
        [(m.user_id, m.turn, m.role, len(m.text)) for m in messages],
        columns=["user_id", "turn", "role", "length_chars"],
    )


def compare_fits(
    first: FittedLengthModel, second: FittedLengthModel, labels: tuple[str, str] = ("trace", "generated")
) -> pd.DataFrame:
    """The chosen fit of each (role, band) of two models side by side: n, distribution,
    parameters and KS statistic of each; NaN where a model has no fit of its own."""

    def chosen(model: FittedLengthModel, label: str) -> pd.DataFrame:
        table = model.fits[model.fits["chosen"]].set_index(["role", "band"])
        return table[["n", "distribution", "params", "ks_stat"]].add_prefix(f"{label}_")

    return chosen(first, labels[0]).join(chosen(second, labels[1]), how="outer")
