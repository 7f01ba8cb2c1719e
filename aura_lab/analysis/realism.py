"""How close is a traffic to real traffic? ``aura-lab realism --reference LOGS
[--profile P | RUN]`` and the report's realism table.

Two halves, both needed for "close":

- sizes: per role (human, assistant) the two-sample Kolmogorov-Smirnov statistic of
  message sizes (UTF-8 bytes; scipy.stats.ks_2samp), the share of messages in each size
  bucket (the summary's ``LENGTH_BUCKETS``) and the content mix (shares holding code, a
  list); the KS of messages per conversation;
- compressibility (``analysis.compressibility``): per codec the overall ratio of each side
  through the lab's own codecs and reply function, the gap and the codec ranking; the
  content figures (``analysis.content``: history gain, reuse shares) per role.

Noise is by conversation, not by message: messages of one conversation are alike, so a
slice of 100 conversations differs from the rest of its own data set by more than 700
independent messages would. A size KS's noise is the KS that chance alone reaches 19 times
in 20 when whole conversations are resampled on each side (the bootstrap of both sides'
size distributions around their own, ``BOOT_DRAWS`` seeded draws; for independent
messages it comes out at the textbook critical value, 1.358 * sqrt((n + m) / (n m)), which
is its floor: clustering only adds to the noise).
Conversations are independent of one another, so the KS of messages per conversation
keeps that textbook value (``ks_noise``). A codec ratio's interval resamples conversations
too.

The verdict: each figure gets a word and the worst decides (far > rough > too few to tell
> close). A size KS at most ``CLOSE_KS`` is close; over it and over its noise, rough up
to ``ROUGH_KS``, else far; over it but within its noise, too few to tell (a default run
of 10 users has ten conversations). A codec's ratio: ``compressibility.judge_gap`` (close
within 5 %, far when the whole interval of the gap lies beyond 15 %), and far when the
traffic reverses two codecs that differ clearly on the reference. "close" needs both
halves checked: without the reference's texts (a run given only its sizes) the verdict is
"not checked" unless something is already known to be off.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..traffic.conversations import CHAT_ROLES, LOG_ROLE, Conversation, LogMessage
from ..traffic.generator import config_from_files, user_messages
from .compressibility import (
    BOOT_DRAWS,
    BOOT_SEED,
    CLOSE_GAP,
    DEFAULT_MEASURED,
    REALISM_CODECS,
    Reservoir,
    compressibility,
    format_compressibility,
)
from .profiles import sizes_frame
from .stats import CONFIDENCE, divide, percentiles, user_draws
from .summary import LENGTH_BUCKETS

CLOSE_KS = 0.10
ROUGH_KS = 0.25
DEFAULT_CONVERSATIONS = 2000  # generated for a profile's side of the comparison
NOISE_POINTS = 200  # sizes (pooled quantiles) at which the resampled distributions are compared
WIDTH = 100  # columns of the text table
WORDS = ("close", "too few to tell", "rough", "far")  # from best to worst


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


@dataclass
class RealismInput:
    """One side of the realism check: the sizes of all its conversations (``frame``,
    ``profiles.sizes_frame``), the seeded sample whose texts the codecs measure
    (``sample``; None when only sizes were kept) and how many conversations it had. Its
    codec bytes are kept once measured (``cache``): one reference serves many traffics."""

    frame: pd.DataFrame
    sample: list[Conversation] | None
    conversations: int
    cache: dict = field(default_factory=dict)


def realism_input(
    source: pd.DataFrame | Iterable[Conversation] | RealismInput,
    measured: int = DEFAULT_MEASURED,
    seed: int = BOOT_SEED,
) -> RealismInput:
    """Read one side in one pass: every conversation's sizes, and at most ``measured`` of
    them kept whole (a seeded sample) for the codecs. A ``sizes_frame`` has no texts:
    its compressibility is not checked."""
    if isinstance(source, RealismInput):
        return source
    if isinstance(source, pd.DataFrame):
        return RealismInput(source, None, int(source["conversation"].nunique()))
    reservoir = Reservoir(measured, seed)
    frame = sizes_frame(reservoir.passing(source))
    return RealismInput(frame, reservoir.sample(), reservoir.seen)


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
    """The two-sample KS statistic's 5 % critical value for n and m independent values."""
    return 1.358 * math.sqrt((n + m) / (n * m)) if n and m else None


