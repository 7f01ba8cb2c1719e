"""The one reader for input files: every failure is an ``InputError`` that names the
file (and the line, where there is one) and the fix, never a traceback."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

from .errors import InputError

# The largest input file read (bytes). Every input is read whole into memory, so a path
# to something endless (/dev/zero) or huge must fail at once, not when memory runs out.
# The environment variable raises (or lowers) it.
MAX_INPUT_BYTES_ENV = "AURA_LAB_MAX_INPUT_BYTES"
DEFAULT_MAX_INPUT_BYTES = 512 << 20
STDIN = "-"


def output_file(path: str | os.PathLike, where: str = "-o") -> str:
    """An output file's path, checked before any work: its folder exists, and it is new or
    a regular file (not a folder, else the work was done and lost at the write; not a
    device or a pipe, which the atomic write's rename would replace with a file)."""
    target = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(target)
    if os.path.isdir(target):
        raise InputError(f"{path} is a folder", where=where, fix="give a file name inside it")
    if os.path.exists(target) and not os.path.isfile(target):
        raise InputError(f"{path} is not a regular file (a device, a pipe or a socket)", where=where,
                         fix="write to a new file or over a regular one")  # fmt: skip
    if not os.path.isdir(parent):
        raise InputError(f"folder {parent} does not exist", where=where, fix="create it, or write somewhere else")
    return os.fspath(path)


def max_input_bytes() -> int:
    """The input size cap in bytes: ``AURA_LAB_MAX_INPUT_BYTES`` when set, else 512 MiB."""
    value = os.environ.get(MAX_INPUT_BYTES_ENV)
    if value is None:
        return DEFAULT_MAX_INPUT_BYTES
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise InputError(f"must be a whole number of bytes >= 1, got {value!r}", where=MAX_INPUT_BYTES_ENV)
    return number


def _too_large(kind: str, where: str, size: int | None, cap: int) -> InputError:
    said = f"{size:,} bytes" if size is not None else "more than that"
    return InputError(
        f"the {kind} file is {said}, over the {cap:,}-byte limit for input files",
        where=where,
        fix=f"use a smaller file, or raise the limit: {MAX_INPUT_BYTES_ENV}={max(cap * 2, (size or 0) + 1)}",
    )


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_input_file(path, kind: str, fix: str = "check the path", *, stdin: bool = False) -> bytes:
    """The bytes of an input file. ``kind`` says what it is for: "corpus", "metadata", ...

    Only regular files are read (``-`` is standard input when ``stdin``), up to
    ``max_input_bytes()``: a FIFO, a device or a socket is refused at once (reading one
    could block forever or never end)."""
    cap = max_input_bytes()
    if stdin and str(path) == STDIN:
        data = sys.stdin.buffer.read(cap + 1)
        if len(data) > cap:
            raise _too_large(kind, "standard input", None, cap)
        return data
    where = str(path)
    fh = open_input_file(path, kind, fix)
    try:
        size = os.fstat(fh.fileno()).st_size
        if size > cap:
            raise _too_large(kind, where, size, cap)
    except BaseException:
        fh.close()
        raise
    with fh:
        data = fh.read(cap + 1)  # a failing read is an InputError (_InputReader)
    if len(data) > cap:  # it grew while being read
        raise _too_large(kind, where, None, cap)
    return data


def lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in ``text`` (JSON's ``\\ud800`` escape without
    its pair gives one; UTF-8, and so a trace file or a WebSocket frame, cannot carry it)."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as exc:
        return exc.start


def surrogate_problem(text: str) -> str | None:
    """A one-line description of a lone surrogate in ``text``; None when there is none."""
    index = lone_surrogate(text)
    if index is None:
        return None
    return f"a lone surrogate (\\u{ord(text[index]):04x}) at character {index}, which UTF-8 cannot carry"


SURROGATE_FIX = "remove it, or write the character itself (a surrogate escape must come in a high-low pair)"


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
    problem = surrogate_problem(text)
    if problem:
        raise InputError(f"{key!r} has {problem}", where=where, fix=SURROGATE_FIX)
    return key, text


def read_texts(path, kind: str, fix: str = "check the path") -> tuple[list[str], str]:
    """The texts of a corpus-format JSONL file, in file order, and the file's SHA-256."""
    raw = read_input_file(path, kind, fix)
    texts = [text_field(obj, f"{path}:{lineno}")[1] for lineno, obj in parse_jsonl(raw, path)]
    return texts, hashlib.sha256(raw).hexdigest()


def read_template_patterns(path) -> tuple[dict[int, str], str]:
    """``({id: pattern}, SHA-256)`` of a template file: ``{id: pattern}``, a list of
    ``{id, pattern}`` (as ``GET /templates`` serves it), or either under ``"templates"``.
    Patterns are checked for form by whoever uses them (``traffic.templates``, the aura codec)."""
    raw = read_input_file(path, "template", fix="give a template JSON file: {id: pattern}")
    data = parse_json(raw, path)
    if isinstance(data, dict) and "templates" in data and isinstance(data["templates"], (dict, list)):
        data = data["templates"]
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = [(d.get("id"), d.get("pattern")) if isinstance(d, dict) else (None, None) for d in data]
    else:
        raise InputError("expected an object {id: pattern} or a list of {id, pattern}", where=str(path))
    patterns: dict[int, str] = {}
    for key, pattern in items:
        try:
            tid = int(key)  # a None id is refused just below
        except (TypeError, ValueError, OverflowError):  # OverflowError: an id of 1e400 (inf)
            raise InputError(f"template id {key!r} is not an integer", where=str(path)) from None
        if not isinstance(pattern, str) or not pattern:
            raise InputError(f"template {tid}: pattern must be a non-empty string", where=str(path))
        patterns[tid] = pattern
    return patterns, hashlib.sha256(raw).hexdigest()


# -- streaming: files too large to hold in memory ----------------------------------------

MAX_LINE_BYTES = 64 << 20  # one JSONL line, or one element of a JSON array, at most
_CHUNK = 256 << 10  # bytes read at a time: decoded text may take 4 bytes a character


def open_input_file(path, kind: str, fix: str = "check the path") -> BinaryIO:
    """An input file opened for reading in binary. Only a regular file is opened: a
    FIFO, a device or a socket is refused at once (reading one could block forever or
    never end). The streaming readers below take it whatever its size."""
    where = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"{kind} file not found", where=where, fix=fix) from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {kind} file", where=where) from None
    except OSError as exc:
        raise InputError(f"cannot read the {kind} file: {exc.strerror}", where=where, fix=fix) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"is a folder, not a {kind} file", where=where)
        for test, what in _NOT_REGULAR:
            if test(mode):
                raise InputError(
                    f"is {what}, not a regular file: aura-lab reads only regular files",
                    where=where,
                    fix=f"save the {kind} to a file first",
                )
    except BaseException:
        os.close(fd)
        raise
    return _InputReader(fd, where, kind)


