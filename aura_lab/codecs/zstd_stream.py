"""zstd over the whole connection: one stream per connection, each message flushed as a
block, so later messages refer back to earlier ones (zstd's context takeover); with a
trained dictionary when ``dict_size`` > 0 (trained as ``zstd-dict`` trains it).

The first message of each direction carries the frame header. Like ``deflate-stream``, a
connection keeps one stream per direction (``context=per-direction``, the default) or,
to compare, one for both (``context=shared``), and its output is sent whatever its size
(the message is in both sides' history).

Each connection gets its own ``ZstdCompressor`` and ``ZstdDecompressor``: python-zstandard's
``compressobj()`` and ``decompressobj()`` run on their parent's one context (its docs: one
logical operation per instance at a time), so streams made from one shared compressor would
share one history across connections, compressing a user's message against other users'
messages, which no real client could decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from .base import CLIENT_TO_SERVER, CONTEXTS, PER_DIRECTION, Codec, CodecResult, check_direction
from .training import read_training_texts, training_path
from .zstd_dict import _build_dictionary


@dataclass
class ZstdStreamState:
    """The sender's compressor stream and the receiver's decompressor stream."""

    compressor: Any
    decompressor: Any
    contexts: tuple[Any, ...] = ()  # the connection's own ZstdCompressor and ZstdDecompressor


class ZstdStreamCodec(Codec):
    name = "zstd-stream"
    method = "ZSTD_STREAM"
    path_options = ("training",)
    package = "zstandard"
    falls_back_on_expansion = False

    def __init__(
        self, level: int = 3, dict_size: int = 0, training: str | Path | None = None, context: str = PER_DIRECTION
    ):
        if context not in CONTEXTS:
            raise ValueError(f"context must be {' or '.join(CONTEXTS)}, got {context!r}")
        self.context = context
        if not -7 <= int(level) <= 22:
            raise ValueError(f"level must be -7..22, got {level}")
        if int(dict_size) < 0:
            raise ValueError(f"dict_size must be >= 0 bytes (0: no dictionary), got {dict_size}")
        self.level, self.dict_size_requested = int(level), int(dict_size)
        self.dictionary = None
        self.dict_note = ""
        self.training_path: Path | None = None
        if self.dict_size_requested:
            self.training_path = training_path(training)
            texts, self.training_sha256 = read_training_texts(self.training_path)
            self.dictionary, _, self.dict_note = _build_dictionary(
                [t.encode("utf-8") for t in texts], self.dict_size_requested
            )

    def new_connection_state(self, direction: str = CLIENT_TO_SERVER) -> ZstdStreamState:
        check_direction(direction)  # both directions alike: zstd negotiates no window per side
        compressor = zstandard.ZstdCompressor(
            level=self.level, dict_data=self.dictionary, write_checksum=False, write_dict_id=False
        )
        decompressor = zstandard.ZstdDecompressor(dict_data=self.dictionary)
        return ZstdStreamState(compressor.compressobj(), decompressor.decompressobj(), (compressor, decompressor))

    def native_bytes(self, state: ZstdStreamState | None) -> int | None:
        """The connection's zstd contexts as python-zstandard sizes them (``memory_size()``)."""
        return 0 if state is None else sum(int(c.memory_size()) for c in state.contexts)

    def compress(self, text: str, state: ZstdStreamState | None = None) -> CodecResult:
        state = state or self.new_connection_state()
        data = state.compressor.compress(text.encode("utf-8"))
        data += state.compressor.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return CodecResult(data, self.method)

    def decompress(self, data: bytes, state: ZstdStreamState | None = None) -> str:
        state = state or self.new_connection_state()
        return state.decompressor.decompress(data).decode("utf-8")

    def info(self) -> dict:
        dict_bytes = len(self.dictionary.as_bytes()) if self.dictionary else 0
        info: dict[str, Any] = {
            "level": self.level,
            "context_takeover": True,
            "context": self.context,
            "dict_size_bytes": dict_bytes,
        }
        if self.training_path is not None:
            info.update(training_file=str(self.training_path), training_sha256=self.training_sha256)
        if self.dict_note:
            info["note"] = self.dict_note
        return info
