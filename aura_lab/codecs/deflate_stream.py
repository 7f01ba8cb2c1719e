"""Deflate over the whole connection: permessage-deflate with context takeover.

One compressor and one matching decompressor per connection; each message is flushed
with Z_SYNC_FLUSH and sent without its trailing ``00 00 ff ff``, so later messages can
refer back to earlier ones (the window). Messages must be decompressed in the order they
were compressed, with the same connection state. Options as ``deflate``.

Its output is sent whatever its size: a message it has compressed is in both sides'
history, so sending the raw text instead would leave the receiver's history behind
(``falls_back_on_expansion`` is False; short messages below the threshold never touch the
history, so they go raw).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from .base import DEFLATE_TAIL, CodecResult, strip_deflate_tail
from .deflate import DeflateCodec


@dataclass
class DeflateStreamState:
    """The two halves of one connection: the sender's compressor, the receiver's decompressor."""

    compressor: Any
    decompressor: Any


class DeflateStreamCodec(DeflateCodec):
    name = "deflate-stream"
    method = "DEFLATE_STREAM"
    context_takeover = True
    falls_back_on_expansion = False
    native_traced = True  # CPython's zlib module allocates zlib's state with PyMem_RawMalloc

    def new_connection_state(self) -> DeflateStreamState:
        return DeflateStreamState(self.compressor(), self.decompressor())

    def compress(self, text: str, state: DeflateStreamState | None = None) -> CodecResult:
        state = state or self.new_connection_state()  # no state: a one-message connection
        data = state.compressor.compress(text.encode("utf-8"))
        data += state.compressor.flush(zlib.Z_SYNC_FLUSH)
        return CodecResult(strip_deflate_tail(data), self.method)

    def native_bytes(self, state: DeflateStreamState | None) -> int | None:
        """zlib's documented sizes (zconf.h): deflate ``2^(windowBits+2) + 2^(memLevel+9)``,
        inflate ``2^windowBits`` plus about 7 KiB of small objects."""
        if state is None:
            return 0
        bits = abs(self.window_bits)
        return (1 << (bits + 2)) + (1 << (self.mem_level + 9)) + (1 << bits) + 7 * 1024

    def decompress(self, data: bytes, state: DeflateStreamState | None = None) -> str:
        state = state or self.new_connection_state()
        return state.decompressor.decompress(data + DEFLATE_TAIL).decode("utf-8")
