"""Which minimum compression size pays? Replays messages through a codec in-process and
applies each candidate threshold (``min_compression_size``, UTF-8 bytes).

Each message is compressed once, on its own (a fresh connection state), and every
threshold is applied to those sizes: a message under the threshold is sent
UNCOMPRESSED at its original size; so is one whose codec output is larger than the
text, by the server's own rule (``wire.protocol.sends_raw``: not for aura, whose framing
always goes on the wire). Each message is also checked for loss
(``decompress(compress(m)) == m``): ``lossy_messages`` counts those a threshold still
sends compressed, and ``safe_ratio`` counts them as sent raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..codecs import CODECS, get_codec
from ..paths import scratch_cwd
from ..wire.protocol import UNCOMPRESSED, roundtrip_problem, sends_raw
from .stats import divide

THRESHOLDS = range(20, 61, 5)


def compressed_sizes(texts: Iterable[str], codec_name: str, **codec_options) -> pd.DataFrame:
    """original_size, compressed_size (bytes), method, expansion_fallback and lossless of
    each message, compressed alone.

    The codec is built, used and closed inside a scratch working directory, since
    aura-compression writes its state into the current one."""
    rows = []
    with scratch_cwd():
        codec = get_codec(codec_name, **codec_options)
        try:
            for text in texts:
                state = codec.new_connection_state()
                result = codec.compress(text, state)
                try:
                    lossless = roundtrip_problem(text, codec.decompress(result.data, state)) is None
                except Exception:  # a decoder that raises lost the message
                    lossless = False
                original = len(text.encode("utf-8"))
                rows.append(
                    (
                        original,
                        len(result.data),
                        str(result.method).upper(),
                        sends_raw(original, len(result.data), codec.falls_back_on_expansion),
                        lossless,
                    )
                )
        finally:
            codec.close()
    columns = ["original_size", "compressed_size", "method", "expansion_fallback", "lossless"]
    return pd.DataFrame(rows, columns=columns)


def threshold_sweep(
    texts: Sequence[str],
    codec_name: str,
    thresholds: Iterable[int] = THRESHOLDS,
    **codec_options,
) -> pd.DataFrame:
    """One row per threshold: threshold (bytes), messages, messages_compressed,
    uncompressed_share, original_bytes, sent_bytes, overall_ratio, lossy_messages (sent
    compressed and not decompressible) and safe_ratio (those counted as sent raw).

    For the ``aura`` codec its own ``min_compression_size`` defaults to the smallest
    threshold swept, so that only the sweep's threshold decides."""
    thresholds = sorted(int(t) for t in thresholds)
    if codec_name == "aura" and thresholds:
        codec_options.setdefault("min_compression_size", thresholds[0])
    sizes = compressed_sizes(texts, codec_name, **codec_options)
    original = sizes["original_size"].to_numpy(float)
    compressed = sizes["compressed_size"].to_numpy(float)
    codec_says_raw = sizes["method"].eq(UNCOMPRESSED).to_numpy()
    expanded = sizes["expansion_fallback"].to_numpy(bool)
    lossless = sizes["lossless"].to_numpy(bool)
    rows = []
    for threshold in thresholds:
        raw = (original < threshold) | expanded
        sent = np.where(raw, original, compressed)
        lost = ~raw & ~lossless
        uncompressed = raw | codec_says_raw
        rows.append(
            {
                "threshold": threshold,
                "messages": len(sizes),
                "messages_compressed": int((~uncompressed).sum()),
                "uncompressed_share": float(uncompressed.mean()) if len(sizes) else None,
                "original_bytes": int(original.sum()),
                "sent_bytes": int(sent.sum()),
                "overall_ratio": divide(original.sum(), sent.sum()),
                "lossy_messages": int(lost.sum()),
                "safe_ratio": divide(original.sum(), np.where(lost, original, sent).sum()),
            }
        )
    return pd.DataFrame(rows)


def threshold_sweeps(
    texts: Sequence[str], codecs: Iterable[str], thresholds: Iterable[int] = THRESHOLDS
) -> tuple[pd.DataFrame, list[str]]:
    """``threshold_sweep`` for each of a run's codecs that can be replayed here (a
    ``codec`` column), and the codecs left out (an external server's, ``peer``)."""
    thresholds = list(thresholds)
    frames, skipped = [], []
    for codec in codecs:
        if codec in CODECS:
            frames.append(threshold_sweep(texts, codec, thresholds).assign(codec=codec))
        else:
            skipped.append(codec)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), skipped
