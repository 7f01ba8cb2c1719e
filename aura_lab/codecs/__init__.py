"""Codecs by name: one file per codec, one line per codec in ``CODECS``, and any codec of
the user's own (``aura_lab.codecs.spec``).

A codec is named by a *spec*: ``NAME`` or ``NAME:key=value,...`` for a built-in
(``deflate-stream:window_bits=12,level=6``), ``package.module:Class[:key=value,...]`` for
a class of the user's own, or the name of an ``aura_lab.codecs`` entry point.

>>> codec = get_codec("deflate-stream")
>>> state = codec.new_connection_state()
>>> codec.decompress(codec.compress("hello", state).data, state)
'hello'
"""

from __future__ import annotations

from typing import Any

from .base import Codec, CodecResult
from .spec import CODECS, CodecSpec, codec_class, codec_names, parse_codec

__all__ = [
    "CODECS",
    "Codec",
    "CodecResult",
    "CodecSpec",
    "codec_class",
    "codec_names",
    "codec_options",
    "get_codec",
    "parse_codec",
]


def get_codec(spec: str, **options: Any) -> Codec:
    """A ready codec from its spec; ``options`` (keyword arguments of its constructor)
    are added to those the spec names, and win over them."""
    return parse_codec(spec).build(**options)


def codec_options(spec: str) -> list[str]:
    """The option names a codec accepts (its constructor's keyword arguments)."""
    return list(parse_codec(spec).accepted())
