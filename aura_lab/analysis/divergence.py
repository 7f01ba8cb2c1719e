"""How far a variant's traffic is from the baseline's, so that a gain bought by changing
the traffic (a heavier corpus, a selection bias, another profile) is named as such.

Per replicate, over the main-phase messages of the first codec: whether the variant sent
exactly the baseline's messages (``same``: common random numbers held); the share of its
messages identical to the baseline's at the same user and turn; the Kolmogorov-Smirnov
statistic of message sizes per role and its noise (``analysis.realism``: the largest KS
two samples of those sizes from one distribution reach 19 times in 20); and the total
variation distance between the two template mixes (``analysis.selection.mix_divergence``:
half the summed difference of the templates' shares; the peer profile's traffic only).
A variant whose traffic is not the same is a different experiment on other messages:
its change mixes the lever's effect with the traffic's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..traces.logs import read_logs
from .compare import pair_users
from .profiles import sizes_frame
from .realism import realism
from .selection import mix_divergence

COLUMNS = [
    "traffic",
    "variant",
    "replicate",
    "same",
    "identical_share",
    "size_ks",
    "size_ks_noise",
    "size_ks_role",
    "template_tv",
    "messages_baseline",
    "messages_variant",
]


def _identical_share(base: pd.DataFrame, variant: pd.DataFrame) -> float | None:
    if not len(variant):
        return None
    keys = ["user_id", "turn"] + (["frame_index"] if "frame_index" in variant else [])
    left = base[[*keys, "text"]].astype({"text": "string"})
    joined = variant[[*keys, "text"]].astype({"text": "string"}).merge(left, on=keys, how="left", suffixes=("", "_b"))
    return float((joined["text"] == joined["text_b"]).fillna(False).mean())


def _template_tv(base: pd.DataFrame, variant: pd.DataFrame) -> float | None:
    if "template_id" not in base or not base["template_id"].notna().any():
        return None
    counts_b = base["template_id"].dropna().astype(int).value_counts()
    counts_v = variant["template_id"].dropna().astype(int).value_counts()
    ids = sorted(set(counts_b.index) | set(counts_v.index))
    realistic = counts_b.reindex(ids, fill_value=0).astype(float)
    return mix_divergence({int(t): int(n) for t, n in counts_v.items()}, realistic)[1]


def traffic_divergence(
    base: pd.DataFrame, variant: pd.DataFrame, base_run: str | Path, variant_run: str | Path
) -> dict:
    """The divergence of one replicate: ``base`` and ``variant`` are the first codec's
    main-phase rows; the runs' folders give their conversations (sizes by role)."""
    same = pair_users(base, variant) is not None
    out = {
        "same": same,
        "identical_share": 1.0 if same else _identical_share(base, variant),
        "size_ks": None,
        "size_ks_noise": None,
        "size_ks_role": None,
        "template_tv": 0.0 if same and "template_id" in base and base["template_id"].notna().any() else None,
        "messages_baseline": len(base),
        "messages_variant": len(variant),
    }
    if same:
        out.update(size_ks=0.0)
        return out
    table = realism(sizes_frame(read_logs(Path(base_run))), read_logs(Path(variant_run)))
    worst = max(
        ((role, r) for role, r in table["roles"].items() if r["ks"] is not None),
        key=lambda item: item[1]["ks"],
        default=None,
    )
    if worst is not None:
        out.update(size_ks=worst[1]["ks"], size_ks_noise=worst[1]["ks_noise"], size_ks_role=worst[0])
    out["template_tv"] = _template_tv(base, variant)
    return out


def summarise(rows: Sequence[dict]) -> dict:
    """One line's worth over replicates: same in every replicate, the mean identical
    share, the largest KS (with its noise) and the mean template TV distance."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return {"same": None}

    def mean(column: str) -> float | None:
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        return float(values.mean()) if len(values) else None

    ks = pd.to_numeric(frame["size_ks"], errors="coerce")
    worst = ks.idxmax() if ks.notna().any() else None
    return {
        "same": bool(frame["same"].all()),
        "identical_share": mean("identical_share"),
        "size_ks": None if worst is None else float(ks[worst]),
        "size_ks_noise": None if worst is None else frame.loc[worst, "size_ks_noise"],
        "size_ks_role": None if worst is None else frame.loc[worst, "size_ks_role"],
        "template_tv": mean("template_tv"),
    }


def describe(summary: dict) -> str:
    """The divergence in words: "same traffic" or what changed."""
    if summary.get("same") is None:
        return "traffic not checked"
    if summary["same"]:
        return "same traffic (common random numbers)"
    parts = (
        [f"{summary['identical_share']:.0%} of messages identical"]
        if summary.get("identical_share") is not None
        else []
    )
    if summary.get("size_ks") is not None:
        noise = summary.get("size_ks_noise")
        beyond = noise is not None and summary["size_ks"] > noise
        parts.append(
            f"size KS {summary['size_ks']:.2f} ({summary['size_ks_role']}; "
            f"{'beyond' if beyond else 'within'} its noise {noise:.2f})"
            if noise is not None
            else f"size KS {summary['size_ks']:.2f}"
        )
    if summary.get("template_tv") is not None:
        parts.append(f"template mix TV {summary['template_tv']:.2f}")
    return "traffic changed: " + ", ".join(parts)
