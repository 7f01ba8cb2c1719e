"""Raw deflate per message: permessage-deflate without context takeover.

Each message gets a fresh compressor (raw deflate, no zlib header), flushed with
Z_SYNC_FLUSH and stripped of the trailing ``00 00 ff ff`` as RFC 7692 does. Options:
``level`` (0-9), ``window_bits`` (9-15: the window is 2**window_bits bytes; RFC 7692's
``server_max_window_bits``) and ``mem_level`` (1-9: memory for the compressor's state).
"""

from __future__ import annotations

import zlib

from .base import DEFLATE_TAIL, Codec, CodecResult, strip_deflate_tail


class DeflateCodec(Codec):
    name = "deflate"
    method = "DEFLATE"
    context_takeover = False
    checked_by_building = True

    def __init__(self, level: int = 6, window_bits: int = 15, mem_level: int = 8):
        for name, value, low, high in (("level", level, 0, 9), ("window_bits", window_bits, 9, 15),
                                       ("mem_level", mem_level, 1, 9)):  # fmt: skip
            if not low <= int(value) <= high:
                raise ValueError(f"{name} must be {low}..{high}, got {value}")
        self.level, self.window_bits, self.mem_level = int(level), int(window_bits), int(mem_level)

    def compressor(self, zdict: bytes | None = None):
        """A fresh raw-deflate compressor with this codec's settings."""
        if zdict:
            return zlib.compressobj(self.level, zlib.DEFLATED, -self.window_bits, self.mem_level, zdict=zdict)
        return zlib.compressobj(self.level, zlib.DEFLATED, -self.window_bits, self.mem_level)

    def decompressor(self, zdict: bytes | None = None):
        """A fresh raw-deflate decompressor matching ``compressor``."""
        return zlib.decompressobj(-self.window_bits, zdict=zdict) if zdict else zlib.decompressobj(-self.window_bits)

    def compress(self, text: str, state=None) -> CodecResult:
        compressor = self.compressor()
        data = compressor.compress(text.encode("utf-8")) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return CodecResult(strip_deflate_tail(data), self.method)

    def decompress(self, data: bytes, state=None) -> str:
        return self.decompressor().decompress(data + DEFLATE_TAIL).decode("utf-8")

    def info(self) -> dict:
        return {
            "level": self.level,
            "window_bits": self.window_bits,
            "mem_level": self.mem_level,
            "context_takeover": self.context_takeover,
            "zlib_version": zlib.ZLIB_RUNTIME_VERSION,
        }

    @property
    def package_version(self) -> str:
        return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"
