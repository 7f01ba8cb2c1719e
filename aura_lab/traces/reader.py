"""Reading traces into pandas: a run folder, several, a folder of runs, or the peer's
per-user JSONL traces. The one chokepoint for reading; ``schema.py`` is the one schema."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ..errors import DataWarning, InputError
from .folder import RunFolder
from .peer import load_peer_traces
from .schema import CATEGORICAL, SCHEMA, empty_frame, to_frame


def part_files(run_folder: Path) -> list[Path]:
    """The part files of a run folder, in name order (``RunFolder.parts``)."""
    return RunFolder(run_folder).parts()


def load_traces(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Traces as a DataFrame, from one run folder, several, a folder of runs, or the
    peer's JSONL trace folder (``user_<id>_traces.jsonl``). A part file that cannot be
    read (empty, truncated, corrupt) is skipped with a ``DataWarning`` that names it."""
    if not isinstance(path, (str, os.PathLike)):
        return _concat([load_traces(p) for p in path])
    path = Path(path)
    if not path.exists():
        raise InputError("no such trace folder", where=str(path), fix="give a run folder under data/traces/")
    if path.is_file() and path.suffix == ".parquet":
        try:
            return to_frame(pq.read_table(path, schema=SCHEMA))
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read the trace part: {_reason(exc)}", where=str(path)) from None
    if (path / "traces").is_dir():
        return _relabelled(read_parts(part_files(path)), RunFolder(path).codec_labels())
    peer = sorted(path.glob("user_*_traces.jsonl"))
    if peer:
        return load_peer_traces(path)
    runs = sorted(p for p in path.iterdir() if (p / "traces").is_dir()) if path.is_dir() else []
    if runs:
        return _concat([load_traces(r) for r in runs])
    raise InputError(
        "not a run folder, a folder of runs, or a peer trace folder",
        where=str(path),
        fix="expected traces/part-*.parquet or user_<id>_traces.jsonl inside",
    )


# in every trace part since the first schema: a part without them is not one
CORE_COLUMNS = ("run_id", "user_id", "turn")


def read_parts(parts: list[Path]) -> pd.DataFrame:
    """Part files as one DataFrame; unreadable parts are skipped with a warning each."""
    schemas = {}
    for part in parts:
        try:
            schema = pq.read_schema(part)
        except (OSError, pa.ArrowException) as exc:
            _skipped(part, exc)
            continue
        missing = [name for name in CORE_COLUMNS if name not in schema.names]
        if missing:  # Parquet, but not a trace part: its rows would be junk records
            _skipped(part, ValueError(f"not a trace part: no {', '.join(missing)} column"))
            continue
        schemas[part] = schema
    good = list(schemas)
    if not good:
        return empty_frame()
    # one multi-threaded read of every part (several times faster than a loop); with
    # schema= only when some part predates a column (that read is twice as slow)
    current = all(s.equals(SCHEMA) for s in schemas.values())
    try:
        dataset = pads.dataset([str(p) for p in good], format="parquet", schema=None if current else SCHEMA)
        return to_frame(dataset.to_table())
    except (OSError, pa.ArrowException):
        pass  # a part whose footer reads but whose data does not: find it, one by one
    tables = []
    for part in good:
        try:
            tables.append(pq.read_table(part, schema=SCHEMA))
        except (OSError, pa.ArrowException) as exc:
            _skipped(part, exc)
    return to_frame(pa.concat_tables(tables)) if tables else empty_frame()


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _skipped(part: Path, exc: BaseException) -> None:
    warnings.warn(
        DataWarning(
            f"{part}: trace part skipped, it cannot be read ({_reason(exc)}); the other parts are loaded "
            "(a part cut short by a crash or a full disk; move it away to silence this)"
        ),
        stacklevel=3,
    )


def _relabelled(df: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Codec labels as the manifest names them (a label learnt during the run)."""
    if not labels or df.empty:
        return df
    return df.assign(codec=df["codec"].astype(str).replace(labels).astype("category"))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)] or [empty_frame()]
    df = pd.concat([f.astype({c: "object" for c in CATEGORICAL if c in f}) for f in frames], ignore_index=True)
    for name in CATEGORICAL:
        if name in df:
            df[name] = df[name].astype("category")
    return df
