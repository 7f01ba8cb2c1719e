"""How a profile's generated conversations compress, against real chat (issue 24).

    python benchmarks/content.py [--profile assistant] [--conversations 1000] [--seed 1]

Prints, per role, the content figures of ``aura_lab.analysis.content`` (ratio alone,
gain from the conversation's history and from its own direction's, reuse of earlier
turns) beside the real ones (ShareGPT V3, 6,000 conversations), and the overall ratio
per codec: every message through ``compress_reply`` (the server's code,
``min_compression_size`` as configured), ONE connection state per direction and
conversation (human messages on one, replies on the other, as permessage-deflate keeps
them), sum of original bytes over sum of compressed bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from aura_lab.analysis.content import content_figures  # noqa: E402
from aura_lab.analysis.realism import generated_conversations  # noqa: E402
from aura_lab.codecs import get_codec  # noqa: E402
from aura_lab.config import MIN_COMPRESSION_SIZE  # noqa: E402
from aura_lab.traffic.profile import PUBLISHED_FIGURES  # noqa: E402
from aura_lab.wire.protocol import ServerStats, compress_reply  # noqa: E402

REAL_RATIOS = {"deflate": 2.30, "deflate-stream": 2.86, "zstd-dict": 2.36, "brotli": 2.96}
FIGURES = ("alone", "gain", "gain_own", "reuse")


def codec_ratios(conversations, names=tuple(REAL_RATIOS)) -> dict[str, dict[str, float]]:
    """Overall ratio per codec, all messages and per role (one state per direction)."""
    out = {}
    for name in names:
        codec = get_codec(name)
        sizes = {"human": [0, 0], "assistant": [0, 0]}
        for conversation in conversations:
            states = {role: codec.new_connection_state() for role in sizes}
            for message in conversation.messages:
                reply = compress_reply(message.text, codec, states[message.role], ServerStats(), MIN_COMPRESSION_SIZE)
                sizes[message.role][0] += reply["original_size"]
                sizes[message.role][1] += reply["compressed_size"]
        total = [sum(s[0] for s in sizes.values()), sum(s[1] for s in sizes.values())]
        out[name] = {"all": total[0] / total[1], **{role: s[0] / s[1] for role, s in sizes.items()}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="assistant", help="a built-in profile or a profile file")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    conversations = generated_conversations(args.profile, args.conversations, seed=args.seed)
    figures = content_figures(conversations)
    print(f"{args.conversations} conversations of the {args.profile} profile, seed {args.seed}: generated (real)")
    for role, got in figures.items():
        real = PUBLISHED_FIGURES[role]
        print(f"{role} ({got['messages']} messages)")
        for key in FIGURES:
            cells = [
                f"{q} {got[key][q]:.2f}" + (f" ({real[key][q]:.2f})" if q in (real[key] or {}) else "")
                for q in got[key] or {}
            ]
            print(f"  {key:<9} " + ", ".join(cells))
        print(
            f"  reusing >= 30 % / >= 70 %: {got['reuse_some']:.1%} / {got['reuse_most']:.1%}"
            f" ({real['reuse_some']:.1%} / {real['reuse_most']:.1%}); kinds {got['reuse_kinds']}"
        )
    print("overall ratio per codec, one connection state per direction: generated (real)")
    for name, ratio in codec_ratios(conversations).items():
        real = REAL_RATIOS[name]
        print(
            f"  {name:<15} {ratio['all']:.3f} ({real}, {ratio['all'] / real - 1:+.1%})"
            f"  human {ratio['human']:.2f}, assistant {ratio['assistant']:.2f}"
        )
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
