"""The one small interface every codec implements.

A codec turns one chat message (``str``) into bytes and back. Codecs that keep
history across the messages of one WebSocket connection (``deflate-stream``) return
that history from ``new_connection_state(direction)`` and receive it back in every call;
the others return ``None`` and ignore it. Sizes are UTF-8 bytes throughout.

A connection carries messages both ways: a human's from the client to the server, an
assistant's reply from the server to the client. permessage-deflate (RFC 7692) keeps one
compression context per direction, each with its own window (``client_max_window_bits``,
``server_max_window_bits``): a codec's ``context`` says which model it follows, and
``ConnectionStates`` holds a connection's contexts by direction accordingly.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any, ClassVar

CLIENT_TO_SERVER = "client-to-server"  # a human's message
SERVER_TO_CLIENT = "server-to-client"  # an assistant's reply
DIRECTIONS = (CLIENT_TO_SERVER, SERVER_TO_CLIENT)
NO_CONTEXT, PER_DIRECTION, SHARED = "none", "per-direction", "shared"
CONTEXTS = (PER_DIRECTION, SHARED)  # the values of a stateful codec's ``context`` option


@dataclass(frozen=True)
class CodecResult:
    """What ``compress`` returns: the bytes that would go on the wire and how."""

    data: bytes
    method: str  # upper-case, as the peer's replies spell it: "DEFLATE", "UNCOMPRESSED", ...
    template_id: int | str | None = None
    metadata: dict = field(default_factory=dict)


class Codec:
    """Base class: set the class attributes, implement ``compress``/``decompress``."""

    name: ClassVar[str] = ""
    method: ClassVar[str] = "UNCOMPRESSED"
    #: the distribution whose version ``package_version`` reports (None: the stdlib)
    package: ClassVar[str | None] = None
    #: True when the server may send the raw text instead of an output that grew; False
    #: when the codec's own framing is what goes on the wire whatever its size (aura).
    falls_back_on_expansion: ClassVar[bool] = True
    #: True when the codec decides itself what a short message becomes (it has its own
    #: threshold and its framing is on the wire for every message: aura); the server then
    #: hands it every message. False: below min_compression_size the text is sent as it is.
    applies_own_threshold: ClassVar[bool] = False
    #: options that name an input file: a missing file is an error when the spec is parsed,
    #: before any server starts
    path_options: ClassVar[tuple[str, ...]] = ()
    #: options the constructor takes only to refuse them with a reason (``{name: why and
    #: what to do instead}``): a clear error when the spec is parsed, never a silent no-op
    refused_options: ClassVar[dict[str, str]] = {}
    #: True when building the codec is cheap and touches nothing outside it (no file, no
    #: thread, no training): ``parse_codec`` then builds it once, so that an option its
    #: constructor refuses (``brotli:lgwin=99``) is an error before anything starts
    checked_by_building: ClassVar[bool] = False
    #: what a connection keeps between messages: ``none`` (each message alone),
    #: ``per-direction`` (one context each way, as permessage-deflate does) or ``shared``
    #: (one context for both directions: not what a WebSocket does, kept for comparison)
    context: str = NO_CONTEXT

    @property
    def package_version(self) -> str:
        if self.package is None:
            return "stdlib"
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    def new_connection_state(self, direction: str = CLIENT_TO_SERVER) -> Any:
        """The state of one direction of a connection (of the whole connection when the
        codec's ``context`` is shared; None for codecs that compress each message alone)."""
        return None

    def compress(self, text: str, state: Any = None) -> CodecResult:
        raise NotImplementedError

    def decompress(self, data: bytes, state: Any = None) -> str:
        raise NotImplementedError

    #: True when the C library's allocations go through Python's allocator, so that
    #: ``tracemalloc`` sees them (CPython's zlib module does); False when it cannot (zstd)
    native_traced: ClassVar[bool] = False

    def native_bytes(self, state: Any) -> int | None:
        """Memory a connection's state holds in a C library, in bytes, as the library
        documents it: 0 without state, None when not known."""
        return 0 if state is None else None

    def info(self) -> dict:
        """Settings that decide the output, for ``GET /health`` and benchmark reports."""
        return {}

    def templates(self) -> dict[int, str]:
        """``{id: pattern}`` for codecs that use templates (``{0}``, ``{1}`` slots), else empty."""
        return {}

    def close(self) -> None:
        """Release what the codec holds (files, threads); the default holds nothing."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.info()}>"


class ConnectionStates:
    """The contexts of one connection, made on first use: one per direction when the
    codec keeps them per direction, one for both when it shares it, none otherwise."""

    def __init__(self, codec: Codec):
        self.codec = codec
        self._states: dict[str, Any] = {}

    def __call__(self, direction: str = CLIENT_TO_SERVER) -> Any:
        if self.codec.context == NO_CONTEXT:
            return None
        key = direction if self.codec.context == PER_DIRECTION else CLIENT_TO_SERVER
        if key not in self._states:
            self._states[key] = self.codec.new_connection_state(key)
        return self._states[key]

    def held(self) -> list[Any]:
        """The contexts made so far."""
        return list(self._states.values())


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    return direction


# permessage-deflate (RFC 7692) drops the empty stored block that Z_SYNC_FLUSH ends with.
DEFLATE_TAIL = b"\x00\x00\xff\xff"


def strip_deflate_tail(data: bytes) -> bytes:
    return data[:-4] if data.endswith(DEFLATE_TAIL) else data
