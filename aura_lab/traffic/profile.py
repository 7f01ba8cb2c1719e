"""Traffic profiles: everything the generator needs to know about a kind of chat, in a
small JSON file without any message text (so it can be shared).

A profile of kind ``conversations`` holds message size by role and band (UTF-8 bytes;
``aura_lab.traffic.conversations.BANDS``, plus ``all``, the role-wide model a band
without enough messages falls back to), messages per conversation, which role opens a
conversation, each role's share of messages, and the content mix (shares of messages
holding a fenced code block, a list, or prose only), and the content figures per role
(``aura_lab.analysis.content``: how a message compresses alone and with the
conversation's history, how much of its text comes from earlier turns and of what kind;
no text). Its users play whole conversations, both sides, with text composed from the
answers corpus (``aura_lab.traffic.compose``) that revises and repeats itself as much as
the content figures say (``aura_lab.traffic.reuse``). A profile file without content
figures (older ones) gets the published ones.

Built in:

- ``assistant`` (the default): the published figures of real assistant chats
  (ShareGPT V3 "unfiltered cleaned split", 17,671 conversations, docs/traffic.md): sizes
  from the published quantiles and means, messages per conversation likewise, content
  figures from those measured on 6,000 of its conversations;
- ``peer``: the peer's guess, as aura-lab always had it: one role per user, lengths from
  the peer's table (``aura_lab.traffic.lengths``), 5-50 messages, template synthesis.

``aura-lab profile LOGS -o FILE`` fits a profile to real logs
(``aura_lab.analysis.profiles.fit_profile``); ``--profile NAME|FILE`` uses one.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..inputs import read_json_file
from ..paths import write_atomic
from .conversations import BANDS, CHAT_ROLES
from .lengths import PEER_LENGTHS, PEER_TURNS
from .reuse import RUN, content_from_dict
from .sizes import SizeModel

FORMAT = "aura-lab-profile"
VERSION = 1
KINDS = ("conversations", "peer")
ALL = "all"  # the band of a role-wide model
CONTENT = ("code", "list", "prose")
MAX_MESSAGES_PER_CONVERSATION = 1000

# The published figures (bytes; p5 / p25 / p50 / p75 / p95 and mean), docs/traffic.md.
PUBLISHED_PROBABILITIES = (0.05, 0.25, 0.50, 0.75, 0.95)
PUBLISHED_SIZES = {
    "assistant": {
        "first": ((111, 746, 1363, 2075, 3304), 1496),
        "2-3": ((138, 773, 1351, 1993, 3206), 1459),
        "later": ((98, 546, 1081, 1611, 2644), 1160),
    },
    "human": {
        "first": ((15, 53, 114, 371, 4132), 775),
        "2-3": ((13, 42, 78, 173, 1044), 240),
        "later": ((13, 40, 73, 147, 542), 156),
    },
}
PUBLISHED_MESSAGES = (((0.05, 2), (0.25, 3), (0.50, 6), (0.75, 10), (0.95, 16.5), (0.99, 26)), 7.3)
PUBLISHED_CONTENT = {"assistant": {"code": 0.26, "list": 0.34}}
# share of each role's messages per size bucket (the summary's buckets, 50-200 together)
PUBLISHED_SHARES = {
    "human": {"<50": 0.297, "50-200": 0.458, "200-500": 0.130, "500-2000": 0.077, "2000+": 0.037},
    "assistant": {"<50": 0.023, "50-200": 0.060, "200-500": 0.100, "500-2000": 0.605, "2000+": 0.211},
}
# How real chat compresses and reuses its own text, per role (raw deflate, level 6;
# analysis.content), measured on 6,000 ShareGPT V3 conversations. The kinds of reuse
# were not published: they are estimates (code sent back, answers pasted back).
PUBLISHED_FIGURES: dict[str, dict] = {
    "assistant": {
        "messages": None,
        "alone": {"p10": 1.51, "p25": 1.87, "p50": 2.16, "p75": 2.46, "p90": 2.82},
        "gain": {"p25": 1.18, "p50": 1.37, "p75": 1.79, "p90": 2.86},
        "gain_own": {"p25": 1.20, "p50": 1.36, "p75": 1.74, "p90": 2.77},
        "reuse": {"p10": 0.0, "p25": 0.0, "p50": 0.015, "p75": 0.12, "p90": 0.41},
        "reuse_some": 0.136,
        "reuse_most": 0.036,
        "reuse_kinds": {"code": 0.45, "quote": 0.2, "repeat": 0.35},
    },
    "human": {
        "messages": None,
        "alone": {"p10": 0.92, "p25": 1.00, "p50": 1.16, "p75": 1.44, "p90": 1.81},
        "gain": {"p25": 1.26, "p50": 1.52, "p75": 2.00, "p90": 3.05},
        "gain_own": {"p25": 1.11, "p50": 1.27, "p75": 1.63, "p90": 2.55},
        "reuse": {"p10": 0.0, "p25": 0.0, "p50": 0.0, "p75": 0.0, "p90": 0.30},
        "reuse_some": 0.10,
        "reuse_most": 0.056,
        "reuse_kinds": {"code": 0.3, "quote": 0.5, "repeat": 0.2},
    },
}
_BAND_SPANS = (("first", 0, 1), ("2-3", 1, 2), ("later", 3, MAX_MESSAGES_PER_CONVERSATION))  # a role's nth messages
_NUMBERS = re.compile(r"\[\s+([-+\d.eE,\s]+?)\s+\]")  # a list of numbers, spread over lines
HUMAN_TAIL_CAP = 64 * 1024  # bytes: the largest pasted message the built-in profile draws


@dataclass(frozen=True)
class Profile:
    """A traffic profile (see the module's note). Sizes in UTF-8 bytes."""

    name: str
    kind: str = "conversations"
    description: str = ""
    sizes: dict[str, dict[str, SizeModel]] = field(default_factory=dict)
    messages_per_conversation: SizeModel | None = None
    first_role: dict[str, float] = field(default_factory=lambda: {"human": 1.0, "assistant": 0.0})
    role_shares: dict[str, float | None] = field(default_factory=dict)
    content_mix: dict[str, dict[str, float | None]] = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    content: dict[str, dict] = field(default_factory=dict)  # content figures per role

    @property
    def two_sided(self) -> bool:
        """True when a user plays a whole conversation (both roles)."""
        return self.kind == "conversations"

    def size_model(self, role: str, band: str) -> SizeModel:
        """The model of a role and band, else the role's ``all`` model."""
        models = self.sizes.get(role, {})
        model = models.get(band) or models.get(ALL)
        if model is None:
            raise InputError(f"profile {self.name!r} has no size model for {role} messages", where="profile")
        return model

    def code_share(self) -> float | None:
        """Share of assistant messages holding a fenced code block, when known."""
        return self.content_mix.get("assistant", {}).get("code")

    def content_figures(self, role: str) -> dict:
        """The content figures of a role: the profile's, else the published ones."""
        return self.content.get(role) or PUBLISHED_FIGURES[role]

    @cached_property
    def cannot_reuse(self) -> dict[str, float]:
        """Per role, the share of its messages that reuse nothing whatever their figures
        say: those that open a conversation (nothing said before them) and those shorter
        than a run of the reuse share (``reuse.RUN`` bytes); from the opening role, the
        messages per conversation and the size models."""
        model = self.messages_per_conversation
        u = np.linspace(0.0025, 0.9975, 200)
        counts = np.maximum(1, np.round(model.ppf(u))) if model is not None else np.ones(1)
        out = {}
        for role in CHAT_ROLES:
            opens = self.first_role.get(role, 0.0)
            # the opening role speaks ceil(n / 2) times, the other floor(n / 2)
            spoken = opens * np.ceil(counts / 2) + (1 - opens) * np.floor(counts / 2)
            expected = spoken.mean()
            if expected <= 0 or role not in self.sizes:
                out[role] = 1.0
                continue
            in_band = {b: np.clip(spoken - start, 0, width).mean() for b, start, width in _BAND_SPANS}
            short = sum(n * float(self.size_model(role, b).cdf([RUN - 0.5])[0]) for b, n in in_band.items())
            opening_short = opens * float(self.size_model(role, "first").cdf([RUN - 0.5])[0])
            out[role] = float(min(1.0, (opens + short - opening_short) / expected))
        return out

    def describe(self) -> dict:
        """What a run's manifest records of its profile: name, kind, source, no models."""
        return {"name": self.name, "kind": self.kind, "description": self.description, "source": self.source}

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name, "kind": self.kind}
        out["description"] = self.description
        out["source"] = self.source
        if self.kind == "peer":
            out["lengths_chars"] = PEER_LENGTHS.ranges
            out["messages_per_conversation"] = {"uniform": list(PEER_TURNS)}
            return out
        out["bands"] = {"first": "a role's first message", "2-3": "its 2nd and 3rd", "later": "4th on", ALL: "any"}
        out["sizes"] = {role: {b: m.to_dict() for b, m in bands.items()} for role, bands in self.sizes.items()}
        mpc = self.messages_per_conversation
        out["messages_per_conversation"] = mpc.to_dict() if mpc else None
        out["first_role"] = self.first_role
        out["role_shares"] = self.role_shares
        out["content_mix"] = self.content_mix
        out["content"] = self.content
        return copy.deepcopy(out)  # the caller's own: the built-in profiles are cached and shared

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON (lists of numbers on one line: a small file to read)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        text = _NUMBERS.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
        return write_atomic(path, text + "\n")


