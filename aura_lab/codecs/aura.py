"""AURA's ``ProductionHybridCompressor`` (aura-compression 2.0.2) with the peer's settings.

The compressor writes ``.aura_cache/``, ``ml_model.json``, ``sidechain/`` and
``audit_logs/`` into the *current* directory, when it is built and again when it is
garbage-collected. It is therefore built and closed with the working directory set to
a scratch directory (``workdir``; a temporary one by default), and the file it writes
at exit is pointed there too. The server in a child process simply lives in that
directory.

Its output is what would go on the wire whatever its size (its own UNCOMPRESSED
framing adds a header), so the server never swaps it for the raw text, and it is handed
every message, short and empty ones included, as the peer's server does: the compressor
applies its own ``min_compression_size`` (a short message costs one byte more).
"""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path

from ..config import MIN_COMPRESSION_SIZE
from ..paths import scratch_cwd
from .base import Codec, CodecResult


class AuraCodec(Codec):
    name = "aura"
    method = "AURA"
    package = "aura-compression"
    falls_back_on_expansion = False
    applies_own_threshold = True  # as the peer's server: every message goes to the compressor

    def __init__(
        self,
        min_compression_size: int = MIN_COMPRESSION_SIZE,
        workdir: str | Path | None = None,
        enable_aura: bool = True,
    ):
        import aura_compression  # imported here so that a missing package is named by get_codec

        self.min_compression_size = int(min_compression_size)
        self.enable_aura = bool(enable_aura)
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="aura-lab-aura-")
            workdir = self._tmp.name
        self.workdir = Path(workdir).resolve()
        with scratch_cwd(self.workdir):
            self._compressor = aura_compression.ProductionHybridCompressor(
                enable_aura=self.enable_aura,
                enable_audit_logging=False,
                min_compression_size=self.min_compression_size,
            )
            self._templates = {
                int(tid): str(pattern) for tid, pattern in self._compressor.template_library.list_templates().items()
            }
        # Its ML selector saves ./ml_model.json when garbage-collected, wherever the
        # process is by then: pin that file to the scratch directory.
        selector = getattr(self._compressor, "_ml_selector", None)
        if selector is not None and hasattr(selector, "model_file"):
            selector.model_file = self.workdir / "ml_model.json"

    def compress(self, text: str, state=None) -> CodecResult:
        data, method, metadata = self._compressor.compress(text)
        metadata = dict(metadata or {})
        return CodecResult(
            bytes(data),
            getattr(method, "name", str(method)).upper(),
            template_id=metadata.get("template_id"),
            metadata=metadata,
        )

    def decompress(self, data: bytes, state=None) -> str:
        text = self._compressor.decompress(data)
        if isinstance(text, tuple):  # some code paths return (text, metadata)
            text = text[0]
        return text

    def info(self) -> dict:
        return {
            "enable_aura": self.enable_aura,
            "enable_audit_logging": False,
            "min_compression_size": self.min_compression_size,
            "templates": len(self._templates),
            "workdir": str(self.workdir),
        }

    def templates(self) -> dict[int, str]:
        return dict(self._templates)  # a copy the caller may change

    def close(self) -> None:
        compressor = getattr(self, "_compressor", None)
        if compressor is None:
            return
        selector = getattr(compressor, "_ml_selector", None)
        with scratch_cwd(self.workdir):
            if selector is not None and self._tmp is None:
                selector.save_model()  # a workdir the caller chose keeps the learned model
            if selector is not None and hasattr(selector, "model_file"):
                # Background threads keep the compressor alive past gc; when it is finally
                # collected (at exit) its save must not recreate the removed directory.
                selector.model_file = Path(os.devnull)
            self._compressor = None
            del compressor, selector
            gc.collect()  # finalizers that do run now run inside the scratch dir
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
