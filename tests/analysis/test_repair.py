"""aura_lab.analysis.repair (``aura-lab doctor``): a run folder made whole from its parts."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow.parquet as pq
import pytest

from aura_lab import cli
from aura_lab.analysis.repair import repair_run
from aura_lab.errors import InputError
from aura_lab.system import this_process
from aura_lab.traces.folder import Manifest, RunFolder, ServerInfo
from aura_lab.traces.writer import TraceWriter
from tests.traces.test_failures import gone_pid
from tests.traces.test_traces import record


def killed_run(tmp_path, n: int = 40) -> RunFolder:
    """A folder as SIGKILL leaves it: parts, a manifest saying running, no summary."""
    run = RunFolder.create(tmp_path, "killed")
    with TraceWriter(run.traces_dir, flush_rows=15) as writer:
        writer.write_many(record(i, "killed") for i in range(n))
    manifest = Manifest(
        run_id="killed",
        status="running",
        host={**this_process(), "pid": gone_pid()},
        planned_messages=100,
        servers=[ServerInfo("ws://127.0.0.1:1", "aura", True)],
    )
    run.write_manifest(manifest)
    return run


def test_doctor_repairs_a_killed_run(tmp_path):
    run = killed_run(tmp_path)
    (run.traces_dir / "part-0000-000009.parquet.tmp").write_bytes(b"half a part")
    parts = run.parts()
    shutil.copy(parts[0], run.path / f"unsaved-{os.getpid()}-part-0000-000004.parquet")  # a fallback part
    (run.traces_dir / "part-0000-000007.parquet").write_bytes(b"PAR1 not really")
    done = repair_run(run.path)
    text = "\n".join(done)
    assert "removed part-0000-000009.parquet.tmp" in text
    assert "into traces/ as part-0000-000008.parquet" in text
    assert "set part-0000-000007.parquet aside" in text
    written = json.loads(run.manifest_path.read_text())
    assert written["status"] == "incomplete" and written["ended_at"].startswith("2023-11-14")
    adopted = pq.read_metadata(parts[0]).num_rows
    records = 40 + adopted
    assert done[-1] == f"wrote manifest.json and summary.json ({records} records)"
    # main-phase records of the primary codec (aura): i >= 10 and i % 3 == 0, plus the adopted part's
    main = sum(1 for i in range(40) if i >= 10 and i % 3 == 0) + sum(1 for i in range(15) if i >= 10 and i % 3 == 0)
    assert f"recorded {main} main-phase messages of 100 planned" in written["notes"]
    assert json.loads(run.summary_path.read_text())["codecs"]["aura"]["messages"] == main
    assert repair_run(run.path)[-1] == done[-1]  # a second pass finds nothing more to do


def test_doctor_leaves_a_live_run_alone(tmp_path):
    run = killed_run(tmp_path)
    run.write_manifest(Manifest(run_id="killed", status="running", host=this_process()))
    with pytest.raises(InputError, match="the run is still going"):
        repair_run(run.path)
    elsewhere = Manifest(run_id="killed", status="running", host={**this_process(), "hostname": "far-away"})
    run.write_manifest(elsewhere)
    with pytest.raises(InputError, match="pass --force"):
        repair_run(run.path)
    repair_run(run.path, force=True)
    written = json.loads(run.manifest_path.read_text())
    assert written["status"] == "incomplete" and any("--force" in note for note in written["notes"])


def test_doctor_on_a_folder_without_manifest_and_on_no_run(tmp_path, capsys):
    run = killed_run(tmp_path)
    run.manifest_path.unlink()
    assert cli.main(["doctor", str(run.path)]) == 0
    assert "wrote a minimal one" in capsys.readouterr().out
    assert RunFolder(run.path).read_manifest().status == "incomplete"
    (tmp_path / "empty").mkdir()
    assert cli.main(["doctor", str(tmp_path / "empty")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_doctor_never_throws_a_summary_away(tmp_path):
    """A run whose traces/ is gone is refused (doctor once wrote an empty summary over its
    good one and left it 'complete'); a summary rebuilt from fewer records keeps the one
    it had beside it, and the manifest says which parts could not be read."""
    run = killed_run(tmp_path)
    repair_run(run.path)
    summary = run.summary_path.read_bytes()
    shutil.move(run.traces_dir, tmp_path / "elsewhere")
    with pytest.raises(InputError, match="traces/ is gone"):
        repair_run(run.path)
    assert run.summary_path.read_bytes() == summary and not run.traces_dir.exists()
    shutil.move(tmp_path / "elsewhere", run.traces_dir)
    run.parts()[0].write_bytes(b"PAR1 not really")
    done = repair_run(run.path)
    assert "kept the summary it had as summary.before-doctor.json" in done
    assert (run.path / "summary.before-doctor.json").read_bytes() == summary
    notes = json.loads(run.manifest_path.read_text())["notes"]
    assert any("set 1 trace part(s) aside" in note for note in notes)


@pytest.mark.parametrize("odd", ["manifest.json", "traces"])
def test_doctor_on_a_folder_laid_out_wrongly_is_one_error(tmp_path, odd):
    """manifest.json as a folder, or traces as a file: an IsADirectoryError or a
    FileExistsError traceback before; now the error names what is wrong."""
    run = killed_run(tmp_path)
    shutil.rmtree(run.traces_dir) if odd == "traces" else run.manifest_path.unlink()
    (run.path / odd).mkdir() if odd == "manifest.json" else (run.path / odd).write_text("x")
    with pytest.raises(InputError, match=f"{odd} is a (folder|file)"):
        repair_run(run.path)
