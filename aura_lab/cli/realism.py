"""``aura-lab realism --reference LOGS [--profile P | RUN]``: how close a profile's
generated traffic (or a run's, or other logs') is to real conversations, in sizes and in
how it compresses."""

from __future__ import annotations

import argparse
import textwrap

from ..analysis.compressibility import DEFAULT_MEASURED
from ..analysis.realism import (
    DEFAULT_CONVERSATIONS,
    WIDTH,
    format_realism,
    generated_conversations,
    realism,
    realism_input,
)
from ..config import BOUNDS, DEFAULT_PROFILE
from ..errors import InputError
from ..traces.logs import LogReport, read_logs
from ..traffic.profile import load_profile
from .options import number


def _count(value: int, where: str) -> None:
    if not 1 <= value <= 100_000:
        raise InputError(f"must be a whole number >= 1 and <= 100000, got {value}", where=where)


def command(args: argparse.Namespace) -> int:
    if args.run and args.profile:
        raise InputError("give a profile or a run, not both", where="--profile")
    _count(args.conversations, "--conversations")
    _count(args.measure, "--measure")
    BOUNDS["seed"].check(args.seed, "--seed")
    reference = LogReport()
    reference_side = realism_input(read_logs(args.reference, reference), args.measure)
    if reference_side.frame.empty:
        raise reference.nothing_read(args.reference, "--reference")
    if args.run:
        traffic_report = LogReport()
        traffic = realism_input(read_logs(args.run, traffic_report), args.measure)
        label = "run" if len(args.run) == 1 and traffic_report.files[0]["format"] == "run" else "logs"
    else:
        profile = load_profile(args.profile or DEFAULT_PROFILE, where="--profile")
        generated = generated_conversations(profile, args.conversations, args.seed, args.corpus)
        traffic = realism_input(generated, args.measure)
        label = f"profile {profile.name}"
    for line in reference.lines():
        print("\n".join(textwrap.wrap("reference: " + line, WIDTH, subsequent_indent="  ", break_on_hyphens=False)))
    print(format_realism(realism(reference_side, traffic, label), "the reference logs"))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "realism",
        help="how close generated (or a run's) traffic is to real logs: sizes, codec ratios, verdict",
        description="Compare message sizes per role, size buckets, messages per conversation and content mix "
        "of a profile's generated traffic (default: the assistant profile) or of a run (or other logs) against "
        "reference logs, and how both compress: each codec's overall ratio through aura-lab's own codecs, "
        "with intervals by conversation, the codec ranking, history gain and reuse.",
    )
    parser.add_argument("run", nargs="*", metavar="RUN", help="a run folder (or logs) instead of a profile")
    parser.add_argument("--reference", nargs="+", required=True, metavar="LOGS", help="the real logs")
    parser.add_argument("--profile", metavar="NAME|FILE", help=f"profile to generate from (default {DEFAULT_PROFILE})")
    parser.add_argument(
        "--conversations",
        type=int,
        default=DEFAULT_CONVERSATIONS,
        metavar="N",
        help=f"conversations generated from the profile (default {DEFAULT_CONVERSATIONS})",
    )
    parser.add_argument(
        "--measure",
        type=int,
        default=DEFAULT_MEASURED,
        metavar="N",
        help=f"conversations per side whose compression is measured, a seeded sample (default {DEFAULT_MEASURED})",
    )
    parser.add_argument("--seed", type=number("seed"), default=1, help="seed of the generated traffic (default 1)")
    parser.add_argument("--corpus", help="corpus JSONL the generated texts come from (default: the bundled one)")
    parser.set_defaults(func=command)
