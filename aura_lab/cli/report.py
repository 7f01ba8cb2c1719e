"""``aura-lab report RUN``: the HTML report of a run, self-contained, beside the run."""

from __future__ import annotations

import argparse

from ..report.render import render_report


def command(args: argparse.Namespace) -> int:
    html = render_report(args.run, args.output, args.show_code)
    print(f"report: {html}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="render the HTML report of a run")
    parser.add_argument("run", help="run folder, e.g. data/traces/<run_id>")
    parser.add_argument("-o", "--output", help="HTML file (default: report-<run_id>.html in the run folder)")
    parser.add_argument("--show-code", action="store_true", help="include the code cells")
    parser.set_defaults(func=command)
