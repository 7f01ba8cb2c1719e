"""Generator speed: messages generated per second (target: at least 50,000).

    python benchmarks/generators.py [--messages 100000]

Baseline in the same process: drawing the same number of corpus messages by weight
alone (``Corpus.sample``), the cheapest possible "generator".
"""

from __future__ import annotations

import argparse
import random
import time

from aura_lab.traffic.generator import config_from_files, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    for corpus_weight in (0.3, 0.0, 1.0):
        config = config_from_files(None, None, seed=1, corpus_weight=corpus_weight)
        generate(config, 1000)  # warm caches
        start = time.perf_counter()
        messages = generate(config, args.messages)
        elapsed = time.perf_counter() - start
        rng = random.Random(1)
        start = time.perf_counter()
        for _ in range(args.messages):
            config.corpus.sample("ai", 0, 10_000, rng)
        baseline = time.perf_counter() - start
        rate = len(messages) / elapsed
        print(
            f"corpus_weight {corpus_weight:.1f}: {rate:,.0f} messages/s "
            f"({elapsed:.2f} s for {len(messages):,}); weighted corpus draw alone {args.messages / baseline:,.0f}/s; "
            f"target 50,000/s {'met' if rate >= 50_000 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
