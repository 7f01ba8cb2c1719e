"""``aura-lab compare RUN_A RUN_B``: per codec and metric, A, B, the change and its 95 %
bootstrap interval over conversations; exit 1 when a judged metric's whole interval is
worse than the threshold, 2 on bad input (the runs share no codec, or, with
``--strict``, runs set up differently), 3 when no interval exists (an export on either
side: point figures only, nothing judged), 99 when a ``--check`` fails. A run is a run
folder, the peer's trace folder, or an export JSON (``analysis.run.load_run``)."""

from __future__ import annotations

import argparse
import sys

from ..analysis.checks import EXIT_CHECK_FAILED, evaluate, parse_checks, report
from ..analysis.compare_text import FORMATS
from ..analysis.comparison import compare, parse_codec_map
from ..analysis.run import RUN_FOLDER, Run, load_run, summarise_run
from ..config import BOUNDS
from ..errors import InputError

EXIT_REGRESSION = 1
EXIT_NOT_JUDGED = 3


def _load(label: str, path: str, phase: str | None) -> Run:
    try:
        run = load_run(path)
    except InputError as exc:
        raise InputError(exc.message, where=f"{label} {exc.where or path}", fix=exc.fix) from None
    if run.has_records and run.rows(phase=phase, codec=None).empty:
        raise InputError(
            f"no {phase or ''} trace records".replace("  ", " "),
            where=f"{label} {path}",
            fix="check the run folder, or pass --phase all",
        )
    if run.kind == RUN_FOLDER and run.status != "complete":  # interrupted, failed, or killed (incomplete)
        print(f"warning: {label} {path} is {run.status}: its figures cover only the records it has", file=sys.stderr)
    return run


def command(args: argparse.Namespace) -> int:
    if not 0 < args.threshold < 10:
        raise InputError(f"must be a fraction such as 0.10, got {args.threshold}", where="--threshold")
    if not 1 <= args.n_boot <= 100_000:
        raise InputError(f"must be a whole number >= 1 and <= 100000, got {args.n_boot}", where="--n-boot")
    BOUNDS["seed"].check(args.seed, "--seed")
    checks = parse_checks(args.check, compare=True)
    codec_map = parse_codec_map(args.map, where="--map")
    phase = None if args.phase == "all" else args.phase
    run_a, run_b = _load("RUN_A", args.run_a, phase), _load("RUN_B", args.run_b, phase)
    try:
        comparison = compare(
            run_a,
            run_b,
            codec_map=codec_map,
            n_boot=args.n_boot,
            seed=args.seed,
            threshold=args.threshold,
            phase=phase,
            judge_latency=args.judge_latency,
            where="--map",
        )
    except InputError as exc:
        raise InputError(exc.message, where="--phase" if exc.where == "phase" else exc.where, fix=exc.fix) from None
    differences = comparison.differences
    if args.strict and differences:
        listed = "; ".join(d.get("note") or f"{d['setting']}: A {d['a']!r}, B {d['b']!r}" for d in differences)
        raise InputError(
            f"the runs were set up differently ({listed})",
            where="--strict",
            fix="compare runs made with the same options and inputs, or leave out --strict",
        )
    for label, codecs in (("A", comparison.only_a), ("B", comparison.only_b)):
        if codecs:
            print(f"codecs only in run {label}: {', '.join(codecs)}", file=sys.stderr)
    if comparison.empty:
        raise InputError(comparison.why_empty(), where=f"{args.run_a} vs {args.run_b}")
    outcomes = []
    if checks:
        summary_b = summarise_run(run_b.traces, run_b.manifest, phase=phase) if run_b.has_records else run_b.summary
        outcomes = evaluate(checks, summary_b, regressions=comparison.regressions_by_codec())
    print(comparison.text(fmt=args.format, threshold=args.threshold, checks=[o.to_dict() for o in outcomes]))
    for line in report(outcomes):
        print(line, file=sys.stderr)
    regressions = comparison.regressions
    if regressions:
        print(f"{regressions} regression(s) beyond {args.threshold:.0%}", file=sys.stderr)
    if any(not o.passed for o in outcomes):
        return EXIT_CHECK_FAILED
    if regressions is None:
        print(
            f"not judged: no interval exists (an export holds no per-message records); exit {EXIT_NOT_JUDGED}",
            file=sys.stderr,
        )
        return EXIT_NOT_JUDGED
    return EXIT_REGRESSION if regressions else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs per codec; exit 1 on a regression",
        description="Compare run B against run A per codec and metric, with 95% bootstrap intervals over "
        "conversations (users). A metric is a regression when its whole interval is worse than --threshold "
        "(latency only with --judge-latency). The output lists every set-up difference between the runs "
        "(options, inputs, codec settings, versions, host). An export (the peer's or --export's) has no "
        "per-message records: against it the point figures are shown and nothing is judged (exit 3).",
        epilog=f"exit codes: 0 no regression; {EXIT_REGRESSION} a regression; 2 bad input, the runs share no codec, "
        f"or --strict and the runs differ in set-up; {EXIT_NOT_JUDGED} nothing judged (an export on either side: "
        f"point figures only, no interval); {EXIT_CHECK_FAILED} a --check failed; 130 interrupted",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "run_a",
        metavar="RUN_A",
        help="baseline: a run folder (data/traces/<run_id>), the peer's trace folder, or an export JSON",
    )
    parser.add_argument("run_b", metavar="RUN_B", help="the run to judge against RUN_A (same kinds)")
    parser.add_argument(
        "--map",
        "--label",
        dest="map",
        action="append",
        metavar="OLD=NEW",
        help="rename a codec label in both runs before codecs are matched, repeatable or comma-separated: the same "
        "codec under two labels (--map external=aura, --map peer=aura)",
    )
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
