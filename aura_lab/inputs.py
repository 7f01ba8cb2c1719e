"""The one reader for input files: every failure is an ``InputError`` that names the
file (and the line, where there is one) and the fix, never a traceback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


def read_input_file(path, kind: str, fix: str = "check the path") -> bytes:
    """The bytes of an input file. ``kind`` says what it is for: "corpus", "metadata", ..."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{kind} file not found", where=str(path), fix=fix) from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {kind} file", where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the {kind} file: {exc.strerror}", where=str(path)) from None


def _json_problem(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)  # ValueError: e.g. a number over 4300 digits


def read_json_file(path, kind: str, fix: str = "check the path"):
    """A whole JSON document (UTF-8, a byte-order mark allowed)."""
    return parse_json(read_input_file(path, kind, fix), path)


def parse_json(raw: bytes, path):
    """A whole JSON document from bytes read from ``path``."""
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 at byte {exc.start}", where=str(path), fix="save the file as UTF-8"
        ) from None
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"invalid JSON: {_json_problem(exc)}", where=f"{path}:{line}" if line else str(path)) from None


def parse_jsonl(raw: bytes, path) -> Iterator[tuple[int, object]]:
    """``(line number, value)`` for each non-blank line of JSONL bytes read from ``path``."""
    for lineno, line_bytes in enumerate(raw.splitlines(), 1):
        where = f"{path}:{lineno}"
        try:
            line = line_bytes.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not valid UTF-8 at byte {exc.start}", where=where, fix="save the file as UTF-8"
            ) from None
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise InputError(
                f"invalid JSON: {_json_problem(exc)}", where=where, fix="one JSON object per line"
            ) from None


# Where a JSONL line of the corpus format holds its text (the peer's three spellings).
TEXT_KEYS = ("message", "text", "content")


def text_field(obj: object, where: str) -> tuple[str, str]:
    """``(key, text)`` of one corpus-format JSONL object: the text under ``message``,
    ``text`` or ``content``, a non-empty string."""
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", where=where)
    key = next((k for k in TEXT_KEYS if k in obj), None)
    if key is None:
        raise InputError("no text", where=where, fix="put the text under 'message', 'text' or 'content'")
    text = obj[key]
    if not isinstance(text, str):
        raise InputError(f"{key!r} must be a string, got {type(text).__name__}", where=where)
    if not text.strip():
        raise InputError(f"{key!r} is empty", where=where, fix="remove the line or give it text")
    return key, text


def read_texts(path, kind: str, fix: str = "check the path") -> tuple[list[str], str]:
    """The texts of a corpus-format JSONL file, in file order, and the file's SHA-256."""
    raw = read_input_file(path, kind, fix)
    texts = [text_field(obj, f"{path}:{lineno}")[1] for lineno, obj in parse_jsonl(raw, path)]
    return texts, hashlib.sha256(raw).hexdigest()
