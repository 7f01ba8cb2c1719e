"""``aura-lab doctor RUN``: repair a run folder after a hard kill or a failed write
(manifest status and end time from the records, fallback parts moved in, unreadable
parts set aside, the summary written)."""

from __future__ import annotations

import argparse

from ..analysis.repair import repair_run


def command(args: argparse.Namespace) -> int:
    for line in repair_run(args.run, force=args.force):
        print(f"{args.run}: {line}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="repair a run folder after a hard kill or a failed write",
        description="Repair a run folder from its parts: a manifest left 'running' by a killed run becomes "
        "'incomplete' (end time from the last record, planned vs recorded messages), fallback parts move "
        "into traces/, unreadable parts are set aside, and the summary is written.",
    )
    parser.add_argument("run", metavar="RUN", help="run folder, e.g. data/traces/<run_id>")
    parser.add_argument(
        "--force",
        action="store_true",
        help="repair a run that says running when its process cannot be checked (another host, an old manifest)",
    )
    parser.set_defaults(func=command)
