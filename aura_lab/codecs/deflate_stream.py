"""Deflate over the whole connection: permessage-deflate with context takeover.

One compressor and one matching decompressor per connection; each message is flushed
with Z_SYNC_FLUSH and sent without its trailing ``00 00 ff ff``, so later messages can
refer back to earlier ones (the 32 KiB window). Messages must be decompressed in the
order they were compressed, with the same connection state.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from .base import DEFLATE_TAIL, CodecResult, strip_deflate_tail
from .deflate import DeflateCodec


@dataclass
class DeflateStreamState:
    """The two halves of one connection: the sender's compressor, the receiver's decompressor."""

    level: int = 6
    compressor: zlib._Compress = field(init=False)
    decompressor: zlib._Decompress = field(init=False)

    def __post_init__(self):
        self.compressor = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        self.decompressor = zlib.decompressobj(-15)


class DeflateStreamCodec(DeflateCodec):
    name = "deflate-stream"
    method = "DEFLATE_STREAM"
    context_takeover = True

    def new_connection_state(self) -> DeflateStreamState:
        return DeflateStreamState(self.level)

    def compress(self, text: str, state: DeflateStreamState | None = None) -> CodecResult:
        state = state or self.new_connection_state()  # no state: a one-message connection
        data = state.compressor.compress(text.encode("utf-8"))
        data += state.compressor.flush(zlib.Z_SYNC_FLUSH)
        return CodecResult(strip_deflate_tail(data), self.method)

    def decompress(self, data: bytes, state: DeflateStreamState | None = None) -> str:
        state = state or self.new_connection_state()
        return state.decompressor.decompress(data + DEFLATE_TAIL).decode("utf-8")
