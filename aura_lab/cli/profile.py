"""``aura-lab profile LOGS... -o PROFILE.json``: fit a traffic profile to real logs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis.profiles import fit_profile, profile_table
from ..errors import InputError
from ..inputs import output_file
from ..traces.logs import LogReport, read_logs


def command(args: argparse.Namespace) -> int:
    if not 2 <= args.min_samples <= 1_000_000:
        raise InputError(f"must be a whole number >= 2 and <= 1000000, got {args.min_samples}", where="--min-samples")
    if args.output:
        output_file(args.output)
    report = LogReport()
    name = args.name or (Path(args.output).stem if args.output else "fitted")
    profile = fit_profile(read_logs(args.logs, report), name, {"logs": report.to_dict()}, args.min_samples)
    print("\n".join(report.lines()))
    if not profile.sizes:
        raise InputError("no message with a known role to fit", where=" ".join(args.logs))
    print()
    print(profile_table(profile).to_string(index=False))
    if profile.source.get("roles"):
        print(f"roles: {profile.source['roles']}")
    mpc = profile.messages_per_conversation
    if mpc is not None:
        p5, p50, p95 = mpc.ppf([0.05, 0.5, 0.95])
        print(f"messages per conversation: p5 {p5:.1f}, median {p50:.1f}, p95 {p95:.1f} (n {mpc.fit.get('n')})")
    else:
        print(f"messages per conversation: not fitted ({profile.source.get('note')})")
    print("first role: " + ", ".join(f"{r} {v:.1%}" for r, v in profile.first_role.items()))
    print(
        "role shares: " + ", ".join(f"{r} {'-' if v is None else f'{v:.1%}'}" for r, v in profile.role_shares.items())
    )
    for role, mix in profile.content_mix.items():
        print(f"content, {role}: " + ", ".join(f"{k} {v:.1%}" for k, v in mix.items() if v is not None))
    for role, figures in profile.content.items():
        print(f"compresses, {role}: " + _content_line(figures))
    if args.output:
        print(f"wrote {profile.save(args.output)} (no message text; use it with --profile {args.output})")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="fit a traffic profile (sizes by role and band, conversation length, content mix) to real logs",
        description="Read conversation logs (ShareGPT JSON/JSONL, OpenAI chat JSONL, the peer's trace folder, "
        "aura-lab run folders, corpus JSONL) and fit what the generator needs; the profile holds no text.",
    )
    parser.add_argument("logs", nargs="+", metavar="LOGS", help="log files or folders")
    parser.add_argument("-o", "--output", metavar="PROFILE.json", help="write the profile here")
    parser.add_argument("--name", help="the profile's name (default: the output file's name)")
    parser.add_argument(
        "--min-samples", type=int, default=30, help="messages a role and band needs for a model of its own (default 30)"
    )
    parser.set_defaults(func=command)


def _content_line(figures: dict) -> str:
    """A role's content figures in one line: medians of the ratio alone and the gain
    from history, and the shares reusing earlier turns."""
    parts = [
        f"{label} p50 {figures[key]['p50']:.2f}"
        for key, label in (("alone", "alone"), ("gain", "gain from history"))
        if figures.get(key) and "p50" in figures[key]
    ]
    if figures.get("reuse_some") is not None:
        parts.append(f"reusing >= 30 % of earlier text {figures['reuse_some']:.1%}")
    if figures.get("reuse_most") is not None:
        parts.append(f">= 70 % {figures['reuse_most']:.1%}")
    return ", ".join(parts) or "-"
