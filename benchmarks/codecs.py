"""Every codec over the project corpus: ratio, time per message, round-trip failures.

    python benchmarks/codecs.py [--corpus corpora/chat.jsonl] [--training FILE]

Two modes:

- ``message``: each message on its own (a fresh connection state per message);
- ``conversation``: all messages in file order on one connection state.

Each message goes through ``server_protocol.compress_reply``, the code the server
runs, so sizes and round-trip checks are exactly what the server would reply:

- ``wire ratio``: sum original / sum compressed with the server's rules (below
  ``min_compression_size`` bytes sent as is; a standard codec's expanded output
  replaced by the raw text; aura's output counted as it is);
- ``codec ratio``: every message through the codec (threshold 0), its output counted
  as it is, expansion included;
- the other columns are under the server's rules: medians in microseconds over the
  messages the codec was called on; ``lost``: messages where
  ``decompress(compress(m)) != m`` or compress raised; ``expanded``: codec output
  larger than the message.

aura keeps caches inside its compressor whatever the connection state, so its
``message`` mode is not a cold start; a new compressor is built per mode.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from aura_lab.codecs import codec_names, get_codec  # noqa: E402
from aura_lab.errors import AuraLabError  # noqa: E402
from aura_lab.paths import scratch_cwd  # noqa: E402
from aura_lab.traffic.corpus import load_corpus  # noqa: E402
from aura_lab.wire.protocol import ServerStats, compress_reply  # noqa: E402

MODES = ("message", "conversation")


def measure(codec, messages: list[str], mode: str, min_compression_size: int) -> dict:
    """Replies for every message in one mode, reduced to the table's numbers."""
    stats = ServerStats()
    state = codec.new_connection_state()
    replies = []
    for text in messages:
        if mode == "message":
            state = codec.new_connection_state()
        replies.append(compress_reply(text, codec, state, stats, min_compression_size))
    compressed = [r for r in replies if r.get("codec_size") is not None or r["status"] == "error"]
    ok = [r for r in replies if r["status"] == "ok"]
    return {
        "original": sum(r["original_size"] for r in ok),
        "compressed": sum(r["compressed_size"] for r in ok),
        # what the codec itself produced, expansion included
        "codec_bytes": sum(r["original_size"] if r["codec_size"] is None else r["codec_size"] for r in ok),
        "compress_us": statistics.median([r["compress_us"] for r in compressed]) if compressed else 0.0,
        "decompress_us": statistics.median([r["decompress_us"] for r in compressed if "decompress_us" in r])
        if compressed
        else 0.0,
        "lost": sum(1 for r in replies if not r["roundtrip_ok"]),
        "errors": sum(1 for r in replies if r["status"] == "error"),
        "expanded": sum(1 for r in replies if r.get("expanded")),
    }


def run(messages: list[str], codecs: list[str], training: Path, min_compression_size: int) -> list[dict]:
    rows = []
    for name in codecs:
        options = {"training": training} if name == "zstd-dict" else {}
        for mode in MODES:
            try:
                wire_codec = get_codec(name, **options)
                raw_codec = get_codec(name, **options)
            except AuraLabError as err:
                print(f"{name}: skipped: {err}", file=sys.stderr)
                break
            try:
                wire = measure(wire_codec, messages, mode, min_compression_size)
                raw = measure(raw_codec, messages, mode, 0)
            finally:
                wire_codec.close()
                raw_codec.close()
            rows.append(
                {
                    "codec": name,
                    "mode": mode,
                    "wire_ratio": wire["original"] / wire["compressed"],
                    "codec_ratio": raw["original"] / raw["codec_bytes"],
                    "compress_us": wire["compress_us"],
                    "decompress_us": wire["decompress_us"],
                    "lost": wire["lost"],
                    "errors": wire["errors"],
                    "expanded": wire["expanded"],
                }
            )
    return rows


def render(rows: list[dict], messages: int, source: str) -> str:
    header = (
        "codec",
        "mode",
        "wire ratio",
        "codec ratio",
        "compress µs",
        "decompress µs",
        "lost",
        "errors",
        "expanded",
    )
    lines = [f"{messages} messages from {source}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append(
            f"| {r['codec']} | {r['mode']} | {r['wire_ratio']:.2f} | {r['codec_ratio']:.2f} | "
            f"{r['compress_us']:.1f} | {r['decompress_us']:.1f} | {r['lost']} | {r['errors']} | "
            f"{r['expanded']} |"
        )
    lines += [
        "",
        "codec ratio: every message through the codec, expansion included; "
        "the other columns: the server's rules (min_compression_size, fallback on expansion).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpora" / "chat.jsonl")
    parser.add_argument("--training", type=Path, default=REPO / "corpora" / "zstd_training.jsonl")
    parser.add_argument("--codecs", nargs="+", default=codec_names(), choices=codec_names())
    parser.add_argument("--min-compression-size", type=int, default=35, metavar="BYTES")
    parser.add_argument("--limit", type=int, default=None, help="first N messages only")
    args = parser.parse_args(argv)
    try:
        corpus = load_corpus(args.corpus)
    except AuraLabError as err:
        print(f"benchmarks/codecs.py: error: {err}", file=sys.stderr)
        return 2
    messages = [m.text for m in corpus.messages if m.text][: args.limit]
    started = time.perf_counter()
    with scratch_cwd():  # belt and braces: aura writes into the current directory
        rows = run(messages, args.codecs, args.training.resolve(), args.min_compression_size)
    print(render(rows, len(messages), f"{args.corpus} (sha256 {corpus.sha256[:12]})"))
    print(f"\n({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
