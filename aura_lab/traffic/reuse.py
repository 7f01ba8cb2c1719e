"""How a generated conversation revises and repeats itself, as real chat does: code sent
back with a fix, a text rewritten, a "continue" that goes on from the last reply, a user
pasting (part of) the answer or re-pasting their code with an edit.

A profile's content figures (``aura_lab.analysis.content`` measures them on logs) say,
per role, how much of a message's text comes from earlier turns: the percentiles of that
share (``reuse``, the share of the message's 32-byte runs seen earlier), the shares of
messages reusing at least 30 % and 70 % (``reuse_some``, ``reuse_most``), and what is
reused among those (``reuse_kinds``: ``code``, ``quote`` from the other side, ``repeat``
of its own side). The generator draws each message's reuse share from those figures and
builds the message from a span of the conversation's earlier text of that size plus
fresh text (``revise``); ``alone`` and ``gain`` are kept for the realism check, the
generator does not aim at them directly. Pure: every choice comes from the
``random.Random`` passed in.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Callable
from typing import Any

from ..errors import InputError

KINDS = ("code", "quote", "repeat")
QUANTILES = ("p10", "p25", "p50", "p75", "p90")
RATIOS = ("alone", "gain", "gain_own")
SHARES = ("reuse_some", "reuse_most")
KEYS = ("messages", *RATIOS, "reuse", *SHARES, "reuse_kinds")
RUN, STEP = 32, 8  # bytes of a run and the offsets it is taken at, as analysis.content measures reuse
SOME, MOST = 0.30, 0.70  # the thresholds of reuse_some and reuse_most
MAX_RATIO = 1000.0
_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _quantiles(data: Any, field: str, low: float, high: float) -> dict[str, float] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InputError(f"{field}: must be an object of percentiles ({', '.join(QUANTILES)}) or null")
    out: dict[str, float] = {}
    for key, value in data.items():
        if key not in QUANTILES:
            raise InputError(f"{field}: unknown percentile {key!r}", fix=f"use {', '.join(QUANTILES)}")
        if not _number(value) or not low <= value <= high:
            raise InputError(f"{field}.{key}: must be a number from {low:g} to {high:g}, got {value!r}")
        out[key] = float(value)
    ordered = [out[k] for k in QUANTILES if k in out]
    if ordered != sorted(ordered):
        raise InputError(f"{field}: percentiles must not decrease, got {ordered}")
    return out


def _share(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if not _number(value) or not 0 <= value <= 1:
        raise InputError(f"{field}: must be a share from 0 to 1 or null, got {value!r}")
    return float(value)


def content_from_dict(data: Any, where: str, roles: tuple[str, ...]) -> dict[str, dict]:
    """A profile's content figures (per role, as ``analysis.content.summarise_content``
    gives them) checked: every error names the field."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("'content' must be an object of roles", where=where)
    out: dict[str, dict] = {}
    try:
        for role, figures in data.items():
            if role not in roles or not isinstance(figures, dict):
                raise InputError(f"content: unknown role {role!r}", fix=f"use {' and '.join(roles)}")
            field = f"content.{role}"
            unknown = sorted(set(figures) - set(KEYS))
            if unknown:
                raise InputError(f"{field}: unknown key {unknown[0]!r}", fix=f"use {', '.join(KEYS)}")
            checked: dict[str, Any] = {}
            messages = figures.get("messages")
            if messages is not None and (not isinstance(messages, int) or isinstance(messages, bool) or messages < 0):
                raise InputError(f"{field}.messages: must be a count >= 0 or null, got {messages!r}")
            checked["messages"] = messages
            for key in RATIOS:
                checked[key] = _quantiles(figures.get(key), f"{field}.{key}", 0.0, MAX_RATIO)
            checked["reuse"] = _quantiles(figures.get("reuse"), f"{field}.reuse", 0.0, 1.0)
            for key in SHARES:
                checked[key] = _share(figures.get(key), f"{field}.{key}")
            if None not in (checked["reuse_some"], checked["reuse_most"]) and (
                checked["reuse_most"] > checked["reuse_some"]
            ):
                raise InputError(f"{field}.reuse_most: must not exceed reuse_some ({checked['reuse_some']})")
            kinds = figures.get("reuse_kinds")
            if kinds is not None:
                if not isinstance(kinds, dict) or set(kinds) - set(KINDS):
                    raise InputError(f"{field}.reuse_kinds: must be an object of {', '.join(KINDS)} shares or null")
                kinds = {k: _share(v, f"{field}.reuse_kinds.{k}") or 0.0 for k, v in kinds.items()}
                if abs(sum(kinds.values()) - 1) > 0.01:
                    raise InputError(f"{field}.reuse_kinds: the shares must add up to 1, got {sum(kinds.values()):g}")
            checked["reuse_kinds"] = kinds
            out[role] = checked
    except InputError as error:  # the helpers name the field, this the file
        raise InputError(error.message, where=where, fix=error.fix) from None
    return out


