"""``aura-lab compare RUN_A RUN_B``: per codec and metric, A, B, the change and its 95 %
bootstrap interval; exit 1 when a metric got worse by more than the threshold."""

from __future__ import annotations

import argparse
import sys

from ..analysis import metrics
from ..analysis.compare import compare_runs, format_comparison
from ..errors import InputError
from ..traces.folder import RunFolder
from ..traces.reader import load_traces


def command(args: argparse.Namespace) -> int:
    if not 0 < args.threshold < 10:
        raise InputError(f"must be a fraction such as 0.10, got {args.threshold}", where="--threshold")
    if not 1 <= args.n_boot <= 100_000:
        raise InputError(f"must be a whole number >= 1 and <= 100000, got {args.n_boot}", where="--n-boot")
    phase = None if args.phase == "all" else args.phase
    frames = {}
    for label, path in (("RUN_A", args.run_a), ("RUN_B", args.run_b)):
        folder = RunFolder(path)
        status = folder.read_manifest().status if folder.is_run() else "complete"
        if status != "complete":
            print(f"warning: {label} {path} is {status}: its figures cover only the records it has", file=sys.stderr)
        df = metrics.select(load_traces(path), phase=phase)
        if df.empty:
            raise InputError(
                f"no {phase or ''} trace records".replace("  ", " "),
                where=f"{label} {path}",
                fix="check the run folder, or pass --phase all",
            )
        frames[label] = df
    table = compare_runs(
        frames["RUN_A"], frames["RUN_B"], n_boot=args.n_boot, seed=args.seed, threshold=args.threshold, phase=None
    )
    codecs_a, codecs_b = (set(frames[k]["codec"].astype(str)) for k in ("RUN_A", "RUN_B"))
    for label, codecs in (("A", sorted(codecs_a - codecs_b)), ("B", sorted(codecs_b - codecs_a))):
        if codecs:
            print(f"codecs only in run {label}: {', '.join(codecs)}", file=sys.stderr)
    if table.empty:
        raise InputError("the runs share no codec", where=f"{args.run_a} vs {args.run_b}")
    print(format_comparison(table))
    regressions = table[table["regression"]]
    if len(regressions):
        print(f"{len(regressions)} regression(s) over {args.threshold:.0%}", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs per codec; exit 1 on a regression",
        description="Compare run B against run A per codec and metric; exit 1 when a metric "
        "got worse by more than --threshold, 2 on bad input.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("run_a", metavar="RUN_A", help="baseline run folder (data/traces/<run_id>)")
    parser.add_argument("run_b", metavar="RUN_B", help="run folder to judge against RUN_A")
    parser.add_argument(
        "--threshold", type=float, default=0.10, help="relative degradation that counts as a regression"
    )
    parser.add_argument("--phase", default="main", help="phase to compare: warmup, main or all")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.set_defaults(func=command)
