"""``paths.write_atomic``: a write that fails halfway (a full disk, here a file-size
limit) leaves the user's old file whole and no ``.tmp`` behind; the files aura-lab
writes for users (metadata, profiles, templates, reports) go through it."""

from __future__ import annotations

import subprocess
import sys

WRITE_UNDER_A_SIZE_LIMIT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as a full disk gives ENOSPC
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from aura_lab.traffic.slots import write_metadata
try:
    write_metadata({"templates": {"1": {"slot_examples": [["x" * 100_000]]}}}, sys.argv[1])
except OSError as exc:
    print(exc.strerror)
"""


def test_a_write_that_fails_halfway_keeps_the_old_file(tmp_path):
    target = tmp_path / "metadata.json"
    target.write_text('{"templates": {}}\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", WRITE_UNDER_A_SIZE_LIMIT, str(target)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "File too large", done.stderr
    assert target.read_text(encoding="utf-8") == '{"templates": {}}\n'  # whole, not cut at 4 KB
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.json"]


def test_a_write_that_succeeds_replaces_the_file(tmp_path):
    from aura_lab.paths import write_atomic

    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    assert write_atomic(target, "new ü") == target
    assert target.read_text(encoding="utf-8") == "new ü"
    assert write_atomic(tmp_path / "s.json", "\ud800", errors="backslashreplace").read_text() == "\\ud800"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "s.json"]
