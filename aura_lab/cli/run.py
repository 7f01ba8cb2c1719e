"""``aura-lab run``: the main job's command line. Bad options get one line and exit 2;
a failed ``--check`` exits 99 (``EXIT_CHECK_FAILED``), an interrupted run 130."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import textwrap

from ..analysis.checks import (
    EXIT_CHECK_FAILED,
    RUN_METRICS,
    Outcome,
    check_scopes,
    evaluate,
    parse_checks,
    report,
)
from ..codecs import codec_names
from ..config import DEFAULT_CODECS, DEFAULT_USERS, ENVELOPES, FRAMINGS, REPLAY_TIMINGS, RunConfig, parse_turns
from ..load.auto_update import with_templates_from
from ..load.runner import check_codecs, check_verify, run
from ..timing import ThinkTime
from .options import DEFAULTS, add_traffic_arguments, check_traffic_arguments, described, number

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EPILOG = "\n\n".join(
    textwrap.fill(paragraph, 88)
    for paragraph in (
        f"exit codes: 0 the run completed (and every --check held); 2 bad options or input, nothing ran; "
        f"{EXIT_FAILED} the run failed (a trace write failed: the records are kept, the manifest says why); "
        f"{EXIT_CHECK_FAILED} a --check failed (reserved for it, as k6 does for its thresholds); "
        f"{EXIT_INTERRUPTED} interrupted (traces kept).",
        "--check EXPR: [CODEC:]METRIC OP NUMBER, repeatable; unscoped checks apply to the primary codec. "
        f"OP: < <= > >= == !=. METRIC: {', '.join(RUN_METRICS)}. A check of a figure nobody measured (round "
        "trips the server does not report) fails with \"not checked\". Examples: --check 'safe_ratio>=1.2' "
        "--check 'aura:roundtrip_failures==0'.",
    )
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--users",
        type=number("users"),
        help=described("users", f"simulated users (default {DEFAULT_USERS}; a replay: one per conversation, all)"),
    )
    p.add_argument(
        "--ramp-up",
        type=number("ramp_up"),
        default=DEFAULTS.ramp_up,
        metavar="S",
        help=described("ramp_up", "seconds over which users start"),
    )
    p.add_argument(
        "--turns",
        metavar="MIN-MAX",
        help=described("turns", "messages per conversation (default: the profile's; the peer's 5-50)"),
    )
    p.add_argument(
        "--messages-per-user",
        type=number("messages_per_user"),
        metavar="N",
        help=described("messages_per_user", "fixed conversation length instead of --turns"),
    )
    p.add_argument(
        "--duration", type=number("duration"), metavar="S", help=described("duration", "stop sending after S seconds")
    )
    p.add_argument(
        "--think-time",
        default=DEFAULTS.think_time,
        metavar="SPEC",
        help=f"pause after each reply, seconds: {ThinkTime.FORMS} (default {DEFAULTS.think_time})",
    )
    p.add_argument(
        "--arrival-rate",
        type=number("arrival_rate"),
        metavar="R",
        help=described(
            "arrival_rate", "open loop: R messages per second per user on a schedule; latency counts from the schedule"
        ),
    )
    add_traffic_arguments(
        p, templates_help="template JSON file (default: learnt from the server, else AURA's installed library)"
    )
    p.add_argument(
        "--warmup-messages",
        type=number("warmup_messages"),
        default=DEFAULTS.warmup_messages,
        metavar="N",
        help=described("warmup_messages", "messages on one connection before the run; 0 = no warmup"),
    )
    p.add_argument(
        "--auto-adjust",
        dest="auto_adjust",
        action="store_true",
        default=DEFAULTS.auto_adjust,
        help="apply the warmup's findings to the main phase (raises corpus_weight when the mean ratio is low: "
        "it changes the traffic under test; recorded in the manifest). Off by default",
    )
    p.add_argument(
        "--no-auto-adjust",
        dest="auto_adjust",
        action="store_false",
        help="report warmup findings but do not change the main phase (the default)",
    )
    p.add_argument("--selection", choices=("uniform", "epsilon-greedy"), default=DEFAULTS.selection)
    p.add_argument(
        "--explore",
        type=number("explore"),
        default=DEFAULTS.explore,
        help=described("explore", "epsilon-greedy exploration share"),
    )
    p.add_argument(
        "--codec",
        default=",".join(DEFAULT_CODECS),
        metavar="A[,B...]",
        help=f"embedded codecs, the first is primary (default {','.join(DEFAULT_CODECS)})",
    )
    p.add_argument(
        "--url",
        metavar="ws://...[,ws://...]",
        help="external servers instead of embedded ones; users are spread round-robin",
    )
    p.add_argument(
        "--verify",
        metavar="CODEC[:options]",
        help="check each primary message for loss on this client with CODEC, in-process, when the server does not "
        f"report round trips (the peer's server: --verify aura); codecs: {', '.join(codec_names())}",
    )
    p.add_argument(
        "--min-compression-size",
        type=number("min_compression_size"),
        default=DEFAULTS.min_compression_size,
        metavar="BYTES",
        help=described("min_compression_size", "messages shorter than this are sent uncompressed"),
    )
    p.add_argument(
        "--timeout",
        type=number("timeout"),
        default=DEFAULTS.timeout,
        metavar="S",
        help=described("timeout", "per-message reply timeout"),
    )
    p.add_argument(
        "--max-reply-size",
        type=number("max_reply_size"),
        default=DEFAULTS.max_reply_size,
        metavar="BYTES",
        help=described("max_reply_size", "a larger reply is recorded as a bad_reply and its connection closed"),
    )
    p.add_argument("--trace-dir", default=DEFAULTS.trace_dir, help="where run folders go (default data/traces)")
    p.add_argument("--run-id", help="name of the run folder (default: UTC time and a random suffix)")
    p.add_argument("--export", metavar="FILE", help="write the peer's export JSON (extended)")
    p.add_argument("--peer-traces", metavar="DIR", help="also write the peer's per-user JSONL traces")
    p.add_argument("--debug", action="store_true", help="print the peer's debug sample lines")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary (warnings still go to stderr)")
    p.add_argument(
        "--json", action="store_true", help="print the summary as JSON on stdout; everything else goes to stderr"
    )
    p.add_argument(
        "--check",
        action="append",
        metavar="EXPR",
        help=f"a gate for CI, repeatable, e.g. 'safe_ratio>=1.2' or 'aura:roundtrip_failures==0'; "
        f"exit {EXIT_CHECK_FAILED} when one fails (see below)",
    )
    p.add_argument(
        "--workers",
        type=number("workers"),
        default=DEFAULTS.workers,
        help=described("workers", "processes for the users (Dask LocalCluster)"),
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler")
    p.add_argument("--report", action="store_true", help="render the HTML report after the run")
    p.add_argument(
        "--auto-update",
        action="store_true",
        help="after the run, mine templates from its traffic and save them beside it (mined_templates.json)",
    )
    p.add_argument(
        "--templates-from",
        metavar="RUN|FILE",
        help="load the templates a run mined (--auto-update), or a template file, into every aura codec",
    )
    add_replay_arguments(p)


def add_replay_arguments(p: argparse.ArgumentParser) -> None:
    """Replay, streamed replies and the realism reference."""
    p.add_argument(
        "--replay",
        nargs="+",
        metavar="LOGS",
        help="play these conversation logs (ShareGPT, OpenAI JSONL, the peer's traces, run folders, corpus "
        "JSONL): one user per conversation, the logged texts in order",
    )
    p.add_argument(
        "--replay-timing",
        choices=REPLAY_TIMINGS,
        default=DEFAULTS.replay_timing,
        help="pauses between a replay's messages: the think time, or the logs' own timestamps "
        "(gaps over 60 s cut to 60 s; default think)",
    )
    p.add_argument(
        "--framing",
        choices=FRAMINGS,
        default=DEFAULTS.framing,
        help="assistant replies whole (the peer's way) or streamed in frames of a few tokens (default whole)",
    )
    p.add_argument(
        "--chunk-tokens",
        type=number("chunk_tokens"),
        default=DEFAULTS.chunk_tokens,
        metavar="N",
        help=described("chunk_tokens", "tokens per streamed frame (a token ~4 characters)"),
    )
    p.add_argument(
        "--envelope",
        choices=ENVELOPES,
        default=DEFAULTS.envelope,
        help='streamed frames bare, or as {"type": "delta", "content": ...} (default none)',
    )
    p.add_argument("--resend-whole", action="store_true", help="each streamed frame carries the whole reply so far")
    p.add_argument(
        "--reference",
        nargs="+",
        metavar="LOGS",
        help="real conversation logs: the summary and report say how close the run's traffic is to them",
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        users=args.users,
        ramp_up=args.ramp_up,
        turns=parse_turns(args.turns) if args.turns else None,
        messages_per_user=args.messages_per_user,
        duration=args.duration,
        think_time=args.think_time,
        arrival_rate=args.arrival_rate,
        seed=args.seed,
        corpus=args.corpus,
        metadata=args.metadata,
        templates=args.templates,
        corpus_weight=args.corpus_weight,
        ai_ratio=args.ai_ratio,
        warmup_messages=args.warmup_messages,
        auto_adjust=args.auto_adjust,
        selection=args.selection,
        explore=args.explore,
        codecs=args.codec,
        urls=args.url,
        verify=args.verify,
        min_compression_size=args.min_compression_size,
        timeout=args.timeout,
        max_reply_size=args.max_reply_size,
        trace_dir=args.trace_dir,
        run_id=args.run_id,
        export=args.export,
        peer_traces=args.peer_traces,
        debug=args.debug,
        quiet=args.quiet,
        workers=args.workers,
        scheduler=args.scheduler,
        report=args.report,
        profile=args.profile,
        replay=tuple(args.replay) if args.replay else None,
        replay_timing=args.replay_timing,
        framing=args.framing,
        chunk_tokens=args.chunk_tokens,
        envelope=args.envelope,
        resend_whole=args.resend_whole,
        reference=tuple(args.reference) if args.reference else None,
        auto_update=args.auto_update,
        templates_from=args.templates_from,
    )


def command(args: argparse.Namespace) -> int:
    config = with_templates_from(config_from_args(args).validate(cli=True), cli=True)
    check_traffic_arguments(args)
    check_codecs(config.codecs if not config.urls else (), where="--codec")
    if config.verify is not None:
        check_verify(config.verify, where="--verify")
    checks = parse_checks(args.check)  # a typo fails now, before anything runs
    if not config.urls:
        check_scopes(checks, config.codecs)
    with _stdout_to_stderr() if args.json else contextlib.nullcontext():
        result = run(config, _exits_after=True)  # a signal after the run only waits for the last line
    outcomes = evaluate(checks, result.summary)
    if args.json:
        _print_json(result, outcomes)
    for line in report(outcomes):
        print(line, file=sys.stderr)
    if result.status == "interrupted":
        print(f"aura-lab: run interrupted; traces kept in {result.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.status == "failed":
        print(
            f"aura-lab: run failed: {result.manifest.error}; {len(result.traces)} records kept in {result.path}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if any(not o.passed for o in outcomes):
        failed = sum(not o.passed for o in outcomes)
        print(f"aura-lab: {failed} of {len(outcomes)} check(s) failed (exit {EXIT_CHECK_FAILED})", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return 0


@contextlib.contextmanager
def _stdout_to_stderr():
    """Everything written to stdout while the run goes (by this process, its threads and
    its children: file descriptor 1) goes to stderr, so stdout holds the JSON alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _finite(value):
    """NaN and infinities as null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_json(result, outcomes: list[Outcome]) -> None:
    payload = {
        "run_id": result.run_id,
        "status": result.status,
        "path": str(result.path),
        "warnings": result.manifest.warnings,
        "checks": [o.to_dict() for o in outcomes],
        **result.summary,
    }
    text = json.dumps(_finite(payload), indent=2, default=str, allow_nan=False, ensure_ascii=False)
    print(text, file=sys.stdout)
    sys.stdout.flush()


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run simulated users against servers (the main job)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=command)
