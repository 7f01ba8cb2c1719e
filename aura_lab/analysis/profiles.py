"""Fitting a traffic profile to real conversations (``aura-lab profile LOGS -o FILE``).

Message sizes (UTF-8 bytes) are fitted per role and band, and once per role over every
band (``all``, what a band with fewer than ``min_samples`` messages falls back to).
The candidate families are those of ``lengths.fit_distribution`` (lognorm, gamma,
weibull_min, expon, norm; maximum likelihood, the lowest AIC chosen). The chosen family
is kept only when it fits: its KS test does not reject it at 5 % (the p-value is
optimistic, the parameters coming from the same data, so a rejection is sure).
Otherwise, and that is the rule on real logs with their heavy human tail, the model is
the sample's own quantiles (109 points from 0.05 % to 99.95 %, interpolated in log
space; cut to the smallest and largest size seen). Messages per conversation are counts:
always their quantiles. The profile records each model's n, its KS distance to the
data and every candidate's AIC and KS. The content figures per role
(``analysis.content.content_figures``: compressibility alone and with history, reuse
of earlier turns and its kinds; no text) are measured on the conversations themselves
(not on a ``sizes_frame``, which holds no text), at most ``MAX_CONTENT_CONVERSATIONS``
of them (a seeded sample: a few milliseconds each).
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..traffic.conversations import BANDS, CHAT_ROLES, Conversation, content_of
from ..traffic.lengths import ANY_ROLE
from ..traffic.profile import ALL, MAX_MESSAGES_PER_CONVERSATION, Profile
from ..traffic.sizes import MAX_SIZE, SizeModel
from .content import content_figures
from .lengths import fit_distribution

QUANTILE_POINTS = tuple(
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015]
    + [round(p, 2) for p in np.arange(0.02, 0.985, 0.01)]
    + [0.985, 0.99, 0.995, 0.9975, 0.999, 0.9995]
)
MAX_CONTENT_CONVERSATIONS = 1000  # conversations the content figures are measured on
MAX_FIT_SAMPLE = 20_000  # sizes a family is fitted on (a seeded subsample beyond this)
ACCEPT_PVALUE = 0.05


def ks_distance(model: SizeModel, values: np.ndarray) -> float:
    """The largest gap between the model's CDF and the values' empirical CDF."""
    data = np.sort(np.asarray(values, dtype=float))
    cdf = model.cdf(data)
    n = data.size
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


def quantile_model(values, low: float | None = None, high: float | None = None) -> SizeModel:
    """The values' own quantiles as a model (see the module's note)."""
    data = np.asarray(values, dtype=float)
    points = np.maximum.accumulate(np.maximum(np.quantile(data, QUANTILE_POINTS), 1e-3))
    return SizeModel(
        "quantiles",
        points=tuple(zip(QUANTILE_POINTS, (round(float(v), 2) for v in points))),
        low=float(low if low is not None else max(1.0, data.min())),
        high=float(high if high is not None else min(MAX_SIZE, max(data.max(), points[-1]))),
    )


def fit_size(values, seed: int = 0) -> SizeModel:
    """The best model of a sample of sizes: a family that fits, else its quantiles."""
    data = np.asarray(values, dtype=float)
    sample = data
    if data.size > MAX_FIT_SAMPLE:
        sample = np.random.default_rng(seed).choice(data, MAX_FIT_SAMPLE, replace=False)
    candidates = fit_distribution(sample.tolist())
    table = [{"family": c.distribution, "aic": round(c.aic, 1), "ks": round(c.ks_stat, 4)} for c in candidates]
    best = candidates[0] if candidates else None
    model = None
    if best is not None and best.ks_pvalue >= ACCEPT_PVALUE:
        model = SizeModel("parametric", family=best.distribution, params=best.params, low=1.0, high=float(MAX_SIZE))
    if model is None:
        model = quantile_model(data)
    chosen = model.family if model.kind == "parametric" else "quantiles"
    fit = {"n": int(data.size), "chosen": chosen, "ks": round(ks_distance(model, data), 4), "candidates": table}
    return dataclasses.replace(model, fit=fit)


def sizes_frame(conversations: Iterable[Conversation]) -> pd.DataFrame:
    """One row per chat message: conversation, index, role (human, assistant or None),
    band, size (bytes), code and list (its content); and the conversation's length."""
    rows = []
    for c in conversations:
        for m, (role, band, size) in zip(c.messages, c.sized()):
            code, listed = content_of(m.text)
            rows.append((c.id, m.index, role, band, size, code, listed, len(c), c.structured))
    columns = ["conversation", "index", "role", "band", "size", "code", "list", "messages", "structured"]
    return pd.DataFrame(rows, columns=columns)


