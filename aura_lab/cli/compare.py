"""``aura-lab compare RUN_A RUN_B``: per codec and metric, A, B, the change and its 95 %
bootstrap interval over conversations; exit 1 when a judged metric's whole interval is
worse than the threshold, 2 on bad input (or, with ``--strict``, runs set up
differently), 99 when a ``--check`` fails."""

from __future__ import annotations

import argparse
import sys

from ..analysis import metrics
from ..analysis.checks import EXIT_CHECK_FAILED, evaluate, parse_checks, report
from ..analysis.compare import compare_runs, regressions_by_codec
from ..analysis.compare_text import FORMATS, format_comparison
from ..analysis.run import summarise_run
from ..analysis.setups import setup_differences
from ..analysis.summary import summarise
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder
from ..traces.reader import load_traces

EXIT_REGRESSION = 1


def _manifest(path: str) -> Manifest | None:
    folder = RunFolder(path)
    return folder.read_manifest() if folder.is_run() else None


def command(args: argparse.Namespace) -> int:
    if not 0 < args.threshold < 10:
        raise InputError(f"must be a fraction such as 0.10, got {args.threshold}", where="--threshold")
    if not 1 <= args.n_boot <= 100_000:
        raise InputError(f"must be a whole number >= 1 and <= 100000, got {args.n_boot}", where="--n-boot")
    checks = parse_checks(args.check, compare=True)
    phase = None if args.phase == "all" else args.phase
    frames, manifests = {}, {}
    for label, path in (("RUN_A", args.run_a), ("RUN_B", args.run_b)):
        df = metrics.select(load_traces(path), phase=phase)
        if df.empty:
            raise InputError(
                f"no {phase or ''} trace records".replace("  ", " "),
                where=f"{label} {path}",
                fix="check the run folder, or pass --phase all",
            )
        frames[label], manifests[label] = df, _manifest(path)
    differences = setup_differences(manifests["RUN_A"], manifests["RUN_B"])
    if args.strict and differences:
        listed = "; ".join(d.get("note") or f"{d['setting']}: A {d['a']!r}, B {d['b']!r}" for d in differences)
        raise InputError(
            f"the runs were set up differently ({listed})",
            where="--strict",
            fix="compare runs made with the same options and inputs, or leave out --strict",
        )
    table = compare_runs(
        frames["RUN_A"],
        frames["RUN_B"],
        n_boot=args.n_boot,
        seed=args.seed,
        threshold=args.threshold,
        phase=None,
        judge_latency=args.judge_latency,
    )
    codecs_a, codecs_b = (set(frames[k]["codec"].astype(str)) for k in ("RUN_A", "RUN_B"))
    for label, codecs in (("A", sorted(codecs_a - codecs_b)), ("B", sorted(codecs_b - codecs_a))):
        if codecs:
            print(f"codecs only in run {label}: {', '.join(codecs)}", file=sys.stderr)
    if table.empty:
        raise InputError("the runs share no codec", where=f"{args.run_a} vs {args.run_b}")
    outcomes = []
    if checks:
        manifest_b = manifests["RUN_B"]
        summary_b = (
            summarise_run(frames["RUN_B"], manifest_b, phase=phase)
            if manifest_b
            else summarise(frames["RUN_B"], phase=phase)
        )
        outcomes = evaluate(checks, summary_b, regressions=regressions_by_codec(table))
    print(
        format_comparison(
            table,
            fmt=args.format,
            labels=(str(args.run_a), str(args.run_b)),
            differences=differences,
            threshold=args.threshold,
            checks=[o.to_dict() for o in outcomes],
        )
    )
    for line in report(outcomes):
        print(line, file=sys.stderr)
    regressions = int(table["regression"].sum())
    if regressions:
        print(f"{regressions} regression(s) beyond {args.threshold:.0%}", file=sys.stderr)
    if any(not o.passed for o in outcomes):
        return EXIT_CHECK_FAILED
    return EXIT_REGRESSION if regressions else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs per codec; exit 1 on a regression",
        description="Compare run B against run A per codec and metric, with 95%% bootstrap intervals over "
        "conversations (users). A metric is a regression when its whole interval is worse than --threshold "
        "(latency only with --judge-latency). The output lists every set-up difference between the runs "
        "(options, inputs, codec settings, versions, host).",
        epilog=f"exit codes: 0 no regression; {EXIT_REGRESSION} a regression; 2 bad input, or --strict and the runs "
        f"differ in set-up; {EXIT_CHECK_FAILED} a --check failed; 130 interrupted",
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
    parser.add_argument("--format", choices=FORMATS, default="text", help="text, json, or markdown (a PR comment)")
    parser.add_argument(
        "--judge-latency",
        action="store_true",
        help="count latency regressions too (off: an interval over conversations cannot see the machine's load "
        "when each run was made; latency rows are shown either way)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="refuse (exit 2) runs whose set-up differs, listing the differences"
    )
    parser.add_argument(
        "--check",
        action="append",
        metavar="EXPR",
        help=f"a gate on run B, repeatable: [CODEC:]METRIC OP NUMBER, e.g. 'safe_ratio>=1.2', 'regressions==0'; "
        f"exit {EXIT_CHECK_FAILED} when one fails",
    )
    parser.set_defaults(func=command)
