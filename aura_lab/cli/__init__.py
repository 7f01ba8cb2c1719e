"""``aura-lab`` command line: one module per sub-command; library modules hold no argparse.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings

from .. import __version__
from ..errors import AuraLabError, DataWarning

# sub-command modules, in the order --help lists them
_COMMANDS = [
    "run",
    "replay",
    "experiment",
    "generate",
    "profile",
    "realism",
    "serve",
    "report",
    "compare",
    "slots",
    "doctor",
]


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad option reported on one line (not usage plus error)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aura-lab",
        description="Realistic AI-chat WebSocket traffic, embedded compression servers, analysis.",
    )
    parser.add_argument("--version", action="version", version=f"aura-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A DataWarning as one line (not Python's file:line: Category: text form)."""
    if issubclass(category, DataWarning):
        print(f"aura-lab: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Run the command line. ``argv`` None means this is the program itself: its process
    ends when ``main`` returns, so a stop signal after a run stays noted (never a
    traceback or a kill) until then, and is ignored while the interpreter exits (which
    puts back the default handlers: a late Ctrl-C killed a finished run's process
    instead of letting it exit 130). With ``argv`` given, a caller goes on afterwards:
    the signal handlers and the warning printer are put back as they were."""
    saved = None
    if argv is not None:
        saved = ({sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}, warnings.showwarning)
    warnings.showwarning = _show_warning
    try:
        return _main(argv)
    except KeyboardInterrupt:  # one that came while the command was already on its way out
        return 130
    finally:
        if saved is not None:
            handlers, warnings.showwarning = saved
            for sig, handler in handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)
        else:  # everything is written: the exit code stands
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)


def _main(argv: list[str] | None) -> int:
    try:
        # building the parser imports every sub-command and what it needs (pandas,
        # pyarrow...): a second or more in which a Ctrl-C must be one line too
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            args = parser.parse_args(["run"])  # bare `aura-lab` runs the main job
        return int(args.func(args) or 0)
    except AuraLabError as err:
        print(f"aura-lab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aura-lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