def fit_profile(
    conversations: Iterable[Conversation] | pd.DataFrame, name: str, source: dict | None = None, min_samples: int = 30
) -> Profile:
    """A profile fitted to conversations (or to their ``sizes_frame``: then without
    content figures, the frame holds no text)."""
    content: dict[str, dict] = {}
    if isinstance(conversations, pd.DataFrame):
        frame = conversations
    else:
        conversations = list(conversations)
        frame = sizes_frame(conversations)
        chats = [c for c in conversations if c.structured]
        if len(chats) > MAX_CONTENT_CONVERSATIONS:  # a few ms each: a seeded sample
            chats = random.Random(0).sample(chats, MAX_CONTENT_CONVERSATIONS)
        content = {r: f for r, f in content_figures(chats).items() if f["messages"]}
    known = frame[frame["role"].isin(CHAT_ROLES)]
    roleless = frame[frame["role"].isna()]
    sizes: dict[str, dict[str, SizeModel]] = {}
    stand_ins = []
    for role in CHAT_ROLES:
        of_role, tag = known[known["role"] == role], {}
        if len(of_role) < 2 and len(roleless) >= 2:
            # the logs name no role (the peer's traces): their messages, fitted as one
            # group, stand in for the role, as the length analysis does (ANY_ROLE)
            of_role, tag = roleless, {"role": ANY_ROLE}
            stand_ins.append(role)
        if len(of_role) < 2:
            continue
        sizes[role] = {ALL: _tagged(fit_size(of_role["size"]), tag)}
        for band in BANDS:
            values = of_role.loc[of_role["band"] == band, "size"]
            if len(values) >= min_samples:
                sizes[role][band] = _tagged(fit_size(values), tag)
    structured = frame[frame["structured"]].drop_duplicates("conversation")
    per_conversation = None
    if len(structured):
        counts = structured["messages"].to_numpy(float)
        per_conversation = quantile_model(counts, low=1, high=min(MAX_MESSAGES_PER_CONVERSATION, counts.max()))
        fit = {"n": int(counts.size), "chosen": "quantiles", "ks": round(ks_distance(per_conversation, counts), 4)}
        per_conversation = dataclasses.replace(per_conversation, fit=fit)
    openers = frame[frame["structured"] & (frame["index"] == frame.groupby("conversation")["index"].transform("min"))]
    first = Counter(openers["role"].dropna())
    total_first = sum(first[r] for r in CHAT_ROLES)
    shares = Counter(known["role"])
    mix: dict[str, dict[str, float | None]] = {}
    for role in CHAT_ROLES:
        part = known[known["role"] == role]
        if len(part):
            code, listed = part["code"].mean(), part["list"].mean()
            prose = (~part["code"] & ~part["list"]).mean()
            mix[role] = {
                "code": round(float(code), 4),
                "list": round(float(listed), 4),
                "prose": round(float(prose), 4),
            }
    source = dict(source or {})
    source.update(
        conversations=int(frame["conversation"].nunique()),
        messages={str(k): int(v) for k, v in Counter(frame["role"].fillna("unknown")).items()},
    )
    if per_conversation is None:
        source["note"] = "the logs hold no conversations (loose messages): messages per conversation not fitted"
    if stand_ins:
        source["roles"] = (
            f"{len(roleless)} messages name no role: fitted as one group ({ANY_ROLE}), standing in for "
            + " and ".join(stand_ins)
        )
    return Profile(
        name=name,
        description=f"fitted to {source['conversations']} conversations",
        sizes=sizes,
        messages_per_conversation=per_conversation,
        first_role={r: (first[r] / total_first if total_first else (1.0 if r == "human" else 0.0)) for r in CHAT_ROLES},
        role_shares={r: round(shares[r] / len(known), 4) if len(known) else None for r in CHAT_ROLES},
        content_mix=mix,
        source=source,
        content=content,
    )


def _tagged(model: SizeModel, tag: dict) -> SizeModel:
    return dataclasses.replace(model, fit={**(model.fit or {}), **tag}) if tag else model


def profile_table(profile: Profile) -> pd.DataFrame:
    """The size models of a profile, one row per role and band: the messages it was
    fitted to (the role's, or ``any (no role)``: logs without roles), n, the model
    chosen, its KS distance to the data, and its median and 95th percentile (bytes)."""
    rows = []
    for role, bands in profile.sizes.items():
        for band, model in bands.items():
            p50, p95 = model.ppf([0.5, 0.95])
            fit = model.fit or {}
            chosen = fit.get("chosen") or (model.family if model.kind == "parametric" else "quantiles")
            fitted_to = f"{fit['role']} (no role)" if fit.get("role") else role  # a stand-in: messages without a role
            rows.append(
                (role, band, fitted_to, fit.get("n"), chosen, fit.get("ks"), round(float(p50)), round(float(p95)))
            )
    return pd.DataFrame(rows, columns=["role", "band", "fitted_to", "n", "model", "ks", "p50_bytes", "p95_bytes"])


def compare_profiles(first: Profile, second: Profile, labels: tuple[str, str] = ("logs", "generated")) -> pd.DataFrame:
    """Two profiles' size models side by side (``profile_table`` of each)."""
    a = profile_table(first).set_index(["role", "band"]).add_prefix(f"{labels[0]}_")
    b = profile_table(second).set_index(["role", "band"]).add_prefix(f"{labels[1]}_")
    return a.join(b, how="outer")
