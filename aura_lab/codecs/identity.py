"""No compression: the baseline every ratio is compared with."""

from __future__ import annotations

from .base import Codec, CodecResult


class IdentityCodec(Codec):
    name = "identity"
    method = "UNCOMPRESSED"

    def compress(self, text: str, state=None) -> CodecResult:
        return CodecResult(text.encode("utf-8"), self.method)

    def decompress(self, data: bytes, state=None) -> str:
        return data.decode("utf-8")
