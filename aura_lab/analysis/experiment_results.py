"""An experiment's results as written (``aura-lab experiment``): the tables and the text,
read back from its folder for the notebooks; and which experiment is the latest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..traces.experiment_folder import COSTS, DIVERGENCE, RESULTS, TEXT, ExperimentFolder


def load_experiment(path: str | os.PathLike) -> dict[str, Any]:
    """``results``, ``costs``, ``divergence`` (tables), ``text`` and ``manifest`` of a
    finished experiment's folder."""
    folder = ExperimentFolder(path)
    if not folder.is_experiment():
        raise InputError("not an experiment folder (no experiment.json)", where=str(path),
                         fix="give the folder aura-lab experiment wrote (-o OUT)")  # fmt: skip
    manifest = folder.read_manifest()
    if manifest.get("status") != "complete" or not folder.file(RESULTS).is_file():
        raise InputError(f"the experiment is {manifest.get('status')}: it has no results", where=str(path),
                         fix=manifest.get("error") or "run it to the end")  # fmt: skip
    return {
        "folder": folder.path,
        "manifest": manifest,
        "results": pd.read_csv(folder.file(RESULTS)),
        "costs": pd.read_csv(folder.file(COSTS)),
        "divergence": pd.read_csv(folder.file(DIVERGENCE)),
        "text": folder.file(TEXT).read_text(encoding="utf-8"),
    }


def latest_experiment(root: str | os.PathLike) -> Path | None:
    """The newest complete experiment under ``root`` (by its start time), or None."""
    found = []
    for candidate in Path(root).glob("*/"):
        folder = ExperimentFolder(candidate)
        if folder.is_experiment():
            try:
                manifest = folder.read_manifest()
            except InputError:
                continue
            if manifest.get("status") == "complete":
                found.append((str(manifest.get("started_at")), candidate))
    return max(found)[1] if found else None
