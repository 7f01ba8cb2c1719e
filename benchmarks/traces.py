"""Trace writer and loader: 1,000,000 records written (peak memory must stay flat) and
loaded with ``load_traces`` (target: load under 2 s).

    python benchmarks/traces.py [--records 1000000]

Baseline in the same process: ``pyarrow.parquet.read_table`` of the same part files
without the schema mapping and dtypes.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from aura_lab.traces.reader import load_traces
from aura_lab.traces.writer import TraceWriter


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def record(i: int, t0: int) -> dict:
    return {
        "run_id": "bench",
        "phase": "main",
        "codec": ("aura", "deflate-stream", "zstd-dict")[i % 3],
        "server_url": "ws://127.0.0.1:1",
        "user_id": i % 500,
        "role": "ai" if i % 2 else "human",
        "turn": i % 50,
        "source": "template",
        "template_id": i % 70,
        "template_ids": [i % 70, 3],
        "slot_values": [["the configuration file"], []],
        "target_min": 60,
        "target_max": 200,
        "text": "I cannot access the configuration file. I'm not sure",
        "length_chars": 52,
        "length_bytes": 52,
        "scheduled_at": t0 + i * 1000,
        "sent_at": t0 + i * 1000,
        "received_at": t0 + i * 1000 + 500_000,
        "latency_ms": 0.5,
        "status": "ok",
        "error_kind": None,
        "error": None,
        "method": "BINARY_SEMANTIC",
        "server_template_id": 22,
        "original_size": 52,
        "compressed_size": 20,
        "ratio": 2.6,
        "roundtrip_ok": True,
        "compress_us": 40.0,
        "decompress_us": 10.0,
        "reconnects": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    t0 = time.time_ns()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "bench"
        writer = TraceWriter(run / "traces", flush_rows=10_000, flush_seconds=3600)
        samples = []
        start = time.perf_counter()
        for i in range(args.records):
            writer.write(record(i, t0))
            if i % (args.records // 10) == 0:
                samples.append(rss_mb())
        writer.close()
        write_s = time.perf_counter() - start
        samples.append(rss_mb())
        parts = sorted((run / "traces").glob("*.parquet"))
        print(
            f"write: {args.records:,} records in {write_s:.1f} s ({args.records / write_s:,.0f}/s), "
            f"{len(parts)} part files"
        )
        print(
            "RSS while writing (MB, every 10%): "
            + ", ".join(f"{s:.0f}" for s in samples)
            + f"; growth after the first 10%: {samples[-1] - samples[1]:+.0f} MB"
        )
        start = time.perf_counter()
        df = load_traces(run)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        for part in parts:
            pq.read_table(part)
        raw_s = time.perf_counter() - start
        assert len(df) == args.records, len(df)
        print(
            f"load_traces: {len(df):,} rows in {load_s:.2f} s (target < 2 s: {'met' if load_s < 2 else 'MISSED'}); "
            f"bare pyarrow read of the same parts {raw_s:.2f} s (ratio {load_s / raw_s:.1f}x)"
        )
        print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
