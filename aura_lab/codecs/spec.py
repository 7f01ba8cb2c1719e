"""Codec specs: a name and its options in one string, and codecs of the user's own.

- ``NAME`` or ``NAME:key=value,...``: a built-in codec (``CODECS``), e.g.
  ``deflate-stream:window_bits=12,mem_level=5,level=6`` or ``brotli:quality=5``.
- ``ENTRY[:key=value,...]``: a codec registered under the ``aura_lab.codecs`` entry point
  group by an installed package.
- ``package.module:Class[:key=value,...]``: a class of the user's own. The smallest one has
  ``compress(text: str) -> bytes`` and ``decompress(data: bytes) -> str``; it may also
  have ``new_connection_state()`` (then ``compress(text, state)`` and ``decompress(data,
  state)``; a connection keeps one state per direction, and ``new_connection_state(direction)``
  is told which when it takes an argument), ``method``, ``info()`` and ``close()``. A
  subclass of ``Codec`` is used as it is.

Options are the constructor's keyword arguments; each value is converted to the type of
the argument's default (int, float, bool, str). An unknown codec or option, or a value of
the wrong type, is an ``InputError`` that names the spec and lists what is accepted.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import CLIENT_TO_SERVER, NO_CONTEXT, PER_DIRECTION, SHARED, Codec, CodecResult

#: name -> "module:Class" (imported on first use, so a missing package only hurts its codec)
CODECS = {
    "aura": "aura:AuraCodec",
    "deflate": "deflate:DeflateCodec",
    "deflate-stream": "deflate_stream:DeflateStreamCodec",
    "deflate-dict": "deflate_dict:DeflateDictCodec",
    "zstd-dict": "zstd_dict:ZstdDictCodec",
    "zstd-stream": "zstd_stream:ZstdStreamCodec",
    "brotli": "brotli_codec:BrotliCodec",
    "identity": "identity:IdentityCodec",
}
ENTRY_POINT_GROUP = "aura_lab.codecs"

#: what to ``pip install`` when a codec's package is missing
_PIP_NAMES = {"aura_compression": "aura-compression==2.0.2", "zstandard": "zstandard", "brotli": "brotli"}


def codec_names() -> list[str]:
    """The names of the built-in codecs, in the order ``--help`` lists them."""
    return list(CODECS)


def _import(module_name: str, codec: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        package = (exc.name or module_name).split(".")[0]
        if exc.name and module_name.startswith(exc.name):  # the codec's own module is missing
            raise InputError(f"codec {codec!r}: no module named {exc.name!r}",
                             fix="check the spelling, or put its folder on PYTHONPATH") from None  # fmt: skip
        raise InputError(f"codec {codec!r} needs the {package!r} package, which is not installed",
                         fix=f"pip install {_PIP_NAMES.get(package, package)}") from None  # fmt: skip


def codec_class(name: str) -> type[Codec]:
    """The class behind a built-in codec name, imported now."""
    if name not in CODECS:
        raise InputError(f"unknown codec {name!r}", fix=f"choose one of: {', '.join(CODECS)}, "
                         "or give package.module:Class for a codec of your own")  # fmt: skip
    module_name, class_name = CODECS[name].split(":")
    return getattr(_import(f"{__package__}.{module_name}", name), class_name)


@dataclass(frozen=True)
class CodecSpec:
    """A parsed spec: what to build and with which options (already converted)."""

    text: str  # as given: the codec's label in traces and reports
    name: str  # the built-in name, the entry point name or ``module:Class``
    factory: type[Codec]
    options: dict[str, Any] = field(default_factory=dict)

    def accepted(self) -> dict[str, inspect.Parameter]:
        """The constructor's keyword arguments, by name."""
        init = self.factory.__dict__.get("__init__") or self.factory.__init__
        return {n: p for n, p in inspect.signature(init).parameters.items()
                if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}  # fmt: skip

    def defaults(self, **values: Any) -> dict[str, Any]:
        """The ``values`` this codec takes and its spec does not set: a server's threshold
        and scratch dir go to the codecs that accept them (``aura:min_compression_size=50``
        keeps its own)."""
        accepted = self.accepted()
        return {k: v for k, v in values.items() if k in accepted and k not in self.options and v is not None}

    def build(self, **extra: Any) -> Codec:
        """The codec, with the spec's options and ``extra`` (which win)."""
        unknown = sorted(set(extra) - set(self.accepted()))
        if unknown:
            raise InputError(f"codec {self.text!r} has no option {', '.join(map(repr, unknown))}",
                             fix=f"its options: {', '.join(self.accepted()) or 'none'}")  # fmt: skip
        try:
            return self.factory(**{**self.options, **extra})
        except ImportError as exc:
            package = (exc.name or str(exc)).split(".")[0]
            raise InputError(f"codec {self.text!r} needs the {package!r} package, which is not installed",
                             fix=f"pip install {_PIP_NAMES.get(package, package)}") from None  # fmt: skip
        except (ValueError, TypeError) as exc:
            raise InputError(f"codec {self.text!r}: {exc}") from None


