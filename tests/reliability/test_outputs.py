"""Outputs never replace what is not a regular file: ``--export`` or ``-o`` onto a device
or a pipe is refused before any work, and the atomic write refuses it too (its rename
would have turned ``/dev/full`` into a regular file, as root)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from aura_lab import paths


def test_export_onto_a_character_device_is_refused_and_the_device_stays(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "aura_lab", "run", "--codec", "identity", "--users", "1", "--export", "/dev/null",
         "--trace-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "/dev/null" in done.stderr and "not a regular file" in done.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not any(tmp_path.iterdir())  # nothing ran


def test_report_output_onto_a_pipe_is_refused(tmp_path):
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "aura_lab", "report", str(tmp_path), "-o", str(fifo)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "not a regular file" in done.stderr, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_the_atomic_write_refuses_to_replace_a_pipe(tmp_path):
    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        paths.write_atomic(fifo, "{}")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and not (tmp_path / "export.json.tmp").exists()