class _InputReader(io.BufferedReader):
    """An open input file whose failing read is an ``InputError`` naming the file: a
    regular file can still refuse to be read (``/proc/self/mem``: EIO; a disk error)."""

    def __init__(self, fd: int, where: str, kind: str):
        super().__init__(io.FileIO(fd, "rb", closefd=True))
        self.where, self.kind = where, kind

    def read(self, size: int | None = -1) -> bytes:
        return self._guarded(super().read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._guarded(super().readline, size)

    def _guarded(self, read: Callable[[int | None], bytes], size: int | None) -> bytes:
        try:
            return read(size)
        except OSError as exc:
            raise InputError(f"cannot read the {self.kind} file: {exc.strerror or exc}", where=self.where,
                             fix=f"give a {self.kind} file saved on disk") from None  # fmt: skip


Problem = Callable[[str, str], None]  # (where, what): a bad line to count and skip


def iter_jsonl_file(path, kind: str, on_bad: Problem | None = None, digest=None) -> Iterator[tuple[int, object]]:
    """``(line number, value)`` of each non-blank line of a JSONL file, read line by
    line (memory holds one line). A bad line raises, or goes to ``on_bad`` and is
    skipped; ``digest`` (a hashlib object) sees every byte."""
    with open_input_file(path, kind) as fh:
        lineno = 0
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            lineno += 1
            if digest is not None:
                digest.update(raw)
            where = f"{path}:{lineno}"
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"a line longer than {MAX_LINE_BYTES >> 20} MiB", where=where, fix="one object a line")
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                if not line.strip():
                    continue
                value = json.loads(line)
            except UnicodeDecodeError as exc:
                problem = f"not valid UTF-8 at byte {exc.start}"
            except (ValueError, RecursionError) as exc:
                problem = f"invalid JSON: {_json_problem(exc)}"
            else:
                yield lineno, value
                continue
            if on_bad is None:
                raise InputError(problem, where=where, fix="one JSON object per line, UTF-8")
            on_bad(where, problem)


