"""How big must a server's template store be? Replays the sequence of template uses of
a trace through a bounded store under LRU, LFU or TTL eviction.

Time is counted in messages: every element of a sequence is one message; elements
without a template (``None``/NaN) advance time without touching the store.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from ..errors import InputError

POLICIES = ("lru", "lfu", "ttl")
CAPACITIES = (8, 16, 32, 64, 128, 256)
DEFAULT_TTL = 1000  # messages, for sweeps that include "ttl" without a ttl


@dataclass
class StoreResult:
    """Hits and misses are counted over template uses; churn over all messages."""

    policy: str
    capacity: int
    ttl: int | None
    messages: int
    uses: int
    hits: int
    misses: int
    evictions: int  # removed to make room
    expirations: int  # removed because idle for ttl messages
    hit_rate: float | None
    churn_per_1000: float | None  # (evictions + expirations) per 1000 messages


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def simulate_store(sequence: Iterable, capacity: int = 128, policy: str = "lru", ttl: int | None = None) -> StoreResult:
    """Replay template uses through a store of at most ``capacity`` templates.

    ``lru`` evicts the least recently used; ``lfu`` the least used since it entered
    (ties: least recently used); ``ttl`` drops a template ``ttl`` messages after its last
    use and, when full, evicts the least recently used.
    """
    if policy not in POLICIES:
        raise InputError(f"unknown store policy {policy!r}", where="policy", fix=f"use one of {', '.join(POLICIES)}")
    if capacity < 1:
        raise InputError(f"capacity must be >= 1, got {capacity}", where="capacity")
    if policy == "ttl" and (ttl is None or ttl < 1):
        raise InputError("the ttl policy needs ttl >= 1 (messages)", where="ttl")

    last_used: OrderedDict = OrderedDict()  # template -> message index, least recent first
    uses_in_store: dict = {}
    messages = uses = hits = evictions = expirations = 0
    for now, template in enumerate(sequence):
        messages += 1
        if policy == "ttl":
            while last_used and now - next(iter(last_used.values())) >= ttl:
                expired, _ = last_used.popitem(last=False)
                uses_in_store.pop(expired, None)
                expirations += 1
        if _is_missing(template):
            continue
        uses += 1
        if template in last_used:
            hits += 1
            last_used.move_to_end(template)
        else:
            if len(last_used) >= capacity:
                if policy == "lfu":
                    # OrderedDict order breaks frequency ties by recency
                    victim = min(last_used, key=uses_in_store.__getitem__)
                else:
                    victim = next(iter(last_used))
                del last_used[victim]
                uses_in_store.pop(victim, None)
                evictions += 1
            uses_in_store[template] = 0
        last_used[template] = now
        uses_in_store[template] += 1
    return StoreResult(
        policy=policy,
        capacity=capacity,
        ttl=ttl if policy == "ttl" else None,
        messages=messages,
        uses=uses,
        hits=hits,
        misses=uses - hits,
        evictions=evictions,
        expirations=expirations,
        hit_rate=hits / uses if uses else None,
        churn_per_1000=1000 * (evictions + expirations) / messages if messages else None,
    )


def store_sweep(
    sequence: Sequence,
    capacities: Sequence[int] = CAPACITIES,
    policies: Sequence[str] = POLICIES,
    ttl: int | None = None,
) -> pd.DataFrame:
    """``simulate_store`` for every policy and capacity: one tidy row each. ``ttl``
    defaults to ``DEFAULT_TTL`` messages for the ttl policy."""
    sequence = list(sequence)
    rows = [
        asdict(simulate_store(sequence, capacity, policy, ttl=(ttl or DEFAULT_TTL) if policy == "ttl" else None))
        for policy in policies
        for capacity in capacities
    ]
    return pd.DataFrame(rows).astype({"ttl": "Int64"})


def template_sequence(df: pd.DataFrame, codec: str | None = None, column: str | None = None) -> list:
    """Template uses in sent order: ``server_template_id`` when the trace has any, else
    the generated ``template_id`` (or the ``column`` given). One codec at a time, since
    a trace holds each message once per codec."""
    rows = df
    if codec is not None:
        rows = rows[rows["codec"].astype(str) == codec]
    elif "codec" in rows and rows["codec"].nunique() > 1:
        raise InputError(
            "the trace holds several codecs",
            where="template_sequence",
            fix="pass codec=... to replay one codec's template uses",
        )
    if column is None:
        column = "server_template_id" if rows["server_template_id"].notna().any() else "template_id"
    order = [c for c in ("sent_at", "scheduled_at", "user_id", "turn") if c in rows]
    rows = rows.sort_values(order, kind="stable", na_position="last")
    return [None if pd.isna(v) else int(v) for v in rows[column]]
