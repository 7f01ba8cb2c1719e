"""Generator speed: messages generated per second (target: at least 50,000).

    python benchmarks/generators.py [--messages 100000]

Baseline in the same process: drawing the same number of corpus messages by weight
alone (``Corpus.sample``), the cheapest possible "generator". Measured for the ``peer``
profile at three corpus weights, and for the default ``assistant`` profile (two-sided
conversations, sizes drawn from the profile, replies composed from the answers corpus),
whose rate is also given relative to the peer profile's at corpus weight 0.3.
"""

from __future__ import annotations

import argparse
import random
import time

from aura_lab import paths
from aura_lab.traffic.corpus import load_corpus
from aura_lab.traffic.generator import config_from_files, generate

TARGET = 50_000


def rate(config, n: int) -> tuple[float, float]:
    """(messages per second, seconds) of generating ``n`` messages after a warm-up."""
    generate(config, 1000)  # warm caches (the profile's tables, the text bank)
    start = time.perf_counter()
    messages = generate(config, n)
    elapsed = time.perf_counter() - start
    return len(messages) / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    n = args.messages
    corpus = load_corpus(paths.DEFAULT_CORPUS)
    rng = random.Random(1)
    start = time.perf_counter()
    for _ in range(n):
        corpus.sample("ai", 0, 10_000, rng)
    baseline = n / (time.perf_counter() - start)
    print(f"baseline: weighted corpus draw alone {baseline:,.0f}/s")
    peer_rate = None
    for corpus_weight in (0.3, 0.0, 1.0):
        config = config_from_files(None, None, seed=1, corpus_weight=corpus_weight, profile="peer")
        got, elapsed = rate(config, n)
        peer_rate = peer_rate or got
        print(
            f"peer profile, corpus_weight {corpus_weight:.1f}: {got:,.0f} messages/s ({elapsed:.2f} s for {n:,}); "
            f"{got / baseline:.2f} of the baseline; target {TARGET:,}/s {'met' if got >= TARGET else 'MISSED'}"
        )
    config = config_from_files(None, None, seed=1)
    got, elapsed = rate(config, n)
    print(
        f"assistant profile: {got:,.0f} messages/s ({elapsed:.2f} s for {n:,}); {got / baseline:.2f} of the "
        f"baseline, {got / peer_rate:.2f}x the peer profile; target {TARGET:,}/s {'met' if got >= TARGET else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
