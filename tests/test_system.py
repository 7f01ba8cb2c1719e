"""aura_lab.system: file-descriptor room, process liveness, scratch dirs of dead runs."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from aura_lab.system import clean_stale_scratch, ensure_fds, fd_limits, process_alive, this_process


def gone_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_ensure_fds_raises_the_soft_limit_within_the_hard_one():
    code = (
        "import resource; from aura_lab.system import ensure_fds; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (200, 400)); "
        "a = ensure_fds(300); b = ensure_fds(500); "
        "print(a.ok, a.raised, a.soft, b.ok, b.soft, b.hard, b.fix())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 6)
    assert out[:6] == ["True", "True", "300", "False", "300", "400"]
    assert "ulimit -n 500" in out[6]


def test_ensure_fds_within_the_limit_changes_nothing():
    soft, _hard = fd_limits()
    check = ensure_fds(10)
    assert check.ok and not check.raised and resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft


def test_process_alive():
    assert process_alive(this_process()) is True
    assert process_alive({**this_process(), "pid": gone_pid()}) is False
    assert process_alive({**this_process(), "process_started": "1"}) is False  # the pid was reused
    assert process_alive({**this_process(), "hostname": "elsewhere"}) is None
    assert process_alive({}) is None


def test_only_scratch_dirs_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / f"aura-lab-servers-{gone_pid()}-abc"
    dead_child = tmp_path / f"aura-lab-server-{gone_pid()}-def"
    # a --verify checker and an aura codec killed with their run (these leaked, one a test run)
    dead_checker = tmp_path / f"aura-lab-verify-{gone_pid()}-jkl"
    dead_codec = tmp_path / f"aura-lab-aura-{gone_pid()}-mno"
    alive = tmp_path / f"aura-lab-servers-{os.getpid()}-ghi"
    other = tmp_path / "aura-lab-servers-notapid"
    for folder in (dead, dead_child, dead_checker, dead_codec, alive, other):
        (folder / "inside").mkdir(parents=True)
    removed = clean_stale_scratch(str(tmp_path))
    assert sorted(removed) == sorted(map(str, [dead, dead_child, dead_checker, dead_codec]))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])
