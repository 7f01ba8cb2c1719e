"""``aura-lab run``: the main job's command line. Bad options get one line and exit 2."""

from __future__ import annotations

import argparse
import sys

from ..config import DEFAULT_CODECS, RunConfig, parse_turns
from ..load.runner import check_codecs, run
from ..timing import ThinkTime
from .options import DEFAULTS, add_traffic_arguments, described, number


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", type=number("users"), default=DEFAULTS.users, help=described("users", "simulated users"))
    p.add_argument(
        "--ramp-up",
        type=number("ramp_up"),
        default=DEFAULTS.ramp_up,
        metavar="S",
        help=described("ramp_up", "seconds over which users start"),
    )
    p.add_argument(
        "--turns",
        default="-".join(map(str, DEFAULTS.turns)),
        metavar="MIN-MAX",
        help=described("turns", "conversation length range"),
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
        "--no-auto-adjust",
        dest="auto_adjust",
        action="store_false",
        help="report warmup findings but do not change the main phase",
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
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument(
        "--workers",
        type=number("workers"),
        default=DEFAULTS.workers,
        help=described("workers", "processes for the users (Dask LocalCluster)"),
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler")
    p.add_argument("--report", action="store_true", help="render the HTML report after the run")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        users=args.users,
        ramp_up=args.ramp_up,
        turns=parse_turns(args.turns),
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
    )


def command(args: argparse.Namespace) -> int:
    config = config_from_args(args).validate(cli=True)
    check_codecs(config.codecs if not config.urls else (), where="--codec")
    result = run(config, _exits_after=True)  # a signal after the run only waits for the last line
    if result.status == "interrupted":
        print(f"aura-lab: run interrupted; traces kept in {result.path}", file=sys.stderr)
        return 130
    if result.status == "failed":
        print(
            f"aura-lab: run failed: {result.manifest.error}; {len(result.traces)} records kept in {result.path}",
            file=sys.stderr,
        )
        return 1
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run simulated users against servers (the main job)")
    add_arguments(parser)
    parser.set_defaults(func=command)
