"""Where aura-lab's own files live, a scratch directory for code that writes into the
current one, and how a file is written so that no reader sees half of it.

The corpora and the template metadata live once, in the repository's top-level
``corpora/`` (the files users edit); a wheel carries them inside the package as
``aura_lab/corpora/`` (a data package mapped from ``corpora/`` in pyproject.toml), and
the report notebook is package data, so a wheel install finds them from any directory.
Run output goes to ``data/traces/`` under the current directory unless told otherwise.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _corpora_dir() -> Path:
    """The wheel's copy inside the package when there is one, else the checkout's
    top-level ``corpora/`` (an editable install or a run from the repository)."""
    packaged = PACKAGE_DIR / "corpora"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "corpora"


CORPORA_DIR = _corpora_dir()
DEFAULT_CORPUS = CORPORA_DIR / "chat.jsonl"  # the peer profile's corpus
ANSWERS_CORPUS = CORPORA_DIR / "answers.jsonl"  # long assistant answers: replies are composed from them
HUMAN_CORPUS = CORPORA_DIR / "human.jsonl"  # human questions, follow-ups and pastes
DEFAULT_METADATA = CORPORA_DIR / "metadata.json"
PEER_STYLE_METADATA = CORPORA_DIR / "metadata_peer_style.json"
DEFAULT_TRAINING = CORPORA_DIR / "zstd_training.jsonl"
REPORT_NOTEBOOK = PACKAGE_DIR / "report" / "report.ipynb"
REPORT_TEMPLATES = PACKAGE_DIR / "report" / "templates"  # nbconvert templates (aura_report)
DEFAULT_TRACE_DIR = Path("data") / "traces"


def notebooks_dir() -> Path | None:
    """The repository's ``notebooks/`` folder, when aura-lab runs from a checkout
    (an editable install); ``None`` for a wheel install, which ships only the report."""
    folder = PACKAGE_DIR.parent / "notebooks"
    return folder if folder.is_dir() else None


def repository_path(path: str | os.PathLike) -> Path:
    """A path as the notebooks take it: relative to the repository (a checkout), not to
    the folder Jupyter or papermill was started from; absolute paths stay as they are.
    Outside a checkout (a wheel install) relative to the current folder."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    root = PACKAGE_DIR.parent if notebooks_dir() is not None else Path.cwd()
    return root / path


@contextmanager
def scratch_cwd(path: str | os.PathLike | None = None) -> Iterator[Path]:
    """Run a block in a scratch working directory (a temporary one by default).

    aura-compression writes ``.aura_cache/`` and friends into the current directory,
    even for a bare ``TemplateLibrary()``: never let it touch the user's folder.
    """
    old = os.getcwd()
    tmp = None
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="aura-lab-scratch-")
        path = tmp.name
    Path(path).mkdir(parents=True, exist_ok=True)
    os.chdir(path)
    try:
        yield Path(path)
    finally:
        os.chdir(old)
        if tmp is not None:
            tmp.cleanup()


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


def file_name_part(text: str, limit: int = 100) -> str:
    """``text`` (a run id read from a file: whoever made the folder chose it) as part of a
    file name: letters, digits, ``.``, ``_`` and ``-`` only, no leading dot, so it can name
    no other folder ("x/../../PWNED" becomes "x_.._.._PWNED")."""
    return _UNSAFE_IN_NAME.sub("_", str(text))[:limit].lstrip(".") or "unnamed"


def write_atomic(path: str | os.PathLike, text: str, errors: str = "strict") -> Path:
    """Write ``text`` as UTF-8 to ``path`` through ``NAME.tmp`` and a rename: a reader
    (or the user's old file, when it is overwritten) sees the old file or the new one,
    never half of either. ``errors``: the encoder's, for text UTF-8 cannot hold. A path
    that holds something other than a regular file (a device, a pipe) is refused: the
    rename would replace it with a file (``--export /dev/full`` did, as root)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise IsADirectoryError(errno.EISDIR, "not a regular file: refusing to replace it", str(path))
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(text.encode("utf-8", errors))
        tmp.replace(path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return path
