"""Raw deflate per message: permessage-deflate without context takeover.

Each message gets a fresh compressor (window bits 15, no zlib header), flushed with
Z_SYNC_FLUSH and stripped of the trailing ``00 00 ff ff`` as RFC 7692 does.
"""

from __future__ import annotations

import zlib

from .base import DEFLATE_TAIL, Codec, CodecResult, strip_deflate_tail


class DeflateCodec(Codec):
    name = "deflate"
    method = "DEFLATE"
    context_takeover = False

    def __init__(self, level: int = 6):
        if not 0 <= int(level) <= 9:
            raise ValueError(f"deflate level must be 0..9, got {level}")
        self.level = int(level)

    def compress(self, text: str, state=None) -> CodecResult:
        compressor = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        data = compressor.compress(text.encode("utf-8")) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return CodecResult(strip_deflate_tail(data), self.method)

    def decompress(self, data: bytes, state=None) -> str:
        return zlib.decompressobj(-15).decompress(data + DEFLATE_TAIL).decode("utf-8")

    def info(self) -> dict:
        return {
            "level": self.level,
            "window_bits": 15,
            "context_takeover": self.context_takeover,
            "zlib_version": zlib.ZLIB_RUNTIME_VERSION,
        }

    @property
    def package_version(self) -> str:
        return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"