def reuse_points(figures: dict) -> list[tuple[float, float]]:
    """``(probability, reuse share)`` points of a role's reuse distribution, linear between
    them: its percentiles, and ``reuse_some``/``reuse_most`` as the points where the share
    reaches 30 % and 70 %; from (0, 0) up to the largest share it is known to reach (1
    while ``reuse_most`` is not 0, else 70 % while ``reuse_some`` is not 0, else its
    highest percentile). Nothing known: no reuse."""
    quantiles = figures.get("reuse") or {}
    some, most = figures.get("reuse_some"), figures.get("reuse_most")
    points = [(0.0, 0.0), *((int(key[1:]) / 100, value) for key, value in quantiles.items())]
    if some:
        points.append((1 - some, SOME))
    if most:
        points.append((1 - most, MOST))
    if most is None or most > 0:
        top = 1.0 if quantiles or some or most else 0.0
    else:
        top = MOST if some is None or some > 0 else max(quantiles.values(), default=0.0)
    points.append((1.0, top))
    kept: list[tuple[float, float]] = []
    for p, value in sorted(points):
        if not kept or (p >= kept[-1][0] and value >= kept[-1][1]):
            kept.append((p, value))
    return kept


def draw_share(points: list[tuple[float, float]], rng: random.Random, floor: float = 0.0) -> float:
    """A reuse share drawn from ``reuse_points``, the probability drawn above ``floor``
    (the share of the role's messages that have no history to reuse and reuse nothing)."""
    u = floor + (1 - floor) * rng.random()
    for (p0, v0), (p1, v1) in itertools.pairwise(points):
        if u <= p1:
            return v0 if p1 == p0 else v0 + (v1 - v0) * (u - p0) / (p1 - p0)
    return points[-1][1]


def span_bytes(share: float, target: int) -> int:
    """Bytes of earlier text a message of ``target`` bytes carries so that ``share`` of
    its runs were seen earlier (0 when that is less than one run): k runs take
    ``RUN + STEP * (k - 1)`` bytes, and half a step more for where the span lands."""
    runs = max(0, (target - RUN) // STEP + 1)
    reused = round(share * runs)
    if reused == 0:
        return 0
    return min(target, RUN + STEP * (reused - 1) + STEP // 2)


def code_blocks(text: str) -> list[str]:
    """The bodies of a text's fenced code blocks."""
    return [m.group(1) for m in _FENCED.finditer(text)]


def _cut(text: str, start: int, size: int) -> str:
    """About ``size`` characters of ``text`` from ``start`` (moved back to a line or word
    start), ended at the line (else word) end nearest the size."""
    line = text.rfind("\n", 0, start) + 1
    start = line if start - line < 200 else max(text.rfind(" ", 0, start) + 1, line)
    aim = start + size
    if aim >= len(text):
        return text[start:].strip("\n")
    for mark, slack in (("\n", size // 4), (" ", size // 8)):
        before = text.rfind(mark, start + 1, aim + 1)
        after = text.find(mark, aim, aim + slack + 1)
        ends = [e for e in (before, after) if e > start and abs(e - aim) <= slack]
        if ends:
            aim = min(ends, key=lambda e: abs(e - start - size))
            break
    return text[start:aim].strip("\n")


def pick_span(text: str, size: int, rng: random.Random) -> str:
    """A span of about ``size`` characters of ``text`` (all of it when shorter)."""
    if size >= len(text):
        return text.strip("\n")
    return _cut(text, int(rng.random() * (len(text) - size)), size)


def edits(code: str) -> int:
    """Lines a fix puts into code: one per 30 lines, at least one."""
    return max(1, code.count("\n") // 30)


def edit_code(code: str, new_lines: list[str], rng: random.Random) -> str:
    """Code sent back with a change: ``edits(code)`` lines of ``new_lines`` put in, the
    rest as it was."""
    lines = code.rstrip("\n").split("\n")
    for _ in range(edits(code)):
        if not new_lines:
            break
        indent = re.match(r"\s*", lines[int(rng.random() * len(lines))]).group(0)  # type: ignore[union-attr]
        lines.insert(int(rng.random() * (len(lines) + 1)), indent + new_lines[int(rng.random() * len(new_lines))])
    return "\n".join(lines)


def revise(
    kind: str,
    span: str,
    target: int,
    fresh: Callable[[int], str],
    rng: random.Random,
    code_lines: list[str] | None = None,
) -> str:
    """A message of about ``target`` bytes: the reused ``span`` (code kept in a fenced
    block, with an edit) with fresh text around it (``fresh(n)``: about n bytes)."""
    if kind == "code":
        span = "```\n" + edit_code(span, code_lines or [], rng) + "\n```"
    rest = target - len(span.encode("utf-8", "surrogatepass")) - 2
    if rest < 8:
        return span
    if kind == "code" and rest > 120:  # a fix: a word before, an explanation after
        before = max(8, round(rest * 0.3))
        return fresh(before) + "\n\n" + span + "\n\n" + fresh(rest - before - 2)
    text = fresh(rest)
    # a quote or a pasted earlier text comes first, a rewrite's new part after it; or the
    # other way round
    return span + "\n\n" + text if rng.random() < 0.5 else text + "\n\n" + span


def choose_kind(kinds: dict[str, float] | None, available: set[str], rng: random.Random) -> str | None:
    """A kind of reuse by the profile's shares among those this turn can do."""
    weights = {k: (kinds or dict.fromkeys(KINDS, 1.0)).get(k, 0.0) for k in KINDS if k in available}
    total = sum(weights.values())
    if not weights:
        return None
    if total <= 0:
        return sorted(weights)[0]
    u = rng.random() * total
    for kind, weight in weights.items():
        u -= weight
        if u < 0:
            return kind
    return kind
