"""How close is a traffic to real traffic? ``aura-lab realism --reference LOGS
[--profile P | RUN]`` and the report's realism table.

Per role (human, assistant): the two-sample Kolmogorov-Smirnov statistic of message
sizes (UTF-8 bytes; scipy.stats.ks_2samp) and the share of messages in each size bucket
(the summary's ``LENGTH_BUCKETS``) of the traffic and of the reference; the KS statistic
of messages per conversation; the content mix (shares holding code, a list); and one
line of verdict: close when every KS is at most ``CLOSE_KS`` (0.10), rough up to
``ROUGH_KS`` (0.25), else far. The traffic is a profile's generated conversations or a
run's own messages (one conversation per user). A peer-profile user sends one side
only, so its "conversation" is half of one: the table says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from ..traffic.conversations import CHAT_ROLES, LOG_ROLE, Conversation, LogMessage
from ..traffic.generator import config_from_files, user_messages
from .profiles import sizes_frame
from .stats import safe_ratio
from .summary import LENGTH_BUCKETS

CLOSE_KS = 0.10
ROUGH_KS = 0.25
DEFAULT_CONVERSATIONS = 2000  # generated for a profile's side of the comparison


def generated_conversations(profile, n_conversations: int = DEFAULT_CONVERSATIONS, seed: int = 1, corpus=None):
    """``n_conversations`` conversations generated with a profile (name, file or Profile)."""
    config = config_from_files(corpus, None, profile=profile, seed=seed)
    return [
        Conversation(
            f"generated:{user}",
            [LogMessage(LOG_ROLE.get(str(m.role)), m.text, m.turn) for m in user_messages(config, user)],
            f"user {user}",
        )
        for user in range(n_conversations)
    ]


def bucket_shares(sizes) -> dict[str, float | None]:
    """Share of sizes in each of the summary's buckets."""
    values = np.asarray(sizes, dtype=float)
    return {
        label: safe_ratio(int(((values >= low) & (values < high)).sum()), values.size)
        for low, high, label in LENGTH_BUCKETS
    }


def _ks(a, b) -> float | None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(stats.ks_2samp(a, b).statistic) if a.size and b.size else None


def realism(
    reference: pd.DataFrame | Iterable[Conversation],
    traffic: pd.DataFrame | Iterable[Conversation],
    label: str = "traffic",
) -> dict:
    """The realism table of ``traffic`` against ``reference`` (conversations, or their
    ``sizes_frame``), as JSON-able dicts."""
    ref = reference if isinstance(reference, pd.DataFrame) else sizes_frame(reference)
    got = traffic if isinstance(traffic, pd.DataFrame) else sizes_frame(traffic)
    roles = {}
    for role in CHAT_ROLES:
        a, b = ref.loc[ref["role"] == role], got.loc[got["role"] == role]
        roles[role] = {
            "n_reference": len(a),
            "n_traffic": len(b),
            "ks": _ks(a["size"], b["size"]),
            "median_reference": float(a["size"].median()) if len(a) else None,
            "median_traffic": float(b["size"].median()) if len(b) else None,
            "shares_reference": bucket_shares(a["size"]),
            "shares_traffic": bucket_shares(b["size"]),
            "code": [_share(a["code"]), _share(b["code"])],
            "list": [_share(a["list"]), _share(b["list"])],
        }
    per_ref = ref[ref["structured"]].drop_duplicates("conversation")["messages"]
    per_got = got.drop_duplicates("conversation")["messages"]
    one_sided = bool(len(got)) and bool((got.groupby("conversation")["role"].nunique() <= 1).all())
    conversation = {
        "n_reference": len(per_ref),
        "n_traffic": len(per_got),
        "ks": _ks(per_ref, per_got),
        "median_reference": float(per_ref.median()) if len(per_ref) else None,
        "median_traffic": float(per_got.median()) if len(per_got) else None,
        "one_sided": one_sided,
    }
    result = {"label": label, "roles": roles, "messages_per_conversation": conversation}
    result.update(verdict(result))
    return result


def _share(column: pd.Series) -> float | None:
    return float(column.mean()) if len(column) else None


def verdict(result: dict) -> dict:
    """``{"verdict": "close" | "rough" | "far" | "not checked", "verdict_line": ...}``."""
    figures = {f"{role} sizes": r["ks"] for role, r in result["roles"].items()}
    figures["messages per conversation"] = result["messages_per_conversation"]["ks"]
    known = {k: v for k, v in figures.items() if v is not None}
    missing = [k for k, v in figures.items() if v is None]
    if not known:
        return {"verdict": "not checked", "verdict_line": "verdict: not checked (no messages to compare)"}
    worst = max(known.values())
    word = "close to" if worst <= CLOSE_KS else "rough against" if worst <= ROUGH_KS else "far from"
    off = [f"{k} KS {v:.2f}" for k, v in known.items() if v > CLOSE_KS]
    line = f"verdict: {word} the reference"
    line += f": {', '.join(off)}" if off else f": every KS <= {CLOSE_KS:.2f}"
    if missing:
        line += f" ({', '.join(missing)} not checked)"
    return {"verdict": word.split()[0], "verdict_line": line}


def _percent(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.1f}%"


def format_realism(result: dict, reference_label: str = "reference") -> str:
    """The realism table as text."""
    labels = [b[2] for b in LENGTH_BUCKETS]
    head = f"{'':<10}{'':<11}{'n':>8}{'KS':>7}{'median B':>10}" + "".join(f"{x:>10}" for x in labels)
    lines = [f"realism of {result['label']} against {reference_label} (message sizes in UTF-8 bytes)", head]
    for role, r in result["roles"].items():
        for side, key in ((reference_label[:10], "reference"), (result["label"][:10], "traffic")):
            ks = "" if key == "reference" else ("-" if r["ks"] is None else f"{r['ks']:.3f}")
            median = r[f"median_{key}"]
            cells = "".join(f"{_percent(r[f'shares_{key}'][x]):>10}" for x in labels)
            lines.append(
                f"{role if key == 'reference' else '':<10}{side:<11}{r[f'n_{key}']:>8}{ks:>7}"
                f"{'-' if median is None else f'{median:.0f}':>10}{cells}"
            )
    c = result["messages_per_conversation"]
    ks = "-" if c["ks"] is None else f"{c['ks']:.3f}"
    note = " (one side per user: peer-style traffic)" if c["one_sided"] else ""
    lines.append(
        f"messages per conversation: KS {ks}, median {c['median_reference']} vs {c['median_traffic']}"
        f" ({c['n_reference']} vs {c['n_traffic']} conversations){note}"
    )
    for role, r in result["roles"].items():
        lines.append(
            f"content, {role}: code {_percent(r['code'][0])} vs {_percent(r['code'][1])}, "
            f"list {_percent(r['list'][0])} vs {_percent(r['list'][1])}"
        )
    lines.append(result["verdict_line"])
    return "\n".join(lines)
