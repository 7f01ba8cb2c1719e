"""``aura-lab replay SOURCE --codec ...``: a run's traffic through any codecs, offline."""

from __future__ import annotations

import argparse

from ..config import DEFAULT_CODECS, MIN_COMPRESSION_SIZE, split_specs
from ..load.replay import replay


def command(args: argparse.Namespace) -> int:
    run = replay(args.source, split_specs(args.codec), trace_dir=args.trace_dir, run_id=args.run_id,
                 min_compression_size=args.min_compression_size, quiet=args.quiet)  # fmt: skip
    return 0 if run.status == "complete" else 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "replay", help="replay a run's traffic through codecs in-process (no sockets)",
        description="Replay the conversations of SOURCE (a run folder, or the peer's trace folder) through "
                    "each codec in-process, each conversation with its own connection state; the result is "
                    "an ordinary run folder.",
    )  # fmt: skip
    parser.add_argument("source", metavar="SOURCE", help="a run folder (data/traces/<run_id>) or a peer trace folder")
    parser.add_argument("--codec", default=",".join(DEFAULT_CODECS), metavar="SPEC[,SPEC...]",
                        help="codecs, the first primary; options as NAME:key=value (docs/codecs.md)")  # fmt: skip
    parser.add_argument("--min-compression-size", type=int, default=MIN_COMPRESSION_SIZE, metavar="BYTES")
    parser.add_argument("--trace-dir", default="data/traces", help="where the new run folder goes")
    parser.add_argument("--run-id", help="name of the new run folder")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=command)
