"""Opening runs: the latest run for notebooks opened by hand, and its clear error."""

from __future__ import annotations

import json
import shutil

import pytest

import aura_lab
from aura_lab.analysis.run import latest_run, latest_runs
from aura_lab.config import RunConfig
from aura_lab.errors import InputError


def _fake_run(root, name, started):
    folder = root / name
    (folder / "traces").mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"run_id": name, "started_at": started}))
    return folder


def test_latest_runs_by_start_time(tmp_path):
    root = tmp_path / "data" / "traces"
    _fake_run(root, "b-older", "2026-01-01T10:00:00+00:00")
    _fake_run(root, "a-newer", "2026-01-02T10:00:00+00:00")
    (root / "junk").mkdir()  # not a run folder
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{not json")
    assert latest_runs(2, where=[root]) == [root / "a-newer", root / "b-older"]


def test_latest_run_prefers_the_current_folder_and_says_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data" / "traces"
    _fake_run(root, "here", "2020-01-01T00:00:00+00:00")
    assert latest_run().resolve() == (root / "here").resolve()
    with pytest.raises(InputError) as error:
        latest_runs(2, where=[root])
    assert "only 1 run(s) found, 2 needed" in str(error.value) and "aura-lab run" in str(error.value)
    with pytest.raises(InputError, match="no run found"):
        latest_runs(1, where=[tmp_path / "empty"])


def test_a_run_folder_without_its_manifest_opens_and_says_so(small_run, tmp_path):
    """Trace parts alone (a run killed before its manifest was written, or records written
    by hand) open with a synthesized manifest; options fall back to aura-lab's defaults."""
    folder = tmp_path / "bare"
    shutil.copytree(small_run.path / "traces", folder / "traces")
    run = aura_lab.load_run(folder)
    assert run.kind == "trace folder" and run.status == "unknown"
    assert run.codecs == small_run.codecs and run.primary_codec == small_run.primary_codec
    assert any("manifest" in m for m in run.missing) and "not an aura-lab run folder" in run.missing_markdown()
    assert run.option("min_compression_size") == 35 and run.option("corpus_weight") == RunConfig.corpus_weight
    assert run.summary["codecs"]["aura"]["overall_ratio"] == small_run.summary["codecs"]["aura"]["overall_ratio"]


def test_nothing_to_open_names_what_was_looked_for(tmp_path):
    with pytest.raises(InputError, match="not a run folder, nor the peer's trace folder or export"):
        aura_lab.load_run(tmp_path)
    with pytest.raises(InputError, match="no such run folder"):
        aura_lab.load_run(tmp_path / "missing")
