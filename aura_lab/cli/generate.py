"""``aura-lab generate``: print generated messages with their provenance."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InputError
from ..traffic.generator import GeneratedMessage, config_from_files, generate
from .options import add_traffic_arguments, check_traffic_arguments


def format_table(messages: list[GeneratedMessage], width: int = 70) -> str:
    """One line a message: user, turn, role, source, length (characters), target (the
    peer's range in characters, or a profile's size in bytes), templates and the text,
    cut to ``width`` characters."""
    rows = [f"{'user':>4} {'turn':>4} {'role':<5} {'source':<14} {'len':>5} {'target':<9} {'templates':<12} text"]
    for m in messages:
        text = m.text.replace("\n", "\\n")
        text = text if len(text) <= width else text[: width - 1] + "…"
        target = f"{m.target_min}-{m.target_max}" if m.target_min is not None else f"{m.target_bytes} B"
        rows.append(
            f"{m.user_id:>4} {m.turn:>4} {m.role or '-':<5} {m.source:<14} {len(m.text):>5} "
            f"{target:<9} {','.join(map(str, m.template_ids)) or '-':<12} {text}"
        )
    return "\n".join(rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=20, help="messages to print (default 20; 1 to 100000)")
    add_traffic_arguments(parser)
    parser.add_argument("--format", choices=("table", "jsonl"), default="table")


def command(args: argparse.Namespace) -> int:
    if not 1 <= args.n <= 100_000:
        raise InputError(f"must be a whole number >= 1 and <= 100000, got {args.n}", where="--n")
    check_traffic_arguments(args)
    config = config_from_files(
        args.corpus,
        args.metadata,
        args.templates,
        seed=args.seed,
        corpus_weight=args.corpus_weight,
        ai_ratio=args.ai_ratio,
        profile=args.profile,
    )
    for warning in config.metadata.warnings if config.metadata else []:
        print(f"warning: {warning}", file=sys.stderr)  # stdout stays pure JSON lines
    messages = generate(config, args.n)
    if args.format == "jsonl":
        for m in messages:
            print(json.dumps(m.to_dict(), ensure_ascii=False))
    else:
        print(format_table(messages))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="print generated messages with their provenance")
    add_arguments(parser)
    parser.set_defaults(func=command)
