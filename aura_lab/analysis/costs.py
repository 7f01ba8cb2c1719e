"""What a codec costs beside what it saves: CPU per message, memory per connection, bytes
on the wire with frame headers, and which settings are worth it (the Pareto front).

- Time: the server's own ``compress_us`` and ``decompress_us`` of each message where the
  codec was called (``codec_size`` known), mean and median, in microseconds.
- Memory held per connection (``connection_memory``): one direction of a connection, the
  sender's compressor and the receiver's decompressor after a conversation's messages,
  averaged over many connections held at once. ``python_bytes``: what ``tracemalloc``
  sees, Python objects and whatever a C library allocates through Python's allocator
  (CPython's zlib module does: deflate-stream's zlib state is in this figure, and matches
  zlib's documented size). ``native_bytes``: the library's documented size of the state
  (``Codec.native_bytes``: zlib's zconf.h formula; python-zstandard's ``memory_size()`` of
  the connection's own contexts), added to ``bytes`` only where tracemalloc cannot see it
  (zstd). ``rss_bytes``: the process's resident memory growth over the connections, a
  cross-check that sees everything but only the pages touched so far (a zstd window
  allocated for 2 MiB and filled with a few KiB is mostly not resident yet).
- A codec that keeps nothing per connection (per-message codecs, AURA) holds ~0 per
  connection; what it holds once per server is ``codec_bytes`` (Python-level, at build).
- Pareto front: a setting is on it when no other is at least as good on every axis
  (wire ratio higher, CPU and memory lower) and better on one.
"""

from __future__ import annotations

import gc
import tempfile
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..codecs import parse_codec
from ..codecs.base import Codec
from ..config import MIN_COMPRESSION_SIZE
from ..wire.protocol import ServerStats, compress_reply
from . import metrics

CONNECTIONS = 32  # connections held at once while measuring memory

COST_COLUMNS = [
    "codec",
    "messages",
    "overall_ratio",
    "wire_ratio",
    "safe_ratio",
    "lossy",
    "compress_us_mean",
    "compress_us_p50",
    "decompress_us_mean",
    "cpu_us_per_message",
]


