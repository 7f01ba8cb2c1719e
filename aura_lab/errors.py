"""The package's own error type: every bad input ends here, with a location and a fix."""
from __future__ import annotations


class AuraLabError(Exception):
    """A user-facing error. ``str(err)`` is one line: ``where: what is wrong (fix)``."""

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        self.where = where
        self.message = message
        self.fix = fix
        text = f"{where}: {message}" if where else message
        if fix:
            text = f"{text} ({fix})"
        super().__init__(text)


class InputError(AuraLabError):
    """Bad input file or option value (CLI exit code 2)."""


def read_input_file(path, kind: str, fix: str = "check the path") -> bytes:
    """The bytes of an input file, or an ``InputError`` naming it (missing, a folder,
    unreadable). ``kind`` says what the file is for: "corpus", "metadata", ..."""
    from pathlib import Path

    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{kind} file not found", where=str(path), fix=fix) from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {kind} file", where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the {kind} file: {exc.strerror}", where=str(path)) from None
