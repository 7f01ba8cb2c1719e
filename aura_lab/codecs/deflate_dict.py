"""Raw deflate per message with a preset dictionary (``zdict``) built from training text.

No context takeover: each message starts from the same preset, so what recurs across
conversations (greetings, phrasing, markdown) compresses from the first message. The
preset is the last ``dict_size`` bytes of the training texts joined (deflate looks back at
most 32 KiB, and matches closest to the end are cheapest).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from .base import DEFLATE_TAIL, CodecResult, strip_deflate_tail
from .deflate import DeflateCodec
from .training import read_training_texts, training_path


class DeflateDictCodec(DeflateCodec):
    name = "deflate-dict"
    method = "DEFLATE_DICT"
    path_options = ("training",)
    checked_by_building = False  # it reads its training file

    def __init__(self, level: int = 6, window_bits: int = 15, mem_level: int = 8, dict_size: int = 32 * 1024,
                 training: str | Path | None = None):  # fmt: skip
        super().__init__(level, window_bits, mem_level)
        if not 1 <= int(dict_size) <= 32 * 1024:
            raise ValueError(f"dict_size must be 1..32768 bytes, got {dict_size}")
        self.training_path = training_path(training)
        texts, self.training_sha256 = read_training_texts(self.training_path)
        self.training_messages = len(texts)
        self.zdict = "\n".join(texts).encode("utf-8")[-int(dict_size) :]

    def compress(self, text: str, state=None) -> CodecResult:
        compressor = self.compressor(self.zdict)
        data = compressor.compress(text.encode("utf-8")) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return CodecResult(strip_deflate_tail(data), self.method)

    def decompress(self, data: bytes, state=None) -> str:
        return self.decompressor(self.zdict).decompress(data + DEFLATE_TAIL).decode("utf-8")

    def info(self) -> dict:
        return {**super().info(), "dict_size_bytes": len(self.zdict), "training_file": str(self.training_path),
                "training_sha256": self.training_sha256, "training_messages": self.training_messages}  # fmt: skip
