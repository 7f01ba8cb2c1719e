"""Deflate over the whole connection: permessage-deflate with context takeover.

Each direction of a connection keeps one compressor and one matching decompressor, as
permessage-deflate (RFC 7692) negotiates them: a human's messages (client to server)
compressed with a window of ``client_max_window_bits``, the assistant's replies (server
to client) with ``server_max_window_bits``, each direction with its own history. Each
message is flushed with Z_SYNC_FLUSH and sent without its trailing ``00 00 ff ff``, so
later messages refer back to earlier ones of the same direction. Messages must be
decompressed in the order they were compressed, with the same state.

Options as ``deflate`` (``window_bits`` sets both directions' windows), plus
``client_max_window_bits`` and ``server_max_window_bits`` (9-15, 0: ``window_bits``) and
``context``: ``per-direction`` (the default, what a WebSocket does) or ``shared`` (one
history for both directions: no WebSocket compresses so, and it gains from the other
side's text; kept to compare, and named in every output by its label).

Its output is sent whatever its size: a message it has compressed is in both sides'
history, so sending the raw text instead would leave the receiver's history behind
(``falls_back_on_expansion`` is False; short messages below the threshold never touch the
history, so they go raw).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from .base import (
    CLIENT_TO_SERVER,
    CONTEXTS,
    DEFLATE_TAIL,
    PER_DIRECTION,
    SERVER_TO_CLIENT,
    SHARED,
    CodecResult,
    check_direction,
    strip_deflate_tail,
)
from .deflate import DeflateCodec


@dataclass
class DeflateStreamState:
    """One direction's compressor (the sender's) and decompressor (the receiver's)."""

    compressor: Any
    decompressor: Any
    window_bits: int = 15


class DeflateStreamCodec(DeflateCodec):
    name = "deflate-stream"
    method = "DEFLATE_STREAM"
    context_takeover = True
    falls_back_on_expansion = False
    native_traced = True  # CPython's zlib module allocates zlib's state with PyMem_RawMalloc

    def __init__(
        self,
        level: int = 6,
        window_bits: int = 15,
        mem_level: int = 8,
        client_max_window_bits: int = 0,
        server_max_window_bits: int = 0,
        context: str = PER_DIRECTION,
    ):
        super().__init__(level, window_bits, mem_level)
        if context not in CONTEXTS:
            raise ValueError(f"context must be {' or '.join(CONTEXTS)}, got {context!r}")
        self.context = context
        self.direction_bits: dict[str, int] = {}
        for direction, name, value in (
            (CLIENT_TO_SERVER, "client_max_window_bits", client_max_window_bits),
            (SERVER_TO_CLIENT, "server_max_window_bits", server_max_window_bits),
        ):
            if int(value) and not 9 <= int(value) <= 15:
                raise ValueError(f"{name} must be 9..15 (0: window_bits), got {value}")
            self.direction_bits[direction] = int(value) or self.window_bits
        if context == SHARED and len(set(self.direction_bits.values())) > 1:
            raise ValueError("context=shared keeps one history for both directions: give window_bits, not one per side")

    def new_connection_state(self, direction: str = CLIENT_TO_SERVER) -> DeflateStreamState:
        bits = self.direction_bits[check_direction(direction)]
        compressor = zlib.compressobj(self.level, zlib.DEFLATED, -bits, self.mem_level)
        return DeflateStreamState(compressor, zlib.decompressobj(-bits), bits)

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
        bits = state.window_bits
        return (1 << (bits + 2)) + (1 << (self.mem_level + 9)) + (1 << bits) + 7 * 1024

    def decompress(self, data: bytes, state: DeflateStreamState | None = None) -> str:
        state = state or self.new_connection_state()
        return state.decompressor.decompress(data + DEFLATE_TAIL).decode("utf-8")

    def info(self) -> dict:
        return {
            **super().info(),
            "context": self.context,
            "client_max_window_bits": self.direction_bits[CLIENT_TO_SERVER],
            "server_max_window_bits": self.direction_bits[SERVER_TO_CLIENT],
        }
