"""Real ``aura-lab`` processes for the fault tests: started with resource limits of their
own (``preexec_fn``, so this test process keeps its limits), watched through a server's
``GET /health`` count, and looked for afterwards in /proc."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def aura_lab(*args: str, cwd: Path, limits: dict | None = None, env: dict | None = None) -> subprocess.Popen:
    """``python -m aura_lab ARGS`` with its own rlimits (``{resource.RLIMIT_X: (soft, hard)}``)."""

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit gives EFBIG, not death
        for which, value in (limits or {}).items():
            resource.setrlimit(which, value)

    return subprocess.Popen(
        [sys.executable, "-m", "aura_lab", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
        env={**os.environ, **(env or {})},
    )


def health(url: str) -> dict:
    http = url.replace("ws://", "http://")
    with urllib.request.urlopen(f"{http}/health", timeout=10) as response:
        return json.loads(response.read())


def served(url: str) -> int:
    """Messages the server has answered so far (its own count)."""
    return int(health(url)["messages_served"])


def wait_for(predicate, seconds: float, every: float = 0.02) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(every)
    return False


def processes_in(folder: Path) -> list[int]:
    """Live processes whose working directory is under ``folder`` (a run's child servers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd.startswith(str(folder)) and state != "Z":
            found.append(int(proc.name))
    return found
