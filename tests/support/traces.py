"""Small real trace frames for the analysis tests (a helper module, not a conftest).

Messages come from ``aura_lab.generators`` plus a few plain chat sentences standing in
for corpus messages; each is compressed in-process by real codecs (``deflate``, and
``aura`` in a scratch directory) and goes through ``records_to_table`` / ``_to_frame``
so that dtypes are those of real traces. Built once per test process.
"""

from __future__ import annotations

import random
import time
from functools import lru_cache

import pandas as pd

from aura_lab.codecs import get_codec
from aura_lab.paths import scratch_cwd
from aura_lab.traces.schema import records_to_table
from aura_lab.traces.schema import to_frame as _to_frame
from aura_lab.traffic.generator import GeneratorConfig, generate

CORPUS_SENTENCES = [
    "Sure, here's a quick summary of what we discussed so far.",
    "Thanks! That fixed it.",
    "Can you explain why the build fails on Windows but not on Linux?",
    "I think the issue is the path separator in the config loader.",
    "ok",
    "What's the difference between a list and a tuple in Python?",
    "Here is an example: use pathlib.Path instead of string concatenation.",
    "Could you make it shorter, maybe two sentences?",
    "The meeting moved to Thursday at 3pm, does that still work for you?",
    "Great question. The short answer is yes, but there are trade-offs.",
    "Nope, still getting the same error after the restart.",
    "Let me know if you want me to go deeper into any of these points.",
]
START_NS = 1_700_000_000_000_000_000


def messages(n: int = 400, seed: int = 7) -> list[dict]:
    """Generated messages of the peer profile (templates), one in six replaced by a corpus sentence."""
    rng = random.Random(seed)
    out = []
    for m in generate(GeneratorConfig(seed=seed, corpus_weight=0.0, profile="peer"), n):
        row = {
            "user_id": m.user_id,
            "turn": m.turn,
            "role": m.role,
            "text": m.text,
            "source": m.source,
            "template_ids": list(m.template_ids),
            "slot_values": [list(v) for v in m.slot_values],
            "template_id": m.template_id,
            "target_min": m.target_min,
            "target_max": m.target_max,
        }
        if rng.random() < 1 / 6:
            row.update(
                text=rng.choice(CORPUS_SENTENCES), source="corpus", template_ids=[], slot_values=[], template_id=None
            )
        out.append(row)
    return out


def _compress_all(codec_name: str, rows: list[dict], run_id: str, warmup: int, errors: set[int]) -> list[dict]:
    records = []
    with scratch_cwd():
        codec = get_codec(codec_name)
        try:
            for i, row in enumerate(rows):
                sent = START_NS + i * 10_000_000
                record = {
                    **row,
                    "run_id": run_id,
                    "phase": "warmup" if i < warmup else "main",
                    "codec": codec_name,
                    "server_url": "in-process",
                    "length_chars": len(row["text"]),
                    "length_bytes": len(row["text"].encode()),
                    "scheduled_at": sent,
                    "sent_at": sent,
                    "reconnects": 0,
                }
                if i in errors:
                    record.update(
                        status="error",
                        error_kind="timeout",
                        error="no reply within 5 s",
                        received_at=None,
                        latency_ms=None,
                    )
                    records.append(record)
                    continue
                state = codec.new_connection_state()
                started = time.perf_counter()
                result = codec.compress(row["text"], state)
                compress_us = (time.perf_counter() - started) * 1e6
                try:
                    roundtrip_ok = codec.decompress(result.data, codec.new_connection_state()) == row["text"]
                except Exception:  # aura fails to decode some of its own fallback output
                    roundtrip_ok = False
                original, compressed = record["length_bytes"], len(result.data)
                latency_ms = 1.0 + (i % 7) * 0.1 + compress_us / 1000
                record.update(
                    status="ok",
                    method=result.method.upper(),
                    server_template_id=result.template_id if isinstance(result.template_id, int) else None,
                    original_size=original,
                    compressed_size=compressed,
                    ratio=original / compressed,
                    roundtrip_ok=roundtrip_ok,
                    compress_us=compress_us,
                    latency_ms=latency_ms,
                    received_at=sent + int(latency_ms * 1e6),
                )
                records.append(record)
        finally:
            codec.close()
    return records


@lru_cache(maxsize=4)
def _trace(n: int, seed: int, codecs: tuple[str, ...], warmup: int, run_id: str) -> pd.DataFrame:
    rows = messages(n, seed)
    errors = set(random.Random(seed).sample(range(n), k=max(1, n // 100)))
    records = [r for codec in codecs for r in _compress_all(codec, rows, run_id, warmup, errors)]
    return _to_frame(records_to_table(records))


def trace_frame(
    n: int = 400, seed: int = 7, codecs=("aura", "deflate"), warmup: int = 80, run_id: str = "test-run"
) -> pd.DataFrame:
    """A trace DataFrame: ``n`` messages per codec, the first ``warmup`` in phase warmup,
    about 1 % timeouts. A fresh copy each call."""
    return _trace(n, seed, tuple(codecs), warmup, run_id).copy()


def frame_from_records(records: list[dict]) -> pd.DataFrame:
    """Hand-made records (keys of ``aura_lab.traces.COLUMNS``) as a trace DataFrame."""
    return _to_frame(records_to_table(records))
