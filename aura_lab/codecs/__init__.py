"""Codecs by name: one file per codec, one line per codec in ``CODECS``.

>>> codec = get_codec("deflate-stream")
>>> state = codec.new_connection_state()
>>> codec.decompress(codec.compress("hello", state).data, state)
'hello'
"""

from __future__ import annotations

import importlib
import inspect

from ..errors import InputError
from .base import Codec, CodecResult

#: name -> "module:Class" (imported on first use, so a missing package only hurts its codec)
CODECS = {
    "aura": "aura:AuraCodec",
    "deflate": "deflate:DeflateCodec",
    "deflate-stream": "deflate_stream:DeflateStreamCodec",
    "zstd-dict": "zstd_dict:ZstdDictCodec",
    "brotli": "brotli_codec:BrotliCodec",
    "identity": "identity:IdentityCodec",
}

#: what to ``pip install`` when a codec's package is missing
_PIP_NAMES = {"aura_compression": "aura-compression==2.0.2", "zstandard": "zstandard", "brotli": "brotli"}

__all__ = [
    "CODECS",
    "Codec",
    "CodecResult",
    "codec_class",
    "codec_names",
    "codec_options",
    "get_codec",
    "parse_codec_spec",
]


def codec_names() -> list[str]:
    """The names of the built-in codecs, in the order ``--help`` lists them."""
    return list(CODECS)


def codec_class(name: str) -> type[Codec]:
    """The class behind a codec name, imported now."""
    if name not in CODECS:
        raise InputError(f"unknown codec {name!r}", fix=f"choose one of: {', '.join(CODECS)}")
    module_name, class_name = CODECS[name].split(":")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith(__name__):
            package = exc.name.split(".")[0]
            raise InputError(
                f"codec {name!r} needs the {package!r} package, which is not installed",
                fix=f"pip install {_PIP_NAMES.get(package, package)}",
            ) from None
        raise
    return getattr(module, class_name)


def get_codec(name: str, **options) -> Codec:
    """A ready codec; ``options`` are its constructor's keyword arguments."""
    cls = codec_class(name)
    accepted = codec_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(
            f"codec {name!r} has no option {', '.join(map(repr, unknown))}",
            fix=f"its options: {', '.join(accepted) or 'none'}",
        )
    try:
        return cls(**options)
    except ImportError as exc:
        package = (exc.name or str(exc)).split(".")[0]
        raise InputError(
            f"codec {name!r} needs the {package!r} package, which is not installed",
            fix=f"pip install {_PIP_NAMES.get(package, package)}",
        ) from None
    except ValueError as exc:
        raise InputError(f"codec {name!r}: {exc}") from None


def codec_options(name: str) -> list[str]:
    """The option names a codec accepts (its constructor's keyword arguments)."""
    return [p for p in inspect.signature(codec_class(name).__init__).parameters if p != "self"]


def parse_codec_spec(text: str) -> tuple[str, dict]:
    """``"NAME"`` or ``"NAME:"`` -> ``(name, {})``: a codec and its options, as
    ``--verify CODEC[:options]`` gives them. The options syntax (``NAME:k=v,...``) is not
    read yet; this is the one place that will read it. The name must be a known codec;
    whether its package is installed is checked when it is built (``codec_class``)."""
    name, _, options = str(text).strip().partition(":")
    if name not in CODECS:
        raise InputError(f"unknown codec {name!r}", fix=f"choose one of: {', '.join(CODECS)}")
    if options.strip():
        raise InputError(f"codec options are not supported yet, got {options!r}", fix=f"give the codec alone: {name}")
    return name, {}
