"""Where the project's own files live (the repository root of an editable install)."""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
CORPORA_DIR = PROJECT_DIR / "corpora"
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"
DEFAULT_CORPUS = CORPORA_DIR / "chat.jsonl"
DEFAULT_METADATA = CORPORA_DIR / "metadata.json"
DEFAULT_TRAINING = CORPORA_DIR / "zstd_training.jsonl"
DEFAULT_TRACE_DIR = Path("data") / "traces"