def parse_codec(text: str) -> CodecSpec:
    """The codec a spec names, with its options checked and converted."""
    spec = str(text).strip()
    head, _, rest = spec.partition(":")
    plugins = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if head in CODECS:
        name, factory, option_text = head, codec_class(head), rest
    elif head in plugins:
        name, factory, option_text = head, as_codec_class(plugins[head].load(), head), rest
    elif "." in head or rest[:1].isupper():  # package.module:Class[:options]
        class_name, _, option_text = rest.partition(":")
        if not class_name.isidentifier():
            raise InputError(f"codec {spec!r}: expected package.module:Class", fix="e.g. mycodecs.fast:FastCodec")
        module = _import(head, spec)
        if not hasattr(module, class_name):
            raise InputError(f"codec {spec!r}: module {head!r} has no {class_name!r}")
        name = f"{head}:{class_name}"
        factory = as_codec_class(getattr(module, class_name), name)
    else:
        codec_class(head)  # raises the clear "unknown codec" error
        raise AssertionError  # pragma: no cover
    partial = CodecSpec(spec, name, factory)
    parsed = CodecSpec(spec, name, factory, parse_options(option_text, partial))
    if getattr(factory, "checked_by_building", False):
        parsed.build().close()  # its constructor's checks, now: InputError naming the spec
    return parsed


def parse_options(text: str, spec: CodecSpec) -> dict[str, Any]:
    """``key=value,...`` checked against the constructor and converted to its defaults' types."""
    accepted = spec.accepted()
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"codec {spec.text!r}: expected key=value, got {item!r}",
                             fix=f"its options: {', '.join(accepted) or 'none'}")  # fmt: skip
        if key in spec.factory.refused_options:
            raise InputError(f"codec {spec.text!r}: option {key!r} is refused: {spec.factory.refused_options[key]}")
        if key not in accepted:
            raise InputError(f"codec {spec.text!r} has no option {key!r}",
                             fix=f"its options: {', '.join(accepted) or 'none'}")  # fmt: skip
        if key in options:
            raise InputError(f"codec {spec.text!r} sets {key!r} twice")
        options[key] = _convert(value.strip(), accepted[key], spec.text, key)
        if key in spec.factory.path_options and not Path(options[key]).is_file():
            raise InputError(f"codec {spec.text!r}: {key} file {options[key]!r} not found",
                             fix="give the path of an existing file (relative to the current folder)")  # fmt: skip
    return options


def _convert(value: str, parameter: inspect.Parameter, spec: str, key: str) -> Any:
    default = parameter.default
    kind = type(default) if default not in (inspect.Parameter.empty, None) else str
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
    except ValueError:
        raise InputError(f"codec {spec!r}: option {key!r} must be {kind.__name__}, got {value!r}") from None
    return value


def as_codec_class(obj: Any, name: str) -> type[Codec]:
    """A ``Codec`` subclass as it is; any other class with ``compress``/``decompress``
    wrapped so that the server and the offline replay can use it."""
    if inspect.isclass(obj) and issubclass(obj, Codec):
        return obj
    if not (inspect.isclass(obj) and callable(getattr(obj, "compress", None))
            and callable(getattr(obj, "decompress", None))):  # fmt: skip
        raise InputError(f"codec {name!r} is not a class with compress(text) -> bytes and decompress(data) -> str")
    return type(f"{obj.__name__}Plugin", (PluginCodec,), {
        "name": name, "method": str(getattr(obj, "method", obj.__name__)).upper(), "inner_class": obj,
        "__init__": _plugin_init(obj),
    })  # fmt: skip


def _plugin_init(inner_class: type):
    def __init__(self, **options: Any) -> None:
        PluginCodec.__init__(self, inner_class(**options))

    __init__.__signature__ = inspect.signature(inner_class)  # type: ignore[attr-defined]
    return __init__


class PluginCodec(Codec):
    """A codec of the user's own, behind the ``Codec`` interface."""

    inner_class: type

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        make = getattr(inner, "new_connection_state", None)
        self._stateful = callable(make)
        self._told_direction = self._stateful and _takes_an_argument(make)
        self.context = PER_DIRECTION if self._stateful else NO_CONTEXT

    def new_connection_state(self, direction: str = CLIENT_TO_SERVER) -> Any:
        if not self._stateful:
            return None
        return self.inner.new_connection_state(direction) if self._told_direction else self.inner.new_connection_state()

    def compress(self, text: str, state: Any = None) -> CodecResult:
        data = self.inner.compress(text, state) if self._stateful else self.inner.compress(text)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{self.name}.compress returned {type(data).__name__}, not bytes")
        return CodecResult(bytes(data), self.method)

    def decompress(self, data: bytes, state: Any = None) -> str:
        return self.inner.decompress(data, state) if self._stateful else self.inner.decompress(data)

    def info(self) -> dict:
        info = getattr(self.inner, "info", None)
        return dict(info()) if callable(info) else {"plugin": self.inner_class.__qualname__}

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def shared_context_note(specs: Iterable[str]) -> str | None:
    """The note a run or replay carries when a codec keeps one context for both
    directions (``context=shared``): its figures gain from the other side's text, which
    no WebSocket's compression can use."""
    shared = [spec for spec in specs if parse_codec(spec).options.get("context") == SHARED]
    if not shared:
        return None
    return (
        f"{', '.join(shared)}: one compression context for both directions (context=shared), where "
        "permessage-deflate keeps one per direction; its ratio gains from the other side's text"
    )


def _takes_an_argument(function: Any) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters)