def _cumulative(frame: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """Per conversation (rows) the count of its messages of size <= each grid point."""
    codes, uniques = pd.factorize(frame["conversation"])
    at = np.searchsorted(grid, frame["size"].to_numpy(float), side="left")
    counts = np.zeros((len(uniques), grid.size + 1))
    np.add.at(counts, (codes, at), 1)
    return np.cumsum(counts, axis=1)[:, : grid.size]


def _deviations(cumulative: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap draws (rows) of the size distribution's departure from its own, at each
    grid point, resampling whole conversations."""
    totals = cumulative[:, -1] if cumulative.shape[1] else np.zeros(len(cumulative))
    # every message is <= the largest grid point, which is the pooled maximum
    base = cumulative.sum(axis=0) / totals.sum()
    rng = np.random.default_rng(seed)
    return np.vstack(
        [(counts @ cumulative) / (counts @ totals)[:, None] - base for counts in user_draws(len(totals), n_boot, rng)]
    )


def ks_noise_by_conversation(
    reference: pd.DataFrame, traffic: pd.DataFrame, n_boot: int = BOOT_DRAWS, seed: int = BOOT_SEED
) -> float | None:
    """The KS that chance alone reaches 19 times in 20 between the sizes of two sets of
    conversations (``conversation`` and ``size`` columns): the ``CONFIDENCE`` percentile
    of the largest gap between both sides' bootstrap departures (whole conversations
    resampled, each side on its own), at ``NOISE_POINTS`` pooled quantiles. None when a
    side has under two conversations."""
    if reference["conversation"].nunique() < 2 or traffic["conversation"].nunique() < 2:
        return None
    pooled = np.concatenate([reference["size"].to_numpy(float), traffic["size"].to_numpy(float)])
    grid = np.unique(np.quantile(pooled, np.linspace(0, 1, NOISE_POINTS)))
    gaps = np.abs(
        _deviations(_cumulative(reference, grid), n_boot, seed)
        - _deviations(_cumulative(traffic, grid), n_boot, seed + 1)
    ).max(axis=1)
    q = 100 * CONFIDENCE
    return percentiles(gaps, (q,))[f"p{q:g}"]


def realism(
    reference: pd.DataFrame | Iterable[Conversation] | RealismInput,
    traffic: pd.DataFrame | Iterable[Conversation] | RealismInput,
    label: str = "traffic",
    codecs: tuple[str, ...] = REALISM_CODECS,
    measured: int = DEFAULT_MEASURED,
) -> dict:
    """The realism table of ``traffic`` against ``reference`` (conversations, their
    ``realism_input``, or sizes only: a ``sizes_frame``), as JSON-able dicts: ``roles``,
    ``messages_per_conversation``, ``compressibility`` (at most ``measured``
    conversations per side through ``codecs``: a ``realism_input`` keeps its own sample;
    ``{"status": "not checked", ...}`` when a side has no texts), ``verdict`` and
    ``verdict_line``."""
    ref_side, got_side = realism_input(reference, measured), realism_input(traffic, measured)
    ref, got = ref_side.frame, got_side.frame
    roles = {}
    for role in CHAT_ROLES:
        a, b = ref.loc[ref["role"] == role], got.loc[got["role"] == role]
        noise = ks_noise_by_conversation(a, b) if len(a) and len(b) else None
        roles[role] = {
            "n_reference": len(a),
            "n_traffic": len(b),
            "conversations_reference": int(a["conversation"].nunique()),
            "conversations_traffic": int(b["conversation"].nunique()),
            "ks": _ks(a["size"], b["size"]),
            # never below the noise of independent messages: clustering only adds to it,
            # and the bootstrap on a grid of sizes runs a little under it in small samples
            "ks_noise": max(noise or 0.0, ks_noise(len(a), len(b)) or 0.0) if len(a) and len(b) else None,
            "ks_noise_by": "conversation" if noise is not None else "message",
            "ks_noise_independent": ks_noise(len(a), len(b)),
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
    if ref_side.sample is None or got_side.sample is None:
        whose = "the reference's" if ref_side.sample is None else "the traffic's"
        codec_table = {"status": "not checked", "reason": f"{whose} texts were not kept: sizes only"}
    else:
        totals = (ref_side.conversations, got_side.conversations)
        caches = (ref_side.cache, got_side.cache)
        codec_table = {
            "status": "checked",
            **compressibility(ref_side.sample, got_side.sample, totals, codecs, caches=caches),
        }
    result = {
        "label": label,
        "roles": roles,
        "messages_per_conversation": conversation,
        "compressibility": codec_table,
        "noise": "by conversation: whole conversations resampled on each side",
    }
    result.update(verdict(result))
    return result


def _share(column: pd.Series) -> float | None:
    return float(column.mean()) if len(column) else None


def _size_words(result: dict) -> tuple[dict[str, tuple[str, str]], list[str]]:
    parts = {f"{role} sizes": r for role, r in result["roles"].items()}
    parts["messages per conversation"] = result["messages_per_conversation"]
    words, missing = {}, []
    for name, r in parts.items():
        ks, noise = r["ks"], r.get("ks_noise")
        if ks is None:
            missing.append(name)
        elif ks <= CLOSE_KS:
            words[name] = ("close", f"{name} KS {ks:.2f}")
        elif noise is None or ks > noise:
            words[name] = ("far" if ks > ROUGH_KS else "rough", f"{name} KS {ks:.2f}")
        else:
            words[name] = ("too few to tell", f"{name} KS {ks:.2f} is within its noise ({noise:.2f})")
    return words, missing


def _codec_words(table: dict) -> tuple[dict[str, tuple[str, str]], list[str]]:
    words, missing = {}, []
    for name, row in table["codecs"].items():
        gap, word = row.get("gap"), row["judged"]
        if word == "not checked":
            missing.append(f"{name} ratio")
            continue
        said = f"{name} ratio {gap * 100:+.1f}%"
        if word == "too few to tell" and row.get("gap_low") is None:
            said += " has no interval (a side of one conversation)"
        elif word == "too few to tell":
            said += f" is within its noise ({row['gap_low'] * 100:+.1f}% to {row['gap_high'] * 100:+.1f}%)"
        words[f"{name} ratio"] = (word, said)
    ranking = table.get("ranking")
    if ranking is None:
        missing.append("codec ranking")
    elif ranking["flipped"]:
        words["ranking"] = (
            "far",
            "ranking flipped (" + ", ".join(f"{a} over {b}" for a, b in ranking["flipped"]) + ")",
        )
    elif ranking["unsure"]:
        pairs = ", ".join(f"{a} over {b}" for a, b in ranking["unsure"])
        words["ranking"] = ("too few to tell", f"ranking ({pairs}) is within its noise")
    else:
        words["ranking"] = ("close", "ranking")
    return words, missing


def verdict(result: dict) -> dict:
    """``{"verdict": "close" | "rough" | "far" | "too few to tell" | "not checked",
    "verdict_line": ...}``: each size KS and each codec ratio (and the codec ranking)
    gets a word, the worst decides; "close" needs the compressibility checked."""
    words, missing = _size_words(result)
    table = result.get("compressibility") or {"status": "not checked", "reason": "not measured"}
    if table.get("status") == "checked":
        codec_words, codec_missing = _codec_words(table)
        words.update(codec_words)
        missing += codec_missing
    if not words:
        return {"verdict": "not checked", "verdict_line": "verdict: not checked (no messages to compare)"}
    worst = max((w for w, _ in words.values()), key=WORDS.index)
    said = {w: [text for word, text in words.values() if word == w] for w in WORDS}
    if worst in ("far", "rough"):
        lead = "far from" if worst == "far" else "rough against"
        line = f"verdict: {lead} the reference: " + ", ".join(said["far"] + said["rough"])
        if said["too few to tell"]:
            line += "; too few to tell for " + ", ".join(said["too few to tell"])
    elif worst == "too few to tell":
        line = "verdict: too few messages to tell: " + ", ".join(said["too few to tell"])
    else:
        line = f"verdict: close to the reference: every KS <= {CLOSE_KS:.2f}"
        if table.get("status") == "checked":
            line += f", every codec ratio within {CLOSE_GAP:.0%} of the reference's, the same codec ranking"
    word = worst
    if table.get("status") != "checked":
        line += f"; compressibility not checked ({table.get('reason', 'not measured')})"
        if worst == "close":
            word, line = "not checked", line.replace("verdict: close to", "verdict: not checked; sizes close to")
    if missing:
        line += f" ({', '.join(missing)} not checked)"
    return {"verdict": word, "verdict_line": line}


def _percent(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not checked"
    return f"{value * 100:.1f}%"


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def format_realism(result: dict, reference_label: str = "the reference") -> str:
    """The realism table as text, at most ``WIDTH`` columns: sizes per role, messages per
    conversation, content mix, compressibility, the verdict."""
    labels = [b[2] for b in LENGTH_BUCKETS]
    lines = _wrap(
        f"realism of {result['label']} (traffic) against {reference_label} (reference). Sizes in UTF-8 bytes; "
        "noise by conversation: the KS that chance alone reaches 19 times in 20 when whole conversations "
        "are resampled on each side."
    )
    lines.append(
        f"{'role':<10}{'side':<10}{'n':>7}{'KS':>6}{'noise':>6}{'median':>7}" + "".join(f"{x:>9}" for x in labels)
    )
    no_noise = []
    for role, r in result["roles"].items():
        for side in ("reference", "traffic"):
            head = f"{role if side == 'reference' else '':<10}{side:<10}"
            if not r[f"n_{side}"]:
                lines.append(f"{head}{'':>7}  not checked (no {role} messages)")
                continue
            ks = noise = ""
            if side == "traffic" and r["ks"] is not None:
                ks = f"{r['ks']:.3f}"
                noise = "-" if r.get("ks_noise") is None else f"{r['ks_noise']:.3f}"
                if r.get("ks_noise_by") == "message":
                    no_noise.append(role)
            cells = "".join(f"{_percent(r[f'shares_{side}'][x]):>9}" for x in labels)
            lines.append(f"{head}{r[f'n_{side}']:>7}{ks:>6}{noise:>6}{r[f'median_{side}']:>7.0f}{cells}")
    if no_noise:
        lines += _wrap(
            f"noise of {', '.join(no_noise)} sizes by message, as if independent: a side has fewer than two "
            "conversations to resample"
        )
    c = result["messages_per_conversation"]
    if c["ks"] is None:
        per = "messages per conversation: not checked"
    else:
        per = (
            f"messages per conversation: KS {c['ks']:.3f} (noise {c['ks_noise']:.3f}), median "
            f"{c['median_reference']:g} vs {c['median_traffic']:g} ({c['n_reference']} vs {c['n_traffic']} "
            "conversations)"
        )
    lines += _wrap(per + (" (one side per user: peer-style traffic)" if c["one_sided"] else ""))
    for role, r in result["roles"].items():
        lines.append(
            f"content mix, {role}: code {_percent(r['code'][0])} vs {_percent(r['code'][1])}, "
            f"list {_percent(r['list'][0])} vs {_percent(r['list'][1])}"
        )
    lines += format_compressibility(result.get("compressibility") or {"status": "not checked"}, WIDTH)
    lines += _wrap(result["verdict_line"])
    return "\n".join(lines)
