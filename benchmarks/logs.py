"""Reading conversation logs: speed and memory of the streaming reader.

    python benchmarks/logs.py [--mb 200]

Writes a ShareGPT JSON array and an OpenAI JSONL file of about ``--mb`` MB each (the
test logs of tests/support/logs.py, repeated), then reads each with
``aura_lab.traces.logs.read_logs`` (conversations counted, nothing kept) and, as the
baseline in the same process, with ``json.load`` / ``json.loads`` of the whole file.
Prints MB/s and the peak of Python memory (tracemalloc) of each; the target is a peak
that does not grow with the file (a 1 GB file must not need 1 GB).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aura_lab.traces.logs import read_logs
from tests.support.logs import make_conversations, write_openai, write_sharegpt


def measure(function) -> tuple[float, int, object]:
    """(seconds, peak bytes of Python memory, result) of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = function()
        return time.perf_counter() - start, tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def whole_file(path: Path) -> int:
    """The baseline: the whole file in memory, parsed at once."""
    if path.suffix == ".json":
        return len(json.loads(path.read_text(encoding="utf-8")))
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=200, help="size of each log file, MB")
    args = parser.parse_args()
    sample = make_conversations(1000, seed=1)
    per_copy = len(json.dumps(sample)) / 1e6
    conversations = sample * max(1, round(args.mb / per_copy))
    with tempfile.TemporaryDirectory(prefix="aura-lab-logs-") as tmp:
        files = (
            write_sharegpt(Path(tmp) / "sharegpt.json", conversations),
            write_openai(Path(tmp) / "openai.jsonl", conversations),
        )
        for path in files:
            mb = path.stat().st_size / 1e6
            seconds, peak, count = measure(lambda p=path: sum(1 for _ in read_logs(p)))
            base_seconds, base_peak, base_count = measure(lambda p=path: whole_file(p))
            assert count == base_count == len(conversations), (count, base_count)
            print(
                f"{path.name}: {mb:,.0f} MB, {count:,} conversations; read_logs {mb / seconds:,.1f} MB/s, "
                f"peak {peak / 1e6:,.1f} MB; whole-file json {mb / base_seconds:,.1f} MB/s, peak "
                f"{base_peak / 1e6:,.0f} MB; speed {seconds / base_seconds:.2f}x the baseline's time, "
                f"memory {peak / base_peak:.3f} of it; flat memory {'met' if peak < 16e6 else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
