"""A run as the analysis sees it: its folder, manifest, summary and traces.

``load_run(path)`` opens a run folder; ``aura_lab.run()`` returns the same ``Run``.
``Run.primary_codec`` and ``Run.rows(...)`` are the one way to ask for "the primary
codec" and "the successful main-phase rows of a codec".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..traces.folder import Manifest, RunFolder
from ..traces.reader import load_traces
from . import metrics
from .summary import format_summary, summarise


@dataclass
class Run:
    """A finished (or interrupted) run."""

    path: Path
    manifest: Manifest
    summary: dict
    _traces: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def status(self) -> str:
        return self.manifest.status

    @property
    def primary_codec(self) -> str | None:
        """The codec of the run's first server: its headline figures are this codec's."""
        return self.manifest.primary_codec or self.summary.get("primary_codec")

    @property
    def codecs(self) -> list[str]:
        """Every codec of the run, the primary first."""
        return list(self.summary.get("codecs", {}))

    @property
    def traces(self) -> pd.DataFrame:
        """Every record of the run (all phases, all codecs), loaded on first use."""
        if self._traces is None:
            self._traces = load_traces(self.path)
        return self._traces

    def rows(self, phase: str | None = "main", codec: str | None = "primary", ok: bool = False) -> pd.DataFrame:
        """The records of one phase (``None``: all) and one codec (``"primary"``, a codec
        name, or ``None`` for every codec), only successful replies when ``ok``."""
        if codec == "primary":
            codec = self.primary_codec
        return metrics.select(self.traces, phase=phase, codec=codec, ok=ok)

    def summary_text(self) -> str:
        return format_summary(self.summary, title=f"run {self.run_id} ({self.status})")

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, status={self.status!r}, path={str(self.path)!r})"


def load_run(path: str | os.PathLike) -> Run:
    """The run in folder ``path`` (``data/traces/<run_id>``). A run without a summary
    (killed before it ended) gets one computed from its traces."""
    folder = RunFolder(path)
    if not folder.is_run():
        raise InputError(
            "no manifest.json: not a run folder", where=str(folder.path), fix="give a folder under data/traces/"
        )
    manifest = folder.read_manifest()
    summary = folder.read_summary()
    if summary is not None:
        return Run(folder.path, manifest, summary)
    traces = load_traces(folder.path)
    return Run(folder.path, manifest, summarise(traces, primary_codec=manifest.primary_codec), traces)
