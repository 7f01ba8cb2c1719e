"""Options shared by several sub-commands, with their defaults and ranges from
``aura_lab.config`` (one definition of each)."""

from __future__ import annotations

import argparse
import math

from ..config import BOUNDS, DEFAULT_PROFILE, FLAGS, Bound, RunConfig
from ..errors import InputError
from ..traffic.profile import BUILT_IN, load_profile

DEFAULTS = RunConfig()


def number(name: str, bound: Bound | None = None):
    """An argparse ``type`` for the numeric option ``name`` (its range ``bound``, else
    ``BOUNDS[name]``): a float, or for a whole-number option an integer (``1e3`` is
    1000). A value that is no number of that kind is refused with the option's range;
    the range itself is checked with the others."""
    bound = bound or BOUNDS[name]

    def parse(text: str) -> int | float:
        try:
            if not bound.integer:
                return float(text)
            try:
                return int(text)
            except ValueError:
                value = float(text)
                if not (math.isfinite(value) and value.is_integer()):
                    raise ValueError(text) from None
                return int(value)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"must be {bound.describe()}, got {text!r}") from None

    parse.__name__ = "whole number" if bound.integer else "number"
    return parse


def described(name: str, text: str) -> str:
    """Help text with the option's default and range."""
    default = getattr(DEFAULTS, name, None)
    parts = [text]
    if default not in (None, "", False):
        parts.append(f"default {default}")
    if name in BOUNDS:
        parts.append(BOUNDS[name].describe())
    return f"{parts[0]} ({'; '.join(parts[1:])})" if len(parts) > 1 else text


def add_traffic_arguments(
    parser: argparse.ArgumentParser, templates_help: str = "template JSON file instead of AURA's library"
) -> None:
    """The options that shape generated traffic, shared by ``generate`` and ``run``."""
    parser.add_argument("--seed", type=number("seed"), default=DEFAULTS.seed, help=described("seed", "random seed"))
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        metavar="NAME|FILE",
        help=f"traffic profile: built in {', '.join(BUILT_IN)} (the peer's guess), or a JSON file made by "
        f"aura-lab profile (default {DEFAULT_PROFILE}: real assistant chats)",
    )
    parser.add_argument(
        "--corpus",
        help="corpus JSONL (default: the bundled answers and human messages; the peer profile: the bundled chat "
        "corpus, 'none' for no corpus)",
    )
    parser.add_argument("--metadata", help="template metadata JSON (default: the bundled metadata; 'none')")
    parser.add_argument("--templates", help=templates_help)
    parser.add_argument(
        "--corpus-weight",
        type=number("corpus_weight"),
        default=DEFAULTS.corpus_weight,
        help=described("corpus_weight", "share of corpus messages (peer profile)"),
    )
    parser.add_argument(
        "--ai-ratio",
        type=number("ai_ratio"),
        default=DEFAULTS.ai_ratio,
        help=described("ai_ratio", "share of AI users (peer profile)"),
    )


def check_traffic_arguments(args: argparse.Namespace) -> None:
    """The traffic options' ranges and the profile, with errors that name the flag."""
    for name in ("seed", "corpus_weight", "ai_ratio"):
        BOUNDS[name].check(getattr(args, name), FLAGS[name])
    profile = load_profile(args.profile, where="--profile")
    if profile.two_sided and args.corpus == "none":
        raise InputError(
            f"the {profile.name} profile composes every message from a corpus",
            where="--corpus",
            fix="give a corpus file, leave it out for the bundled one, or use --profile peer",
        )
