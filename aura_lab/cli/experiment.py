"""``aura-lab experiment SPEC.toml [-o OUT] [--online] [--workers N]``: a baseline and
variants on the same traffic, and what each changes, with intervals (docs/experiments.md).
Exit 0 when it completed, 2 on a bad spec (nothing ran), 130 when interrupted (the runs
finished so far are kept)."""

from __future__ import annotations

import argparse

from ..config import BOUNDS
from ..load.experiment import run_experiment
from ..load.experiment_spec import read_spec


def command(args: argparse.Namespace) -> int:
    BOUNDS["workers"].check(args.workers, "--workers")
    if args.users is not None:
        BOUNDS["users"].check(args.users, "--users")
    spec = read_spec(args.spec)  # every mistake in the spec fails here, before any run
    run_experiment(spec, args.out, online=args.online, workers=args.workers, quiet=args.quiet, users=args.users)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "experiment",
        help="what would this change do? a baseline and variants on the same traffic, with intervals",
        description="Play the spec's baseline and each variant on the same traffic (each replicate a seed), "
        "offline unless --online, and print per variant, codec and metric the baseline's value, the variant's, "
        "the relative change and its 95% interval (bootstrapped by conversation), the claims beside what was "
        "measured, and whether a variant changed the traffic. Writes the tidy table (results.csv), the costs "
        "(costs.csv), the traffic divergence, the text table and an HTML report into the experiment folder.",
    )
    parser.add_argument("spec", metavar="SPEC.toml", help="the experiment (docs/experiments.md; experiments/*.toml)")
    parser.add_argument(
        "-o", "--out", metavar="DIR", help="experiment folder (default data/experiments/<name>-<UTC time>)"
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="through real servers (embedded, one child process per codec) instead of in-process",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Dask worker processes the runs are fanned out to (default 1: this process)",
    )
    parser.add_argument("--users", type=int, help="override every traffic's users (a quick look at a large spec)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=command)
