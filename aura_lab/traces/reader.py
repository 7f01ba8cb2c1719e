"""Reading traces into pandas: a run folder, several, a folder of runs, or the peer's
per-user JSONL traces. The one chokepoint for reading; ``schema.py`` is the one schema."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ..errors import InputError
from .folder import RunFolder
from .peer import load_peer_traces
from .schema import CATEGORICAL, SCHEMA, empty_frame, to_frame


def part_files(run_folder: Path) -> list[Path]:
    return sorted((run_folder / "traces").glob("part-*.parquet"))


def load_traces(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Traces as a DataFrame, from one run folder, several, a folder of runs, or the
    peer's JSONL trace folder (``user_<id>_traces.jsonl``)."""
    if not isinstance(path, (str, os.PathLike)):
        return _concat([load_traces(p) for p in path])
    path = Path(path)
    if not path.exists():
        raise InputError("no such trace folder", where=str(path), fix="give a run folder under data/traces/")
    if path.is_file() and path.suffix == ".parquet":
        return to_frame(pq.read_table(path, schema=SCHEMA))
    if (path / "traces").is_dir():
        parts = part_files(path)
        if not parts:
            return empty_frame()
        # one multi-threaded read of every part (several times faster than a loop); with
        # schema= only when some part predates a column (that read is twice as slow)
        current = all(pq.read_schema(p).equals(SCHEMA) for p in parts)
        dataset = pads.dataset([str(p) for p in parts], format="parquet", schema=None if current else SCHEMA)
        return _relabelled(to_frame(dataset.to_table()), RunFolder(path).codec_labels())
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
