"""How close is a traffic to real traffic? ``aura-lab realism --reference LOGS
[--profile P | RUN]`` and the report's realism table.

Per role (human, assistant): the two-sample Kolmogorov-Smirnov statistic of message
sizes (UTF-8 bytes; scipy.stats.ks_2samp) and the share of messages in each size bucket
(the summary's ``LENGTH_BUCKETS``) of the traffic and of the reference; the KS statistic
of messages per conversation; the content mix (shares holding code, a list); and one
line of verdict: close when every KS is at most ``CLOSE_KS`` (0.10), rough up to
``ROUGH_KS`` (0.25), else far. Each KS comes with its noise: the largest KS two samples
of those sizes from one distribution reach 19 times in 20 (the test's 5 % critical value,
1.358 * sqrt((n + m) / (n m))). A KS over 0.10 but within its noise says nothing: the
verdict is then "too few messages to tell" for that figure, not "far" (a default run of
10 users has ten conversations). The traffic is a profile's generated conversations or a
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
from .stats import divide
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
        label: divide(int(((values >= low) & (values < high)).sum()), values.size)
        for low, high, label in LENGTH_BUCKETS
    }


def _ks(a, b) -> float | None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(stats.ks_2samp(a, b).statistic) if a.size and b.size else None


def ks_noise(n: int, m: int) -> float | None:
    """The two-sample KS statistic's 5 % critical value for samples of n and m."""
    return 1.358 * math.sqrt((n + m) / (n * m)) if n and m else None


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
            "ks_noise": ks_noise(len(a), len(b)),
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
        "ks_noise": ks_noise(len(per_ref), len(per_got)),
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
    """``{"verdict": "close" | "rough" | "far" | "too few to tell" | "not checked",
    "verdict_line": ...}``: the worst KS that is more than noise decides."""
    parts = {f"{role} sizes": r for role, r in result["roles"].items()}
    parts["messages per conversation"] = result["messages_per_conversation"]
    known = {k: (r["ks"], r.get("ks_noise") or 0.0) for k, r in parts.items() if r["ks"] is not None}
    missing = [k for k, r in parts.items() if r["ks"] is None]
    if not known:
        return {"verdict": "not checked", "verdict_line": "verdict: not checked (no messages to compare)"}
    real = {k: ks for k, (ks, noise) in known.items() if ks > CLOSE_KS and ks > noise}
    unsure = {k: (ks, noise) for k, (ks, noise) in known.items() if CLOSE_KS < ks <= noise}
    if real:
        word = "far from" if max(real.values()) > ROUGH_KS else "rough against"
        line = f"verdict: {word} the reference: " + ", ".join(f"{k} KS {v:.2f}" for k, v in real.items())
    elif unsure:
        word = "too few to tell"
        line = "verdict: too few messages to tell: " + ", ".join(
            f"{k} KS {ks:.2f} is within its noise ({noise:.2f})" for k, (ks, noise) in unsure.items()
        )
    else:
        word = "close to"
        line = f"verdict: close to the reference: every KS <= {CLOSE_KS:.2f}"
    if unsure and real:
        line += "; too few messages to tell for " + ", ".join(unsure)
    if missing:
        line += f" ({', '.join(missing)} not checked)"
    return {"verdict": word if word == "too few to tell" else word.split()[0], "verdict_line": line}


def _percent(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.1f}%"


def format_realism(result: dict, reference_label: str = "reference") -> str:
    """The realism table as text."""
    labels = [b[2] for b in LENGTH_BUCKETS]
    head = f"{'':<10}{'':<12}{'n':>8}{'KS':>7}{'noise':>7}{'median B':>10}" + "".join(f"{x:>10}" for x in labels)
    lines = [
        f"realism of {result['label']} against {reference_label} (message sizes in UTF-8 bytes; noise: the KS "
        "two samples of these sizes from one distribution stay under 19 times in 20)",
        head,
    ]
    for role, r in result["roles"].items():
        for side, key in ((reference_label[:11], "reference"), (result["label"][:11], "traffic")):
            ks = "" if key == "reference" else ("-" if r["ks"] is None else f"{r['ks']:.3f}")
            noise = "" if key == "reference" or r.get("ks_noise") is None else f"{r['ks_noise']:.3f}"
            median = r[f"median_{key}"]
            cells = "".join(f"{_percent(r[f'shares_{key}'][x]):>10}" for x in labels)
            lines.append(
                f"{role if key == 'reference' else '':<10}{side:<12}{r[f'n_{key}']:>8}{ks:>7}{noise:>7}"
                f"{'-' if median is None else f'{median:.0f}':>10}{cells}"
            )
    c = result["messages_per_conversation"]
    ks = "-" if c["ks"] is None else f"{c['ks']:.3f}"
    if c.get("ks_noise") is not None:
        ks += f" (noise {c['ks_noise']:.3f})"
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
