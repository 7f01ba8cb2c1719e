"""A run as the analysis sees it: its folder, manifest, summary and traces.

``load_run(path)`` opens a run folder; ``aura_lab.run()`` returns the same ``Run``;
``latest_run()`` finds the newest one (what a notebook opens when no ``run_path`` is
given). ``Run.primary_codec`` and ``Run.rows(...)`` are the one way to ask for "the
primary codec" and "the successful main-phase rows of a codec"; ``summarise_run`` the
one way to summarise a run's traces with what its manifest knows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder
from ..traces.reader import load_traces
from . import metrics
from .churn import slot_space_of
from .summary import summarise
from .text import format_summary


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

    @property
    def slot_space(self) -> dict[int, int] | None:
        """``{template_id: slot fillings available}`` as the run recorded it (churn)."""
        return slot_space_of(self.manifest.files)

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
    return Run(folder.path, manifest, summarise_run(traces, manifest), traces)


def summarise_run(traces: pd.DataFrame, manifest: Manifest, phase: str | None = "main") -> dict:
    """The summary of a run's traces (one phase; None: all), with what its manifest knows: the
    primary codec, the slot values available (churn), which servers hold templates
    (hit rate applies), their ``min_compression_size`` (the verdict's lever), and what the
    traffic was (its line and profile)."""
    template_codecs = None
    if manifest.servers and all(s.health for s in manifest.servers):
        template_codecs = [s.codec for s in manifest.servers if (s.health or {}).get("templates")]
    summary = summarise(
        traces,
        phase=phase,
        primary_codec=manifest.primary_codec,
        slot_space=slot_space_of(manifest.files),
        template_codecs=template_codecs,
        min_compression_size=manifest.options.get("min_compression_size"),
    )
    summary["warmup"] = manifest.warmup
    summary["traffic"] = manifest.traffic
    summary["profile"] = (manifest.profile or {}).get("name")
    return summary


def latest_runs(count: int = 1, where: list[str | os.PathLike] | None = None) -> list[Path]:
    """The ``count`` newest run folders (newest first, by start time in the manifest)
    under the first of these that holds any: ``data/traces`` of the current folder, then
    of the repository (a checkout; so a notebook opened from ``notebooks/`` finds the
    runs made from the repository root). ``where`` overrides the folders. A clear error
    when there are fewer."""
    roots = [Path(w) for w in where] if where else [Path.cwd() / paths.DEFAULT_TRACE_DIR]
    if not where and paths.notebooks_dir() is not None:
        roots.append(paths.PACKAGE_DIR.parent / paths.DEFAULT_TRACE_DIR)
    found: dict[Path, str] = {}
    for root in roots:
        if found:
            break
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            if RunFolder(folder).is_run():
                try:
                    started = RunFolder(folder).read_manifest().started_at or ""
                except InputError:
                    continue  # a broken manifest is not "the latest run"
                found[folder] = started
    newest = sorted(found, key=lambda f: (found[f], f.name), reverse=True)
    if len(newest) < count:
        searched = ", ".join(str(r) for r in dict.fromkeys(roots))
        raise InputError(
            f"{'no run' if not newest else f'only {len(newest)} run(s)'} found, {count} needed",
            where=searched,
            fix="run `aura-lab run` first, or set run_path to a run folder",
        )
    return newest[:count]


def latest_run() -> Path:
    """The newest run folder under ``data/traces`` (see ``latest_runs``)."""
    return latest_runs(1)[0]
