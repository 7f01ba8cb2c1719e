"""Template matching: ``PatternLibrary.match`` (literals found with ``str.find``) against
the regex it replaced (lazy ``.+?`` slots, kept here as the baseline, in the same process).

    python benchmarks/matching.py [--max-words 36]

1. Real traffic: every message of the bundled corpus and a formatted text of each AURA
   template, matched against AURA's library (both give the same answers; checked).
2. The blow-up: a 10-slot pattern against messages of 16 to ``--max-words`` words that do
   not match. The regex's time grows exponentially with the words (the issue measured
   28 words 2.2 s, 40 words over 60 s); ``find`` stays in microseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aura_lab.paths import DEFAULT_CORPUS
from aura_lab.traffic.corpus import load_corpus
from aura_lab.traffic.templates import PatternLibrary, aura_library
from tests.support.regex_matcher import regex_of


def regex_match(library: PatternLibrary, regexes: dict, text: str):
    for tid in library._match_order:
        found = regexes[tid].fullmatch(text)
        if found:
            return tid, [found.group(f"s{i}") for i in range(library.slot_count(tid))]
    return None


def timed(fn, texts, repeat: int = 1) -> tuple[float, list]:
    started = time.perf_counter()
    for _ in range(repeat):
        answers = [fn(t) for t in texts]
    return (time.perf_counter() - started) / repeat, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-words", type=int, default=36, help="longest non-matching message (regex time doubles)")
    args = parser.parse_args()

    library = aura_library()
    regexes = {tid: regex_of(library.pattern(tid)) for tid in library.ids()}
    texts = [m.text for m in load_corpus(DEFAULT_CORPUS).messages]
    texts += [library.format(t, [f"value {i}" for i in range(library.slot_count(t))]) for t in library.ids()]
    new_s, new = timed(library.match, texts, repeat=5)
    old_s, old = timed(lambda t: regex_match(library, regexes, t), texts, repeat=5)
    assert new == old, "the two matchers disagree"
    hits = sum(a is not None for a in new)
    print(f"real traffic: {len(texts)} messages ({hits} match), {len(library)} AURA templates")
    print(f"  find:  {new_s * 1e3:8.2f} ms   ({new_s / len(texts) * 1e6:.1f} us a message)")
    print(f"  regex: {old_s * 1e3:8.2f} ms   ({old_s / len(texts) * 1e6:.1f} us a message)")
    print(f"  ratio find / regex: {new_s / old_s:.2f}")

    ten = " ".join(f"{{{i}}}" for i in range(10)) + " end"
    blow_up = PatternLibrary({1: ten})
    blow_regex = {1: regex_of(ten)}
    print(f"\n10-slot pattern {ten!r}, messages that do not match:")
    print(f"  {'words':>5} {'find':>12} {'regex':>12} {'ratio':>10}")
    for words in range(16, args.max_words + 1, 4):
        text = " ".join(["word"] * words)
        new_s, _ = timed(blow_up.match, [text], repeat=20)
        old_s, _ = timed(lambda t: regex_match(blow_up, blow_regex, t), [text])
        print(f"  {words:>5} {new_s * 1e6:>9.1f} us {old_s:>10.3f} s {old_s / new_s:>10.0f}")
    text = " ".join(["word"] * 100_000) + " end"
    scan = PatternLibrary({1: "{0} but {1} end"})  # " but " is nowhere: find reads it all
    for label, lib in (("matches the 10-slot pattern", blow_up), ("a literal found nowhere", scan)):
        new_s, answer = timed(lib.match, [text], repeat=5)
        print(f"  100,000 words (500 KB), {label}: find {new_s * 1e3:.2f} ms, match={answer[0] is not None}")


if __name__ == "__main__":
    main()
