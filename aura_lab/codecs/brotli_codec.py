"""Brotli per message at a stated quality (named so as not to shadow ``brotli``)."""

from __future__ import annotations

import brotli

from .base import Codec, CodecResult

_MODES = {"generic": brotli.MODE_GENERIC, "text": brotli.MODE_TEXT}


class BrotliCodec(Codec):
    name = "brotli"
    method = "BROTLI"
    package = "brotli"
    checked_by_building = True

    def __init__(self, quality: int = 11, mode: str = "text", lgwin: int = 22):
        # brotli.compress refuses these only when called: a server would answer every
        # message with an error, so they are refused here (and so when the spec is parsed)
        if not 0 <= int(quality) <= 11:
            raise ValueError(f"brotli quality must be 0..11, got {quality}")
        if not 10 <= int(lgwin) <= 24:
            raise ValueError(f"brotli lgwin (the window, log2 bytes) must be 10..24, got {lgwin}")
        if mode not in _MODES:
            raise ValueError(f"brotli mode must be one of {sorted(_MODES)}, got {mode!r}")
        self.quality, self.mode, self.lgwin = int(quality), mode, int(lgwin)

    def compress(self, text: str, state=None) -> CodecResult:
        data = brotli.compress(text.encode("utf-8"), mode=_MODES[self.mode], quality=self.quality, lgwin=self.lgwin)
        return CodecResult(data, self.method)

    def decompress(self, data: bytes, state=None) -> str:
        return brotli.decompress(data).decode("utf-8")

    def info(self) -> dict:
        return {"quality": self.quality, "mode": self.mode, "lgwin": self.lgwin}
