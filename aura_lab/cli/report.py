"""``aura-lab report RUN``: the HTML report of a run (a run folder, the peer's trace folder,
or an export JSON), self-contained, beside the run."""

from __future__ import annotations

import argparse

from ..inputs import output_file
from ..report.render import render_report


def command(args: argparse.Namespace) -> int:
    html = render_report(args.run, output_file(args.output) if args.output else None, args.show_code)
    print(f"report: {html}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="render the HTML report of a run")
    parser.add_argument(
        "run",
        help="run folder (data/traces/<run_id>), the peer's trace folder, or an export JSON (the peer's or --export's)",
    )
    parser.add_argument(
        "-o", "--output", help="HTML file (default: report-<run_id>.html in the run folder, or beside the export)"
    )
    parser.add_argument("--show-code", action="store_true", help="include the code cells")
    parser.set_defaults(func=command)
