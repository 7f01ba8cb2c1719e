"""``aura-lab`` command line: one sub-command per module that owns the job.

Each owning module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a function taking the parsed arguments and returning an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import AuraLabError

# sub-command modules, in the order --help lists them
_COMMANDS = ["runner_cli", "generators", "server", "report", "compare"]


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad option reported on one line (not usage plus error)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aura-lab",
        description="Realistic AI-chat WebSocket traffic, embedded compression servers, analysis.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"aura_lab.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"aura_lab.{name}":
                continue  # that sub-command is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if args.command is None and "run" in parser._subparsers._group_actions[0].choices:
            args = parser.parse_args(["run", *(argv or [])])  # bare `aura-lab` runs the main job
        else:
            parser.print_help()
            return 2
    try:
        return int(args.func(args) or 0)
    except AuraLabError as err:
        print(f"aura-lab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aura-lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
