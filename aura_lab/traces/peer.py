"""The peer's file formats (docs/formats.md): its per-user trace JSONL, read and
written, and its export JSON, written; so its tools keep working on our runs and ours
on its files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..inputs import parse_jsonl, read_input_file
from .schema import empty_frame, records_to_table, to_frame

PEER_CODEC = "peer"  # the codec label of records read from the peer's files


def load_peer_traces(folder: str | Path) -> pd.DataFrame:
    """The peer's per-user JSONL traces, mapped onto aura-lab's schema.

    Its timestamps are local time without a zone: they are read as the local time of
    this machine and converted to UTC.
    """
    folder = Path(folder)
    records = []
    for file in sorted(folder.glob("user_*_traces.jsonl")):
        for lineno, row in parse_jsonl(read_input_file(file, "peer trace"), file):
            if not isinstance(row, dict):
                raise InputError("expected a JSON object", where=f"{file}:{lineno}")
            records.append(_peer_record(row, file, lineno))
    return to_frame(records_to_table(records)) if records else empty_frame()


def _peer_record(row: dict, file: Path, lineno: int) -> dict:
    def num(key, kind=float):
        value = row.get(key)
        if value is None:
            return None
        try:
            return kind(value)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{key!r} must be a number, got {value!r}", where=f"{file}:{lineno}") from None

    text = row.get("message")
    ts = row.get("timestamp")
    received = None
    if ts:
        try:
            dt = datetime.fromisoformat(str(ts))
        except ValueError:
            raise InputError(f"'timestamp' is not ISO 8601: {ts!r}", where=f"{file}:{lineno}") from None
        if dt.tzinfo is None:
            dt = dt.astimezone()  # local time, as the peer wrote it
        # exact integer arithmetic: a float of epoch seconds loses the microseconds
        since_epoch = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        received = (since_epoch.days * 86_400 + since_epoch.seconds) * 10**9 + since_epoch.microseconds * 1000
    method = row.get("method")
    latency = num("latency_ms")
    sent = None
    if received is not None and latency is not None and 0 <= latency < 86_400_000:
        sent = received - round(latency * 1_000_000)  # the peer logs the reply time and the latency
    return {
        "run_id": f"peer:{file.parent.name}",
        "phase": "main",
        "codec": PEER_CODEC,
        "user_id": num("user_id", int),
        "turn": num("turn", int),
        "source": None,
        "text": text,
        "length_chars": num("message_length", int)
        if row.get("message_length") is not None
        else (len(text) if isinstance(text, str) else None),
        "length_bytes": len(text.encode("utf-8")) if isinstance(text, str) else None,
        "scheduled_at": sent,
        "sent_at": sent,
        "received_at": received,
        "latency_ms": latency,
        "status": "ok" if method else "error",
        "method": str(method).upper() if method else None,
        "original_size": num("original_size", int),
        "compressed_size": num("compressed_size", int),
        "ratio": num("compression_ratio"),
    }


def peer_export(run) -> dict:
    """The peer's export JSON for the primary codec, extended with what it left out:
    seed, full config, corpus and metadata hashes, per-template performance, and the
    other codecs' summaries."""
    summary, manifest = run.summary, run.manifest
    codecs = summary["codecs"]
    primary = codecs.get(run.primary_codec) if run.primary_codec else None
    options = manifest.options
    export = {
        "timestamp": manifest.started_at,
        "config": {
            "num_users": options["users"],
            "server_url": manifest.servers[0].url if manifest.servers else None,
            "warmup": options["warmup_messages"],
            "seed": manifest.seed,
            "options": options,
            "files": manifest.files,
        },
        "run_id": manifest.run_id,
        "status": manifest.status,
    }
    if primary is None:
        export["summary"] = {"total_messages": 0, "empty": True}
        return export
    lat = primary["latency_ms"]
    loss = primary["loss"]
    export["summary"] = {
        "total_time": primary["duration_s"],
        "total_messages": primary["messages"],
        "messages_per_second": primary["messages_per_second"],
        # delivered and known lossless; null unless every delivered message was checked
        "success_rate": _percent(primary["success_rate"]),
        "delivered_rate": _percent(primary["delivered_rate"]),
        "lossless_rate": _percent(primary["lossless_rate"]),
        "roundtrip": loss["status"],  # checked | partly checked | not checked
        "roundtrip_checked_by": loss["checked_by"],
        "roundtrip_failures": primary["roundtrip_failures"],  # null when not checked, never 0
        "errors": primary["errors"],
        "overall_compression_ratio": primary["overall_ratio"],
        "safe_compression_ratio": primary["safe_ratio"],
        "lossy": primary["lossy"],
        "bandwidth_saved_percent": primary["bandwidth_saved_percent"],
    }
    export["verdict"] = summary.get("verdict")
    export["latencies"] = {
        "average_ms": lat["mean"],
        "median_ms": lat["p50"],
        "min_ms": lat["min"],
        "max_ms": lat["max"],
        "p95_ms": lat["p95"],
        "p99_ms": lat["p99"],
    }
    export["compression"] = {
        "total_original_size": primary["total_original_bytes"],
        "total_compressed_size": primary["total_compressed_bytes"],
        "overall_ratio": primary["overall_ratio"],
        "ai_ratio": primary["ratio_by_role"]["ai"],
        "human_ratio": primary["ratio_by_role"]["human"],
        "method_counts": primary["methods"],
        "length_buckets": {
            b["bucket"]: {"count": b["messages"], "ratio": b["ratio"]} for b in primary["length_buckets"]
        },
    }
    export["template_performance"] = primary["templates"]
    export["codecs"] = codecs
    return export


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def write_peer_traces(df: pd.DataFrame, folder: Path, codec: str | None = None) -> list[Path]:
    """``user_<id>_traces.jsonl`` per user, for the primary codec's main phase.
    Timestamps are written as the peer did: ISO, local time, no zone."""
    folder.mkdir(parents=True, exist_ok=True)
    main = df[df["phase"] == "main"]
    if main.empty:
        return []
    codec = codec or str(main["codec"].iloc[0])
    main = main[main["codec"].astype(str) == codec]
    written = []
    for user_id, part in main.groupby("user_id"):
        path = folder / f"user_{user_id}_traces.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in part.itertuples(index=False):
                ts = row.received_at if pd.notna(row.received_at) else row.sent_at
                fh.write(
                    json.dumps(
                        {
                            "user_id": int(row.user_id),
                            "turn": int(row.turn),
                            "timestamp": (
                                ts.to_pydatetime(warn=False).astimezone().replace(tzinfo=None).isoformat()
                                if pd.notna(ts)
                                else None
                            ),
                            "message": row.text,
                            "message_length": int(row.length_chars),
                            "method": row.method if isinstance(row.method, str) else None,
                            "compression_ratio": None if pd.isna(row.ratio) else float(row.ratio),
                            "latency_ms": None if pd.isna(row.latency_ms) else float(row.latency_ms),
                            "original_size": None if pd.isna(row.original_size) else int(row.original_size),
                            "compressed_size": None if pd.isna(row.compressed_size) else int(row.compressed_size),
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        written.append(path)
    return written
