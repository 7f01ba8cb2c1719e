"""The experiment folder, its one owner: what ``aura-lab experiment SPEC -o OUT`` writes.

- ``spec.toml``: the spec as given;
- ``experiment.json``: what the experiment was and what happened to it (status
  ``running``, then ``complete``, ``interrupted`` or ``failed``; every run with its
  traffic, replicate, arm and folder), rewritten after every run;
- ``runs/<run_id>/``: one ordinary run folder per traffic, replicate and arm;
- ``results.csv``: the tidy table (one row per traffic, variant, codec and metric);
- ``costs.csv``: ratio beside CPU and memory per codec (the Pareto figures);
- ``divergence.csv``: how far each variant's traffic is from the baseline's;
- ``results.txt``: the text table; ``report.html``: the self-contained report.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs import read_json_file
from .folder import write_json

SPEC = "spec.toml"
MANIFEST = "experiment.json"
RUNS = "runs"
RESULTS = "results.csv"
COSTS = "costs.csv"
DIVERGENCE = "divergence.csv"
TEXT = "results.txt"
REPORT = "report.html"
DEFAULT_ROOT = Path("data") / "experiments"


class ExperimentFolder:
    """The files of one experiment."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def create(
        cls, path: str | os.PathLike | None, name: str, root: str | os.PathLike | None = None
    ) -> ExperimentFolder:
        """A new folder (``<root>/<name>-<UTC time>``, root ``data/experiments`` by
        default, when no ``path``); a folder holding an experiment already is refused."""
        stamp = f"{name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        target = Path(path) if path is not None else Path(root or DEFAULT_ROOT) / stamp
        folder = cls(target)
        if folder.manifest_path.exists():
            raise InputError("an experiment is there already", where=str(target), fix="give another -o folder")
        try:
            folder.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the experiment folder: {exc.strerror}", where=str(target)) from None
        return folder

    def is_experiment(self) -> bool:
        return self.manifest_path.is_file()

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def runs_dir(self) -> Path:
        return self.path / RUNS

    def file(self, name: str) -> Path:
        """One of the folder's files by its name (``RESULTS``, ``COSTS``, ...)."""
        return self.path / name

    def read_manifest(self) -> dict:
        data = read_json_file(self.manifest_path, "experiment manifest", fix="give an experiment's output folder")
        if not isinstance(data, dict):
            raise InputError("an experiment manifest must be a JSON object", where=str(self.manifest_path))
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.manifest_path, manifest)