def codec_costs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per codec of a run's main phase: ratios (payload, wire, safe), whether it
    lost messages, and its time per message (µs; over messages the codec was called for)."""
    rows = []
    main = metrics.select(df, phase="main")
    for codec, part in main.groupby(main["codec"].astype(str), sort=False):
        called = metrics.sized(part)
        if "codec_size" in called:
            called = called[called["codec_size"].notna().to_numpy()]
        compress = pd.to_numeric(called["compress_us"], errors="coerce").dropna()
        decompress = pd.to_numeric(called["decompress_us"], errors="coerce").dropna()
        rows.append(
            {
                "codec": codec,
                "messages": len(part),
                "overall_ratio": metrics.overall_ratio(part),
                "wire_ratio": metrics.wire_ratio(part),
                "safe_ratio": metrics.safe_ratio(part),
                "lossy": metrics.loss(part)["lossy"] > 0,
                "compress_us_mean": float(compress.mean()) if len(compress) else None,
                "compress_us_p50": float(compress.median()) if len(compress) else None,
                "decompress_us_mean": float(decompress.mean()) if len(decompress) else None,
                "cpu_us_per_message": float(compress.sum() + decompress.sum()) / len(called) if len(called) else None,
            }
        )
    return pd.DataFrame(rows, columns=COST_COLUMNS)


def _play(codec: Codec, state: Any, texts: Sequence[str], min_compression_size: int) -> None:
    """The texts through one connection as the server handles them (threshold, round trip)."""
    stats = ServerStats()
    for text in texts:
        compress_reply(text, codec, state, stats, min_compression_size)


def _rss() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with aura-lab's dependencies
        return None
    return int(psutil.Process().memory_info().rss)


def connection_memory(
    spec: str, texts: Sequence[str], connections: int = CONNECTIONS, min_compression_size: int | None = None
) -> dict:
    """Memory one connection of ``spec`` holds after ``texts`` (a conversation's
    messages), in bytes, averaged over ``connections`` held at once (module's note)."""
    parsed = parse_codec(spec)
    threshold = MIN_COMPRESSION_SIZE if min_compression_size is None else min_compression_size
    with tempfile.TemporaryDirectory(prefix="aura-lab-memory-") as scratch:
        gc.collect()
        tracemalloc.start()
        codec = parsed.build(**parsed.defaults(min_compression_size=threshold, workdir=scratch))
        codec_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        try:
            if codec.new_connection_state() is None:  # nothing kept per connection: nothing to measure
                return {
                    "codec": spec,
                    "bytes": 0.0,
                    "python_bytes": 0.0,
                    "native_bytes": 0,
                    "rss_bytes": None,
                    "codec_bytes": codec_bytes,
                    "connections": 0,
                    "messages": len(texts),
                    "method": "no state per connection (the codec keeps none)",
                }
            _play(codec, codec.new_connection_state(), texts, threshold)  # lazy allocations of the codec itself
            gc.collect()
            before = _rss()
            held = [codec.new_connection_state() for _ in range(connections)]
            for state in held:
                _play(codec, state, texts, threshold)
            after = _rss()
            native = codec.native_bytes(held[0])
            del held
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            held = [codec.new_connection_state() for _ in range(connections)]
            for state in held:
                _play(codec, state, texts, threshold)
            gc.collect()
            python = (tracemalloc.get_traced_memory()[0] - base) / connections
            tracemalloc.stop()
            del held
        finally:
            if tracemalloc.is_tracing():
                tracemalloc.stop()
            codec.close()
    rss = None if before is None or after is None else max(0.0, (after - before) / connections)
    untraced = native if native and not codec.native_traced else 0
    return {
        "codec": spec,
        "bytes": python + untraced,
        "python_bytes": python,
        "native_bytes": native,
        "rss_bytes": rss,
        "codec_bytes": codec_bytes,
        "connections": connections,
        "messages": len(texts),
        "method": _method(native, codec.native_traced),
    }


def _method(native: int | None, traced: bool) -> str:
    if native is None:
        return "tracemalloc; the library documents no native size (native memory not checked)"
    if not native:
        return "tracemalloc; no native state per connection"
    if traced:
        return "tracemalloc, which sees the library's allocations (its documented size beside it)"
    return "tracemalloc + the library's documented native size (tracemalloc cannot see it)"


def pareto_front(
    table: pd.DataFrame, higher: str = "wire_ratio", lower: Sequence[str] = ("cpu_us_per_message", "memory_bytes")
) -> pd.Series:
    """True for each row no other row dominates: ``higher`` at least as high and every
    ``lower`` at least as low, one of them strictly. Rows missing a figure are never on it."""
    columns = [higher, *lower]
    values = table[columns].apply(pd.to_numeric, errors="coerce").to_numpy(float, copy=True)
    values[:, 0] = -values[:, 0]  # all axes: lower is better
    known = ~np.isnan(values).any(axis=1)
    front = []
    for i, row in enumerate(values):
        if not known[i]:
            front.append(False)
            continue
        others = values[known]
        dominated = ((others <= row).all(axis=1) & (others < row).any(axis=1)).any()
        front.append(not dominated)
    return pd.Series(front, index=table.index, name="pareto")


SHINGLE_WORDS = 8


def _shingles(text: str, words: int) -> set[tuple[str, ...]]:
    tokens = text.split()
    return {tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}


def training_overlap(training: Sequence[str], texts: Sequence[str], words: int = SHINGLE_WORDS) -> dict:
    """How much of the measured ``texts`` a dictionary's ``training`` texts hold already:
    the share of messages found whole in them, and the share of the messages' runs of
    ``words`` consecutive words (shingles) found in them. Above 0 the dictionary has seen
    part of what it is measured on, and its ratio flatters it."""
    whole = set(training)
    known: set[tuple[str, ...]] = set()
    for text in training:
        known |= _shingles(text, words)
    measured = [s for text in texts for s in _shingles(text, words)]
    return {
        "messages_in_training": sum(t in whole for t in texts) / len(texts) if texts else None,
        "shingles_in_training": sum(s in known for s in measured) / len(measured) if measured else None,
        "shingle_words": words,
    }
