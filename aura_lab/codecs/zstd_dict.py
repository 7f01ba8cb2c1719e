"""zstd per message with a dictionary trained at start from a training corpus.

The training file is JSONL, one object a line, the text under ``message``, ``text``
or ``content`` (the corpus format). It should hold other messages than the ones
measured, or the ratio flatters the dictionary. With a small training set zstd's
trainer may fail at the requested size: smaller sizes are tried, and as a last resort
the training text itself becomes a raw-content dictionary; ``info()`` says which.
"""

from __future__ import annotations

from pathlib import Path

import zstandard

from .base import Codec, CodecResult
from .training import read_training_texts, training_path

_SMALLEST_DICT = 256  # bytes; below this a trained dictionary is not worth its header


class ZstdDictCodec(Codec):
    name = "zstd-dict"
    method = "ZSTD_DICT"
    path_options = ("training",)
    package = "zstandard"

    def __init__(self, training: str | Path | None = None, dict_size: int = 16 * 1024, level: int = 3):
        if not -7 <= int(level) <= 22:
            raise ValueError(f"level must be -7..22, got {level}")
        if int(dict_size) < _SMALLEST_DICT:
            raise ValueError(f"dict_size must be at least {_SMALLEST_DICT} bytes, got {dict_size}")
        self.training_path = training_path(training)
        self.level = int(level)
        self.dict_size_requested = int(dict_size)
        texts, self.training_sha256 = read_training_texts(self.training_path)
        self.training_messages = len(texts)
        self.dictionary, self.dict_kind, self.dict_note = _build_dictionary(
            [t.encode("utf-8") for t in texts], self.dict_size_requested
        )
        # No checksum and no dictionary id in the frame: both ends know the dictionary,
        # and on chat-sized messages 4 + 4 bytes are a visible share of the output.
        self._compressor = zstandard.ZstdCompressor(
            level=self.level,
            dict_data=self.dictionary,
            write_checksum=False,
            write_dict_id=False,
            write_content_size=True,
        )
        self._decompressor = zstandard.ZstdDecompressor(dict_data=self.dictionary)

    def compress(self, text: str, state=None) -> CodecResult:
        return CodecResult(self._compressor.compress(text.encode("utf-8")), self.method)

    def decompress(self, data: bytes, state=None) -> str:
        return self._decompressor.decompress(data).decode("utf-8")

    def info(self) -> dict:
        info = {
            "level": self.level,
            "dict_size_bytes": len(self.dictionary.as_bytes()),
            "dict_size_requested": self.dict_size_requested,
            "dict_kind": self.dict_kind,
            "training_file": str(self.training_path),
            "training_sha256": self.training_sha256,
            "training_messages": self.training_messages,
        }
        if self.dict_note:
            info["note"] = self.dict_note
        return info


def _build_dictionary(
    samples: list[bytes | bytearray | memoryview], size: int
) -> tuple[zstandard.ZstdCompressionDict, str, str]:
    """Train at ``size``, halving on failure; a raw-content dictionary when all fail."""
    attempt = size
    while attempt >= _SMALLEST_DICT:
        try:
            dictionary = zstandard.train_dictionary(attempt, samples)
        except zstandard.ZstdError:
            attempt //= 2
            continue
        note = "" if attempt == size else (f"training failed at {size} bytes; trained at {attempt} bytes instead")
        return dictionary, "trained", note
    # Too little text for zstd's trainer: use the most recent text itself as the dictionary.
    content = b"\n".join(samples)[-size:]
    dictionary = zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    note = (
        f"training set too small for zstd's trainer ({len(samples)} messages); "
        f"using {len(content)} bytes of raw training text as the dictionary"
    )
    return dictionary, "raw content", note
