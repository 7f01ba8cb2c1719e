"""An example codec of your own: LZMA (xz's compressor) per message, raw, no container.

Use it with any aura-lab command that takes a codec, from the folder holding this file
(or with the folder on PYTHONPATH)::

    aura-lab run --codec aura,lzma_codec:LzmaCodec:preset=6
    aura-lab serve --codec lzma_codec:LzmaCodec

The smallest codec is a class with ``compress(text) -> bytes`` and ``decompress(data) ->
str``. Options are the constructor's keyword arguments (``preset`` here): aura-lab
converts ``preset=6`` to the type of the default. Optional: ``method`` (the name replies
report), ``info()`` (settings shown in ``/health``), ``close()``, and
``new_connection_state()`` for a codec that keeps history per connection (then
``compress(text, state)`` and ``decompress(data, state)``).
"""

from __future__ import annotations

import lzma


class LzmaCodec:
    method = "LZMA"

    def __init__(self, preset: int = 6):
        if not 0 <= preset <= 9:
            raise ValueError(f"preset must be 0..9, got {preset}")
        self.filters = [{"id": lzma.FILTER_LZMA2, "preset": preset}]
        self.preset = preset

    def compress(self, text: str) -> bytes:
        return lzma.compress(text.encode("utf-8"), format=lzma.FORMAT_RAW, filters=self.filters)

    def decompress(self, data: bytes) -> str:
        return lzma.decompress(data, format=lzma.FORMAT_RAW, filters=self.filters).decode("utf-8")

    def info(self) -> dict:
        return {"preset": self.preset}
