"""The peer's file formats (docs/formats.md): its per-user trace JSONL, read and
written, and its export JSON, read (``load_export``; aura-lab writes it in
``analysis.export``); so its tools keep working on our runs and ours on its files."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..inputs import parse_jsonl, read_input_file, read_json_file, surrogate_problem
from ..wire.labels import PEER, Label, from_methods
from .schema import empty_frame, records_to_table, to_frame

PEER_CODEC = PEER  # the codec label of the peer's records when nothing names the codec
TRACE_GLOB = "user_*_traces.jsonl"
FIRST_USER = 1  # the peer numbers its users from 1; aura-lab from 0
INT32 = (-(2**31), 2**31 - 1)  # the range of the trace schema's integer columns


def is_peer_trace_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds the peer's per-user trace files."""
    folder = Path(folder)
    return folder.is_dir() and any(folder.glob(TRACE_GLOB))


def peer_label(methods) -> Label:
    """The codec label of the peer's records: "aura" when their methods show AURA's
    compressor (``wire.labels``), else "peer"."""
    return from_methods(methods) or Label(PEER_CODEC, "no method in the files is one only AURA uses")


def load_peer_traces(folder: str | Path) -> pd.DataFrame:
    """The peer's per-user JSONL traces, mapped onto aura-lab's schema; their codec is
    labelled by ``peer_label``. User ids are kept as the peer wrote them (from 1).

    Its timestamps are local time without a zone: they are read as the local time of
    this machine and converted to UTC.
    """
    folder = Path(folder)
    records = []
    for file in sorted(folder.glob(TRACE_GLOB)):
        for lineno, row in parse_jsonl(read_input_file(file, "peer trace"), file):
            if not isinstance(row, dict):
                raise InputError("expected a JSON object", where=f"{file}:{lineno}")
            records.append(_peer_record(row, file, lineno))
    label = peer_label(r["method"] for r in records).codec
    for record in records:
        record["codec"] = label
    return to_frame(records_to_table(records)) if records else empty_frame()


