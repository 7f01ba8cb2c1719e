"""A trace disk that fills up mid-run (every later write fails, the manifest's
included): the rows and the final
manifest are kept in the temp dir under the run's id, and ``aura-lab doctor`` puts them
back once the folder can be written. Before, the rows sat in ``/tmp/unsaved-*``, the
manifest said ``running`` and doctor reported "incomplete, 0 of N" without finding them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

import aura_lab
from tests.support.processes import aura_lab as start
from tests.support.processes import wait_for


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def fill(path) -> None:
    """Take every byte the disk has left (it may be full already: then nothing to take)."""
    try:
        with open(path, "wb", buffering=0) as out:  # unbuffered: nothing left to fail at close
            while True:
                out.write(b"\0" * (1 << 16))
    except OSError:
        pass


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)):
        pytest.skip("needs root and tmpfs to make a disk that fails")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.timeout(180)
def test_rows_and_manifest_kept_aside_and_doctor_restores_them(small_disk, tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    process = start(
        "run", "--codec", "identity", "--users", "4", "--messages-per-user", "400", "--think-time", "0.01",
        "--trace-dir", small_disk, "--run-id", "full", "--quiet", cwd=tmp_path, env=env,
    )  # fmt: skip
    folder = small_disk / "full"
    assert wait_for(lambda: any((folder / "traces").glob("part-*.parquet")), 60), process.communicate()
    fill(small_disk / "filler")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    aside = temp / "aura-lab-unsaved" / "full"
    assert f"saved in {aside / 'manifest.json'}" in err, err
    saved = json.loads((aside / "manifest.json").read_text())
    assert saved["status"] == "failed" and "trace write failed" in saved["error"]
    unsaved_rows = sum(pq.read_metadata(p).num_rows for p in aside.glob("unsaved-*.parquet"))
    in_folder = len(aura_lab.load_traces(folder))
    assert unsaved_rows > 0
    assert json.loads((folder / "manifest.json").read_text())["status"] == "running"  # what the disk kept

    (small_disk / "filler").unlink(missing_ok=True)  # room again
    doctor = subprocess.run(
        [sys.executable, "-m", "aura_lab", "doctor", str(folder)],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    assert doctor.returncode == 0, doctor.stderr
    assert "restored (status failed)" in doctor.stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "trace write failed" in manifest["error"]
    assert len(aura_lab.load_traces(folder)) == in_folder + unsaved_rows
    assert not aside.exists()  # all of it is back in the run folder
