"""``aura-lab replay SOURCE... --codec ...``: traffic through any codecs, offline."""

from __future__ import annotations

import argparse
import sys

from ..config import DEFAULT_CODECS, DEFAULT_USERS, MIN_COMPRESSION_SIZE, RunConfig, split_specs
from ..errors import InputError
from ..load.replay import replay
from ..traffic.profile import BUILT_IN, load_profile
from .options import DEFAULTS, described, number
from .run import EXIT_INTERRUPTED


def command(args: argparse.Namespace) -> int:
    if bool(args.source) == bool(args.profile):
        raise InputError(
            "give SOURCE or --profile, not both" if args.profile else "give SOURCE or --profile",
            where="--profile" if args.profile else "SOURCE",
            fix="a run folder, conversation logs, or --profile assistant --seed 1 --users 20",
        )
    # the ranges checked here so that errors name the flags
    RunConfig(users=args.users, seed=args.seed, min_compression_size=args.min_compression_size,
              run_id=args.run_id, offline=True).validate(cli=True)  # fmt: skip
    if args.profile:
        load_profile(args.profile, where="--profile")
    run = replay(args.source or None, split_specs(args.codec), profile=args.profile, users=args.users,
                 seed=args.seed, trace_dir=args.trace_dir, run_id=args.run_id,
                 min_compression_size=args.min_compression_size, quiet=args.quiet, _exits_after=True)  # fmt: skip
    if run.status == "interrupted":
        print(f"aura-lab: replay interrupted; traces kept in {run.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if run.status == "failed":
        print(f"aura-lab: replay failed: {run.manifest.error}; records kept in {run.path}", file=sys.stderr)
    return 0 if run.status == "complete" else 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "replay", help="replay traffic (a run, logs, or a profile) through codecs in-process (no sockets)",
        description="Replay the conversations of SOURCE (a run folder, the peer's trace folder, or conversation "
                    "logs: ShareGPT, OpenAI chat, corpus JSONL) or the traffic of --profile (for --users users "
                    "from --seed) through each codec in-process, each conversation with its own connection "
                    "state; the result is an ordinary run folder.",
    )  # fmt: skip
    parser.add_argument("source", metavar="SOURCE", nargs="*",
                        help="a run folder (data/traces/<run_id>), a peer trace folder, or log files")  # fmt: skip
    parser.add_argument("--profile", metavar="NAME|FILE",
                        help=f"instead of SOURCE: a traffic profile's generated traffic ({', '.join(BUILT_IN)}, "
                             "or a JSON file made by aura-lab profile)")  # fmt: skip
    parser.add_argument("--users", type=number("users"),
                        help=described("users", f"users of --profile (default {DEFAULT_USERS}); for SOURCE, "
                                                "at most this many conversations (default all)"))  # fmt: skip
    parser.add_argument(
        "--seed", type=number("seed"), default=DEFAULTS.seed, help=described("seed", "seed of --profile")
    )
    parser.add_argument("--codec", default=",".join(DEFAULT_CODECS), metavar="SPEC[,SPEC...]",
                        help="codecs, the first primary; options as NAME:key=value (docs/codecs.md)")  # fmt: skip
    parser.add_argument("--min-compression-size", type=number("min_compression_size"), default=MIN_COMPRESSION_SIZE,
                        metavar="BYTES")  # fmt: skip
    parser.add_argument("--trace-dir", default="data/traces", help="where the new run folder goes")
    parser.add_argument("--run-id", help="name of the new run folder")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=command)
