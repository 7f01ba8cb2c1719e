"""``aura-lab slots CORPUS``: find slot examples in a corpus and merge them into metadata."""

from __future__ import annotations

import argparse

from ..inputs import output_file, read_json_file
from ..traffic.corpus import load_corpus
from ..traffic.slots import coverage, discover_slot_examples, format_coverage, write_metadata
from ..traffic.templates import load_templates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", help="corpus JSONL (message/text/content per line); - reads standard input")
    parser.add_argument("--metadata", help="existing template metadata JSON to merge into")
    parser.add_argument("--templates", default=None, help="template JSON file (default: AURA's library)")
    parser.add_argument("--max-values", type=int, default=50, help="values kept per slot (default 50)")
    parser.add_argument("-o", "--output", help="write the merged metadata JSON here")


def command(args: argparse.Namespace) -> int:
    if args.output:
        output_file(args.output)
    library = load_templates(args.templates)
    texts = [m.text for m in load_corpus(args.corpus, stdin=True).messages]
    existing = read_json_file(args.metadata, "metadata") if args.metadata else None
    metadata = discover_slot_examples(texts, library, existing, args.max_values)
    matched = sum(library.match(t) is not None for t in texts)
    print(f"{matched} of {len(texts)} messages match a template")
    print(format_coverage(coverage(metadata, library)))
    if args.output:
        print(f"wrote {write_metadata(metadata, args.output)}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("slots", help="find template slot examples in a corpus and merge them into metadata")
    add_arguments(parser)
    parser.set_defaults(func=command)
