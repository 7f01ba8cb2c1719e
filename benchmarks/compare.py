"""Pairing conversations for ``aura-lab compare``: ``pair_users`` on two runs of the same
conversations whose users are numbered differently (a run against the peer's trace
files written from it, users from 1), against the baseline of the same process: the
exact check of two runs numbered alike (a sort and an equality, what pairing cost
before users were matched by what they sent).

    python benchmarks/compare.py [--users 500] [--turns 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from aura_lab.analysis.compare import _conversation_order, pair_users


def frame(users: int, turns: int, first_user: int = 0) -> pd.DataFrame:
    user = np.repeat(np.arange(users), turns)
    turn = np.tile(np.arange(turns), users)
    text = [f"message {u} {t}: a line of chat about the configuration file" for u, t in zip(user, turn)]
    return pd.DataFrame({"user_id": (user + first_user).astype("int32"), "turn": turn.astype("int32"), "text": text})


def timed(work) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    a, b = frame(args.users, args.turns), frame(args.users, args.turns, first_user=1)
    baseline = timed(lambda: _conversation_order(a).equals(_conversation_order(a)))
    same = timed(lambda: pair_users(a, a))
    shifted = timed(lambda: pair_users(a, b))
    assert pair_users(a, b) is not None
    rows = len(a)
    print(f"{rows:,} rows a side, {args.users} users")
    print(f"  baseline, exact check of runs numbered alike: {baseline:.3f} s")
    print(f"  pair_users, numbered alike:                 {same:.3f} s ({same / baseline:.1f}x)")
    print(f"  pair_users, the peer's numbering (from 1):  {shifted:.3f} s ({shifted / baseline:.1f}x)")


if __name__ == "__main__":
    main()
