"""Training text for the codecs that learn from other messages (a dictionary, a preset).

The training file is corpus JSONL, one object a line, the text under ``message``,
``text`` or ``content``. It should hold other messages than the ones measured, or the
ratio flatters the codec: the bundled one shares no text with the bundled corpora.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..errors import InputError
from ..inputs import read_texts


def training_path(training: str | Path | None) -> Path:
    """The training file a codec uses: the given one, else the bundled one."""
    return Path(training) if training is not None else paths.DEFAULT_TRAINING


def read_training_texts(path: Path) -> tuple[list[str], str]:
    """The message texts of a corpus JSONL file, in file order, and the file's SHA-256."""
    texts, sha256 = read_texts(path, "training", fix="pass a corpus JSONL file as the codec's training=FILE")
    if not texts:
        raise InputError("no messages to train on", where=str(path))
    return texts, sha256