def _peer_record(row: dict, file: Path, lineno: int) -> dict:
    def num(key, kind=float):
        value = row.get(key)
        if value is None:
            return None
        try:
            number = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{key!r} must be a number, got {str(value)[:40]!r}", where=f"{file}:{lineno}") from None
        if kind is int and not INT32[0] <= number <= INT32[1]:
            raise InputError(
                f"{key!r} is out of range: {str(value)[:40]} (a trace holds {INT32[0]} to {INT32[1]})",
                where=f"{file}:{lineno}",
            )
        if kind is float and not math.isfinite(number):
            raise InputError(f"{key!r} must be a finite number, got {value!r}", where=f"{file}:{lineno}")
        return number

    text = row.get("message")
    for key in ("message", "method"):
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{key!r} must be a string, got {type(value).__name__}", where=f"{file}:{lineno}")
        problem = surrogate_problem(value) if value else None
        if problem:
            raise InputError(f"{key!r} has {problem}", where=f"{file}:{lineno}", fix="fix or remove the line")
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
        try:
            since_epoch = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        except (OverflowError, ValueError):  # year 1 or 9999 in a zone that moves it past the range
            since_epoch = None
        received = (
            None
            if since_epoch is None
            else (since_epoch.days * 86_400 + since_epoch.seconds) * 10**9 + since_epoch.microseconds * 1000
        )
        if received is None or not -(2**63) <= received < 2**63:
            raise InputError(
                f"'timestamp' is out of range: {ts!r} (a trace holds the years 1678 to 2261)", where=f"{file}:{lineno}"
            )
    method = row.get("method")
    latency = num("latency_ms")
    sent = None
    if received is not None and latency is not None and 0 <= latency < 86_400_000:
        sent = received - round(latency * 1_000_000)  # the peer logs the reply time and the latency
    return {
        "run_id": f"peer:{file.parent.name}",
        "phase": "main",
        "codec": PEER_CODEC,  # relabelled once every record is read
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


def write_peer_traces(df: pd.DataFrame, folder: Path, codec: str | None = None) -> list[Path]:
    """``user_<id>_traces.jsonl`` per user, for the primary codec's main phase, users
    numbered from 1 as the peer numbers them (aura-lab's user 0 is the peer's user 1).
    Timestamps are written as the peer did: ISO, local time, no zone."""
    folder.mkdir(parents=True, exist_ok=True)
    main = df[df["phase"] == "main"]
    if main.empty:
        return []
    codec = codec or str(main["codec"].iloc[0])
    main = main[main["codec"].astype(str) == codec]
    written = []
    for user_id, part in main.groupby("user_id"):
        peer_user = int(user_id) + FIRST_USER
        path = folder / f"user_{peer_user}_traces.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in part.itertuples(index=False):
                ts = row.received_at if pd.notna(row.received_at) else row.sent_at
                fh.write(
                    json.dumps(
                        {
                            "user_id": peer_user,
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


# -- the export JSON ---------------------------------------------------------------------

EXPORT_LIMIT = 64 << 20  # bytes: an export is a few KB; a larger .json beside traces is not one
_NUMBER = "a number"
# the peer's keys and their types (null allowed: an empty run has no figures)
EXPORT_KEYS: dict[str, str] = {
    "timestamp": "a string",
    "config": "an object",
    "config.num_users": _NUMBER,
    "config.server_url": "a string",
    "config.warmup": "a boolean",
    "summary": "an object",
    "summary.total_time": _NUMBER,
    "summary.total_messages": _NUMBER,
    "summary.messages_per_second": _NUMBER,
    "summary.success_rate": _NUMBER,
    "summary.errors": _NUMBER,
    "summary.overall_compression_ratio": _NUMBER,
    "summary.bandwidth_saved_percent": _NUMBER,
    "latencies": "an object",
    **{f"latencies.{k}": _NUMBER for k in ("average_ms", "median_ms", "min_ms", "max_ms", "p95_ms", "p99_ms")},
    "compression": "an object",
    **{
        f"compression.{k}": _NUMBER
        for k in ("total_original_size", "total_compressed_size", "overall_ratio", "ai_ratio", "human_ratio")
    },
    "compression.method_counts": "an object",
    "compression.length_buckets": "an object",
}


@dataclass
class Export:
    """The peer's export JSON (or aura-lab's, which holds the peer's keys and more), read
    and checked: every key the peer writes has the peer's type, or is null or absent.
    An export holds totals and point figures only, no per-message records."""

    path: Path
    data: dict

    @property
    def written_by(self) -> str:
        """ "aura-lab" for an export aura-lab wrote (it adds ``run_id``), else "peer"."""
        return "aura-lab" if "run_id" in self.data or "aura_lab" in self.data else "peer"

    def get(self, key: str, default: Any = None) -> Any:
        """The value at a dotted key (``"latencies.p99_ms"``); ``default`` when absent or null."""
        value: Any = self.data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return default if value is None else value

    def length_buckets(self) -> dict[str, float | None]:
        """``{bucket: mean of per-message ratios}`` as the peer writes them. An object per
        bucket (earlier aura-lab exports wrote ``{count, ratio}``, a bytes ratio) is not that
        statistic: None."""
        buckets = self.get("compression.length_buckets", {})
        return {str(k): (float(v) if _is_number(v) else None) for k, v in buckets.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fits(value: Any, kind: str) -> bool:
    if kind == _NUMBER:
        return _is_number(value)
    if kind == "a boolean":
        return isinstance(value, bool) or _is_number(value)  # earlier aura-lab exports wrote the count
    return isinstance(value, {"a string": str, "an object": dict}[kind])


def looks_like_export(data: Any) -> bool:
    """A JSON document with the export's sections (``summary`` and one of ``latencies``,
    ``compression``, ``config``)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("summary"), dict)
        and any(isinstance(data.get(k), dict) for k in ("latencies", "compression", "config"))
    )


def load_export(path: str | Path) -> Export:
    """The peer's export JSON at ``path`` (``stress_test_50_users.py``'s results file, or
    ``aura-lab run --export``), checked key by key: a wrong type names the key and the
    file, never a traceback later."""
    path = Path(path)
    data = read_json_file(path, "export", fix="give the export JSON the peer's stress test (or --export) wrote")
    if not looks_like_export(data):
        raise InputError(
            "not the peer's export JSON: expected a 'summary' object and 'latencies', 'compression' or 'config'",
            where=str(path),
            fix="give the results file the peer's stress test or `aura-lab run --export` wrote",
        )
    export = Export(path, data)
    for key, kind in EXPORT_KEYS.items():
        value = export.get(key)
        if value is not None and not _fits(value, kind):
            raise _wrong(path, key, f"{kind} or null", value)
    for bucket, value in export.get("compression.length_buckets", {}).items():
        if value is not None and not (_is_number(value) or isinstance(value, dict)):
            raise _wrong(path, f"compression.length_buckets.{bucket}", "a number or null", value)
    for method, count in export.get("compression.method_counts", {}).items():
        if not _is_number(count):
            raise _wrong(path, f"compression.method_counts.{method}", "a number", count)
    return export


def _wrong(path: Path, key: str, kind: str, value: Any) -> InputError:
    return InputError(
        f"{key!r} must be {kind}, got {value!r}"[:300],
        where=str(path),
        fix="the file is not as the peer writes it: export it again",
    )


def find_exports(folder: str | Path) -> list[Path]:
    """The export files in ``folder`` (``*.json`` holding the export's sections), by name.
    A run folder's own ``manifest.json`` and ``summary.json`` are not exports."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        if path.name in ("manifest.json", "summary.json") or not path.is_file():
            continue
        if path.stat().st_size > EXPORT_LIMIT:
            continue
        try:
            data = read_json_file(path, "export")
        except InputError:
            continue  # another JSON file, or a broken one: not this folder's export
        if looks_like_export(data):
            found.append(path)
    return found
