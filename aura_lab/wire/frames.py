"""What a WebSocket frame adds to its payload on the wire (RFC 6455, section 5.2).

A frame's header is 2 bytes for a payload of up to 125 bytes, 4 bytes up to 65535, and
10 bytes beyond (the 7-bit length, then a 16-bit or 64-bit extended length); a frame a
client sends carries a 4-byte masking key besides. One message is one frame here (no
fragmentation), compressed or not, so a codec's saving on the wire is smaller than on
the payload, most for short messages.

Which side sends a message: a human's message goes from the client to the server
(masked); an assistant's (role ``ai``) from the server to the client. A message whose
role is not known is counted as the client's (masked), as aura-lab's load test sends it.
"""

from __future__ import annotations

import numpy as np

from ..codecs.base import CLIENT_TO_SERVER, SERVER_TO_CLIENT

MASK_BYTES = 4  # the masking key of a client-to-server frame
SERVER_ROLES = frozenset({"ai", "assistant"})  # messages a server sends: unmasked


def direction_of(role: object) -> str:
    """The direction a message of ``role`` travels in: an assistant's from the server to
    the client, every other (a human's, an unknown role's) from the client."""
    return SERVER_TO_CLIENT if str(role).lower() in SERVER_ROLES else CLIENT_TO_SERVER


def header_size(payload: int, masked: bool) -> int:
    """Bytes a frame adds to a payload of ``payload`` bytes."""
    base = 2 if payload <= 125 else 4 if payload <= 0xFFFF else 10
    return base + (MASK_BYTES if masked else 0)


def header_sizes(payloads: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """``header_size`` over arrays (NaN payloads give NaN)."""
    payloads = np.asarray(payloads, dtype=float)
    base = np.where(payloads <= 125, 2.0, np.where(payloads <= 0xFFFF, 4.0, 10.0))
    out = base + np.where(np.asarray(masked, dtype=bool), MASK_BYTES, 0)
    return np.where(np.isnan(payloads), np.nan, out)


def client_sent(roles) -> np.ndarray:
    """True for each message a client sends (masked): every role but the assistant's."""
    return np.array([str(r).lower() not in SERVER_ROLES for r in roles], dtype=bool)