def first_character(path, kind: str) -> str:
    """The first character of a file that is not white space (or a BOM); '' when empty."""
    with open_input_file(path, kind) as fh:
        head = fh.read(4096).decode("utf-8-sig", "replace").lstrip()
    return head[:1]


def iter_json_array_file(path, kind: str, digest=None) -> Iterator[tuple[int, object]]:
    """``(line number, element)`` of each element of a file holding one JSON array,
    read a chunk at a time: memory holds one chunk and one element, whatever the
    file's size. ``json``'s own decoder reads each element (``raw_decode``), so the
    errors are its messages, with the line."""
    decoder = json.JSONDecoder()
    text_of = codecs.getincrementaldecoder("utf-8-sig")()
    with open_input_file(path, kind) as fh:
        buf, pos, eof = "", 0, False
        mark, mark_line = 0, 1  # buf[mark] is on line mark_line (counted forward only)

        def line_at(at: int) -> int:
            nonlocal mark, mark_line
            mark_line += buf.count("\n", mark, at)
            mark = at
            return mark_line

        def more(size: int = _CHUNK) -> None:
            nonlocal buf, pos, eof, mark
            raw = fh.read(size)
            eof = not raw
            if digest is not None:
                digest.update(raw)
            line_at(pos)
            try:
                buf = buf[pos:] + text_of.decode(raw, final=eof)
            except UnicodeDecodeError:
                raise InputError("not valid UTF-8", where=f"{path}:{mark_line}", fix="save the file as UTF-8") from None
            pos = mark = 0

        def skip_space() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or eof:
                    return
                more()

        def where(at: int) -> str:
            return f"{path}:{line_at(max(at, mark))}"

        more()
        skip_space()
        if buf[pos : pos + 1] != "[":
            raise InputError("expected a JSON array ([...])", where=where(pos))
        pos += 1
        first = True
        while True:
            skip_space()
            if buf[pos : pos + 1] == "]":
                return
            if not first:
                if buf[pos : pos + 1] != ",":
                    raise InputError("expected ',' or ']' between elements", where=where(pos))
                pos += 1
                skip_space()
            first = False
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    if eof:
                        raise InputError(f"invalid JSON: {exc.msg}", where=where(exc.pos)) from None
                    if len(buf) - pos > MAX_LINE_BYTES:
                        raise InputError(
                            f"an element larger than {MAX_LINE_BYTES >> 20} MiB", where=where(pos)
                        ) from None
                    more(max(_CHUNK, len(buf) - pos))  # the element goes on: read as much again
                except RecursionError:
                    raise InputError("invalid JSON: nested too deeply", where=where(pos)) from None
            yield line_at(pos), value
            pos = end
