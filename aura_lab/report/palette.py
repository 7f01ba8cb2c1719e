"""One colour per codec and one per method, the same in every chart; how a lossy codec
is marked wherever its ratio is drawn (with the words of ``analysis.text``, so tables and
charts say the same).

The colours are the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies) for the codecs aura-lab ships, then tab20 for any other name, picked by
a stable hash of the name, so an unknown codec or method also keeps its colour from one
chart (and one run) to the next.
"""

from __future__ import annotations

import zlib

from ..analysis.text import LOSSY_SUFFIX, loss_mark

CODEC_COLOURS = {
    "aura": "#D55E00",  # vermillion
    "deflate-stream": "#0072B2",  # blue
    "zstd-dict": "#009E73",  # bluish green
    "deflate": "#56B4E9",  # sky blue
    "brotli": "#CC79A7",  # reddish purple
    "zstd-stream": "#9467bd",  # purple (tab20): zstd's stream beside zstd-dict
    "deflate-dict": "#8c564b",  # brown (tab20)
    "identity": "#7F7F7F",  # grey: no compression
    "external": "#E69F00",  # orange: a server from --url
    "peer": "#E69F00",  # the peer's traces
}
METHOD_COLOURS = {
    "UNCOMPRESSED": "#BBBBBB",  # grey everywhere: sent as it is
    "BINARY_SEMANTIC": "#D55E00",
    "AURALITE": "#F0E442",
    "AURA": "#E69F00",
    "DEFLATE": "#56B4E9",
    "DEFLATE_STREAM": "#0072B2",
    "ZSTD_DICT": "#009E73",
    "BROTLI": "#CC79A7",
    "IDENTITY": "#7F7F7F",
    "BRIO": "#882255",
}
ROLE_COLOURS = {"ai": "#0072B2", "human": "#E69F00"}
_SPARE = [
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
    "#8c564b",
    "#c49c94",
    "#e377c2",
    "#f7b6d2",
    "#bcbd22",
    "#dbdb8d",
    "#17becf",
    "#9edae5",
]  # fmt: skip - tab20 without its greys (grey means "no compression" here)

LOSSY_HATCH = "///"
LOSSY_LEGEND = f"hatched: {LOSSY_SUFFIX} (lost messages; its ratio counts them)"


def _spare(name: str) -> str:
    return _SPARE[zlib.crc32(name.encode("utf-8")) % len(_SPARE)]


def codec_colour(name: str) -> str:
    """The colour of a codec in every chart."""
    return CODEC_COLOURS.get(str(name), _spare(f"codec:{name}"))


def method_colour(name: str) -> str:
    """The colour of a compression method (upper-case) in every chart."""
    return METHOD_COLOURS.get(str(name).upper(), _spare(f"method:{str(name).upper()}"))


def codec_tick(name: str, lossy: bool, status: str = "checked", sep: str = " ") -> str:
    """A codec's label on a chart's axis or legend (``analysis.text.loss_mark``):
    ``status`` is ``metrics.loss``'s ("checked", "partly checked", "not checked");
    ``sep`` "\n" puts the mark under the name (side-by-side ticks)."""
    mark = loss_mark(lossy, status)
    return f"{name}{sep}{mark}" if mark else name
