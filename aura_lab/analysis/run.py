"""A run as the analysis sees it: its folder, manifest, summary and traces.

``load_run(path)`` opens a run folder, the peer's trace folder (with its export beside
it) or an export alone (``analysis.run_sources``: a synthesized manifest, and ``missing``
saying what such a run lacks); ``aura_lab.run()`` returns the same ``Run``;
``latest_run()`` finds the newest one (what a notebook opens when no ``run_path`` is
given). ``Run.primary_codec`` and ``Run.rows(...)`` are the one way to ask for "the
primary codec" and "the successful main-phase rows of a codec"; ``summarise_run`` the
one way to summarise a run's traces with what its manifest knows.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import paths
from ..config import RunConfig
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder
from ..traces.peer import Export, find_exports, is_peer_trace_folder
from ..traces.reader import load_traces
from . import metrics
from .churn import slot_space_of
from .run_sources import Opened, open_export, open_peer_folder, open_trace_parts
from .summary import summarise
from .text import format_summary, md

RUN_FOLDER = "run folder"
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)}


@dataclass
class Run:
    """A finished (or interrupted) run. ``kind`` says what it was read from ("run
    folder", "peer trace folder", "peer export", "aura-lab export"); ``missing`` what
    that source lacks, one sentence each (empty for a run folder); ``export`` the
    export read with it, if any."""

    path: Path
    manifest: Manifest
    summary: dict
    _traces: pd.DataFrame | None = field(default=None, repr=False)
    kind: str = RUN_FOLDER
    missing: list[str] = field(default_factory=list)
    export: Export | None = field(default=None, repr=False)

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
    def has_records(self) -> bool:
        """False for a run read from an export alone: it has figures, no per-message records."""
        return not self.kind.endswith("export")

    def option(self, name: str) -> Any:
        """A run option as the manifest records it; aura-lab's default when the manifest
        does not (a peer trace folder has none: ``missing`` says so)."""
        value = self.manifest.options.get(name)
        if value is None and name in _DEFAULTS:
            default = _DEFAULTS[name]
            return list(default) if isinstance(default, tuple) else default
        return value

    def missing_markdown(self) -> str:
        """What this run lacks, as a Markdown block for a notebook (empty for a run folder)."""
        if not self.missing:
            return ""
        lines = [f"**This is a {md(self.kind)}, not an aura-lab run folder.** What it lacks, and what that means here:"]
        return "\n".join([*lines, *(f"- {md(m)}" for m in self.missing)])

    @property
    def slot_space(self) -> dict[int, int] | None:
        """``{template_id: slot fillings available}`` as the run recorded it (churn)."""
        return slot_space_of(self.manifest.files)

    @property
    def title(self) -> str:
        """ "run <id> (<status>)", or what the run was read from (the peer's files)."""
        return f"run {self.run_id} ({self.status})" if self.kind == RUN_FOLDER else f"{self.kind} {self.path}"

    @property
    def has_template_records(self) -> bool:
        """Some record names the template its message was built from (the peer's traces
        never do): per-template figures have something to work on."""
        return self.has_records and bool(self.traces["template_id"].notna().any())

    def summary_text(self) -> str:
        return format_summary(self.summary, title=self.title)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, status={self.status!r}, path={str(self.path)!r})"


def load_run(path: str | os.PathLike) -> Run:
    """The run at ``path``: a run folder (``data/traces/<run_id>``), the peer's trace
    folder (``user_<id>_traces.jsonl``, with its export beside it when there is one),
    or an export JSON (a file, or a folder holding only one). A run without a summary
    (killed before it ended, or the peer's) gets one computed from its traces."""
    path = Path(path)
    folder = RunFolder(path)
    if folder.is_run():
        manifest = folder.read_manifest()
        summary = folder.read_summary()
        if summary is not None:
            return Run(folder.path, manifest, summary)
        traces = load_traces(folder.path)
        return Run(folder.path, manifest, summarise_run(traces, manifest), traces)
    if not path.exists():
        raise InputError("no such run folder or file", where=str(path), fix="give a folder under data/traces/")
    if path.is_file():
        return _from(path, open_export(path))
    if is_peer_trace_folder(path):
        return _from(path, open_peer_folder(path))
    if folder.parts():
        return _from(path, open_trace_parts(path))
    exports = find_exports(path)
    if len(exports) == 1:
        return _from(exports[0], open_export(exports[0]))
    raise InputError(
        "no manifest.json: not a run folder, nor the peer's trace folder or export"
        + (f" (several exports: {', '.join(p.name for p in exports)})" if exports else ""),
        where=str(path),
        fix="give a folder under data/traces/, a folder of user_<id>_traces.jsonl, or one export JSON file",
    )


def _from(path: Path, opened: Opened) -> Run:
    summary = opened.summary if opened.summary is not None else summarise_run(opened.traces, opened.manifest)
    return Run(path, opened.manifest, summary, opened.traces, opened.kind, opened.missing, opened.export)


def summarise_run(traces: pd.DataFrame, manifest: Manifest, phase: str | None = "main") -> dict:
    """The summary of a run's traces (one phase; None: all), with what its manifest knows: the
    primary codec, the slot values available (churn), which servers hold templates
    (hit rate applies), their ``min_compression_size`` (the verdict's lever), and what the
    traffic was (its line and profile), and the servers given up on (``dead_servers``)."""
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
    summary["dead_servers"] = {s.url: s.dead for s in manifest.servers if s.dead}
    summary["client"] = manifest.client  # None: not measured (an older run)
    rate = manifest.options.get("arrival_rate")
    if rate and phase == "main":
        lateness = metrics.send_lateness(metrics.select(traces, phase="main", codec=manifest.primary_codec))
        summary["send_lateness_ms"] = lateness
        summary["behind_schedule"] = metrics.behind_schedule(lateness, rate)
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
