"""What the machine allows, and who is still alive.

- File descriptors: every connection holds one, so a run or a server that needs more
  than the soft limit raises it (up to the hard limit) before it starts, or says at once
  which ``ulimit -n`` it needs; it never finds out halfway through.
- Process liveness: a run folder records its process (pid, host, start time); when the
  manifest still says ``running`` and that process is gone, the run was killed.
- Scratch dirs carry their owner's pid in their name; those of killed processes are
  removed at the next start.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

# descriptors a process needs besides its connections: interpreter, pipes to the
# servers, trace parts being written, HTTP probes, Dask's sockets
RESERVED_FDS = 64
# the scratch dirs of embedded servers, replays and offline runs, named after their process
_SCRATCH = re.compile(r"(aura-lab-(?:servers?|replay|offline|verify|aura)-)(\d+)-")


@dataclass
class FdCheck:
    """The outcome of ``ensure_fds``: enough (``ok``), the soft limit before and after,
    and the hard limit (``None`` where the platform has no such limits)."""

    ok: bool
    need: int
    soft_before: int | None
    soft: int | None
    hard: int | None

    @property
    def raised(self) -> bool:
        return self.soft_before is not None and self.soft != self.soft_before

    def fix(self) -> str:
        return f"raise the limit to at least {self.need} with `ulimit -n {self.need}` (the hard limit is {self.hard})"


def fd_limits() -> tuple[int, int] | None:
    """``(soft, hard)`` limits on open files; None where unknown. Unlimited counts as 2**31."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    return (2**31 if soft == unlimited else soft, 2**31 if hard == unlimited else hard)


def open_fds() -> int:
    """File descriptors this process has open now (0 where it cannot tell)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return len(os.listdir(folder))
    return 0


def ensure_fds(need: int) -> FdCheck:
    """Make room for ``need`` open files in this process: the soft limit is raised when
    the hard limit allows (children started later inherit it)."""
    limits = fd_limits()
    if limits is None:
        return FdCheck(True, need, None, None, None)
    soft, hard = limits
    if need <= soft:
        return FdCheck(True, need, soft, soft, hard)
    if need <= hard and resource is not None:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
            return FdCheck(True, need, soft, need, hard)
        except (ValueError, OSError):
            pass
    return FdCheck(False, need, soft, soft, hard)


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), so a pid reused
    by a later process is not taken for the one that wrote a manifest; None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces
    return fields[19] if len(fields) > 19 else None


def this_process() -> dict:
    """This process, as a manifest records it: pid, host name and start time."""
    return {"pid": os.getpid(), "hostname": socket.gethostname(), "process_started": process_start(os.getpid())}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def process_alive(owner: dict) -> bool | None:
    """Whether the process ``this_process()`` described is still running: True, False,
    or None when this machine cannot tell (another host, or no pid recorded)."""
    pid = owner.get("pid")
    if not isinstance(pid, int) or owner.get("hostname") != socket.gethostname():
        return None
    if not pid_alive(pid):
        return False
    started = owner.get("process_started")
    # a different start time: the pid now belongs to a later process
    return started is None or process_start(pid) in (None, started)


def scratch_dir(prefix: str) -> str:
    """A new scratch dir under the system temp dir, named after this process."""
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")


def clean_stale_scratch(root: str | None = None) -> list[str]:
    """Remove the scratch dirs (``aura-lab-servers-<pid>-*``, ``aura-lab-server-<pid>-*``,
    ``aura-lab-replay-<pid>-*``, ``aura-lab-offline-<pid>-*``, a ``--verify`` checker's
    ``aura-lab-verify-<pid>-*``, an aura codec's ``aura-lab-aura-<pid>-*``) of processes
    that are gone: a process killed hard cannot remove its own. Only this user's dirs are touched. Returns the
    paths removed."""
    removed: list[str] = []
    folder = Path(root or tempfile.gettempdir())
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        match = _SCRATCH.match(entry.name)
        if not match:
            continue
        try:
            info = entry.lstat()
        except OSError:
            continue
        if not entry.is_dir() or entry.is_symlink() or (uid is not None and info.st_uid != uid):
            continue
        if pid_alive(int(match.group(2))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(str(entry))
    return removed
