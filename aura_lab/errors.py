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


class InputError(AuraLabError, ValueError):
    """Bad input file or option value (CLI exit code 2). A ``ValueError`` too, so code
    that guards a conversion with ``except ValueError`` also catches it."""


class DataWarning(UserWarning):
    """Data that was skipped or repaired while reading (a corrupt trace part, a run whose
    process is gone). The command line prints it as one ``aura-lab: warning:`` line."""