def _shares(data: Any, where: str, keys: tuple[str, ...]) -> dict[str, float | None]:
    if not isinstance(data, dict):
        raise InputError("must be an object", where=where)
    out: dict[str, float | None] = {}
    for key, value in data.items():
        if key not in keys:
            raise InputError(f"unknown key {key!r}", where=where, fix=f"use {', '.join(keys)}")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1
        ):
            raise InputError(f"{key}: must be a share from 0 to 1 or null, got {value!r}", where=where)
        out[key] = None if value is None else float(value)
    return out


def profile_from_dict(data: Any, where: str) -> Profile:
    """A profile from its JSON form; every error names the file and the field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(
            f'not an aura-lab profile (no "format": "{FORMAT}")', where=where, fix="make one with aura-lab profile"
        )
    if data.get("version") != VERSION:
        raise InputError(f"profile version {data.get('version')!r}; this aura-lab reads version {VERSION}", where=where)
    name, kind = data.get("name"), data.get("kind", "conversations")
    if not isinstance(name, str) or not name:
        raise InputError("'name' must be a non-empty string", where=where)
    if kind == "peer":
        return PEER
    if kind != "conversations":
        raise InputError(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}", where=where)
    sizes_data = data.get("sizes")
    if not isinstance(sizes_data, dict) or not sizes_data:
        raise InputError("'sizes' must be an object of roles", where=where)
    sizes: dict[str, dict[str, SizeModel]] = {}
    for role, bands in sizes_data.items():
        if role not in CHAT_ROLES or not isinstance(bands, dict):
            raise InputError(f"sizes: unknown role {role!r}", where=where, fix=f"use {' and '.join(CHAT_ROLES)}")
        sizes[role] = {}
        for band, model in bands.items():
            if band not in (*BANDS, ALL):
                raise InputError(
                    f"sizes.{role}: unknown band {band!r}", where=where, fix=f"use {', '.join(BANDS)}, all"
                )
            sizes[role][band] = SizeModel.from_dict(model, f"{where}: sizes.{role}.{band}")
    mpc = data.get("messages_per_conversation")
    first = _shares(data.get("first_role", {"human": 1.0}), f"{where}: first_role", CHAT_ROLES)
    if abs(sum(v or 0 for v in first.values()) - 1) > 1e-6:
        raise InputError("first_role: the shares must add up to 1", where=where)
    mix_data = data.get("content_mix") or {}
    if not isinstance(mix_data, dict):
        raise InputError("'content_mix' must be an object of roles", where=where)
    return Profile(
        name=name,
        kind=kind,
        description=str(data.get("description") or ""),
        sizes=sizes,
        messages_per_conversation=None
        if mpc is None
        else SizeModel.from_dict(mpc, f"{where}: messages_per_conversation"),
        first_role={r: v or 0.0 for r, v in first.items()},
        role_shares=_shares(data.get("role_shares") or {}, f"{where}: role_shares", CHAT_ROLES),
        content_mix={
            role: _shares(shares, f"{where}: content_mix.{role}", CONTENT) for role, shares in mix_data.items()
        },
        source=dict(data["source"]) if isinstance(data.get("source"), dict) else {},
        content=content_from_dict(data.get("content"), where, CHAT_ROLES),
    )


def _published_assistant() -> Profile:
    sizes = {}
    for role, bands in PUBLISHED_SIZES.items():
        high = HUMAN_TAIL_CAP if role == "human" else 16 * 1024
        sizes[role] = {
            band: SizeModel(
                "quantiles", points=tuple(zip(PUBLISHED_PROBABILITIES, map(float, q))), mean=float(mean), high=high
            )
            for band, (q, mean) in bands.items()
        }
    points, mean = PUBLISHED_MESSAGES
    return Profile(
        name="assistant",
        description="real assistant chats: the published figures of ShareGPT V3 (17,671 conversations)",
        sizes=sizes,
        messages_per_conversation=SizeModel(
            "quantiles", points=tuple((p, float(v)) for p, v in points), mean=mean, high=MAX_MESSAGES_PER_CONVERSATION
        ),
        first_role={"human": 1.0, "assistant": 0.0},
        content_mix={"assistant": dict(PUBLISHED_CONTENT["assistant"])},
        source={"published": "ShareGPT V3 unfiltered cleaned split: 17,671 conversations, 135,000 messages"},
        content=copy.deepcopy(PUBLISHED_FIGURES),
    )


PEER = Profile(
    name="peer",
    kind="peer",
    description="the peer's guess: one role per user, the peer's length table, 5-50 messages, templates",
    source={"table": "aura_lab.traffic.lengths.PEER_LENGTHS"},
)
BUILT_IN = ("assistant", "peer")
_CACHE: dict[str, Profile] = {}


def load_profile(name_or_path: str | Profile | None, where: str = "profile") -> Profile:
    """A built-in profile by name (``assistant``, ``peer``) or a profile JSON file."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    if name_or_path is None or name_or_path == "assistant":
        if "assistant" not in _CACHE:
            _CACHE["assistant"] = _published_assistant()
        return _CACHE["assistant"]
    if name_or_path == "peer":
        return PEER
    path = Path(name_or_path)
    if path.suffix != ".json" and not path.exists():
        raise InputError(
            f"no built-in profile {name_or_path!r} and no such file",
            where=where,
            fix=f"use {' or '.join(BUILT_IN)}, or a profile JSON file made by aura-lab profile",
        )
    return profile_from_dict(
        read_json_file(path, "profile", fix="make one with aura-lab profile LOGS -o FILE"), str(path)
    )
