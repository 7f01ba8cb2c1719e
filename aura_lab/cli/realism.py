"""``aura-lab realism --reference LOGS [--profile P | RUN]``: how close a profile's
generated traffic (or a run's, or other logs') is to real conversations."""

from __future__ import annotations

import argparse

from ..analysis.realism import DEFAULT_CONVERSATIONS, format_realism, generated_conversations, realism
from ..config import BOUNDS, DEFAULT_PROFILE
from ..errors import InputError
from ..traces.logs import LogReport, read_logs
from ..traffic.profile import load_profile
from .options import number


def command(args: argparse.Namespace) -> int:
    if args.run and args.profile:
        raise InputError("give a profile or a run, not both", where="--profile")
    if not 1 <= args.conversations <= 100_000:
        raise InputError(
            f"must be a whole number >= 1 and <= 100000, got {args.conversations}", where="--conversations"
        )
    BOUNDS["seed"].check(args.seed, "--seed")
    reference = LogReport()
    from ..analysis.profiles import sizes_frame

    reference_frame = sizes_frame(read_logs(args.reference, reference))
    if reference_frame.empty:
        raise reference.nothing_read(args.reference, "--reference")
    if args.run:
        traffic_report = LogReport()
        traffic = sizes_frame(read_logs(args.run, traffic_report))
        label = "run" if len(args.run) == 1 and traffic_report.files[0]["format"] == "run" else "logs"
    else:
        profile = load_profile(args.profile or DEFAULT_PROFILE, where="--profile")
        traffic = sizes_frame(generated_conversations(profile, args.conversations, args.seed, args.corpus))
        label = f"profile {profile.name}"
    print("\n".join(["reference: " + line for line in reference.lines()]))
    print(format_realism(realism(reference_frame, traffic, label), "reference"))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "realism",
        help="how close generated (or a run's) traffic is to real logs: KS per role, size shares, verdict",
        description="Compare message sizes per role, size buckets, messages per conversation and content mix "
        "of a profile's generated traffic (default: the assistant profile) or of a run (or other logs) against "
        "reference logs.",
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
    parser.add_argument("--seed", type=number("seed"), default=1, help="seed of the generated traffic (default 1)")
    parser.add_argument("--corpus", help="corpus JSONL the generated texts come from (default: the bundled one)")
    parser.set_defaults(func=command)
