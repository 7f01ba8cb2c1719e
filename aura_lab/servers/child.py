"""The child side of a server in its own process (``python -m aura_lab.servers.child``),
and the parent's pump for what the child writes to stderr.

The child reads its config as one JSON line on stdin, answers one JSON line on stdout
(``{"ready": port}`` or ``{"error": ...}``), and stops when stdin says ``stop`` or
closes (so it also stops when the parent dies), or on SIGTERM. Its working directory is
a scratch dir named after it (``system.scratch_dir``) unless the parent gives one.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import AuraLabError, InputError
from ..system import scratch_dir
from .limits import ServerLimits
from .server import start_server

LOG_LIMIT = 1 << 20  # bytes of a child's stderr kept in a log file; the rest is counted
LOG_LINE = 4096  # bytes of one stderr line kept (a longer one is cut)


@dataclass
class ChildConfig:
    codec: Any
    host: str
    port: int
    min_compression_size: int
    max_size: int
    workdir: str | None
    codec_options: dict | None
    limits: dict | None = None  # ServerLimits as a dict (it crosses to the child as JSON)

    def start_kwargs(self) -> dict:
        return dict(
            min_compression_size=self.min_compression_size,
            max_size=self.max_size,
            workdir=self.workdir,
            codec_options=self.codec_options,
            limits=ServerLimits(**self.limits) if self.limits else None,
        )

    def codec_name(self) -> str:
        return self.codec if isinstance(self.codec, str) else self.codec.name


class StderrPump(threading.Thread):
    """Copies a child's stderr, line by line, to the parent's stderr (``log`` None) or
    to the file ``log`` (lines prefixed with ``label``, at most ``LOG_LIMIT`` bytes), and
    keeps the last lines for an error message."""

    def __init__(self, pipe: IO[bytes], log: Path | None, label: str):
        super().__init__(name=f"aura-lab-{label}-stderr", daemon=True)
        self.pipe, self.log, self.label = pipe, log, label
        self.last: collections.deque[str] = collections.deque(maxlen=20)

    def run(self) -> None:
        out = self.log.open("ab", buffering=0) if self.log is not None else None
        written, dropped = 0, 0
        try:
            for line in iter(lambda: self.pipe.readline(LOG_LINE), b""):
                text = line.decode("utf-8", "replace").rstrip("\n")
                self.last.append(text)
                if out is None:
                    try:
                        print(text, file=sys.stderr, flush=True)
                    except (OSError, ValueError):  # the parent's stderr is gone: keep draining
                        pass
                elif written < LOG_LIMIT:
                    entry = f"{self.label}: {text}\n".encode("utf-8", "replace")
                    out.write(entry)
                    written += len(entry)
                else:
                    dropped += 1
        except (OSError, ValueError):
            pass
        finally:
            if out is not None:
                if dropped:
                    out.write(
                        f"{self.label}: ... {dropped} more lines not kept (log limit {LOG_LIMIT} bytes)\n".encode()
                    )
                out.close()
            self.pipe.close()

    def last_words(self, wait: float) -> list[str]:
        """The child's last three lines, once it has said them (waits up to ``wait`` s)."""
        self.join(wait)
        return list(self.last)[-3:]


def _child_main() -> int:
    """Entry point of a child server: config from stdin, scratch directory, serve until
    stdin says stop or closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the reply channel
    config = ChildConfig(**json.loads(sys.stdin.readline()))
    made_workdir = config.workdir is None
    workdir = config.workdir or scratch_dir("aura-lab-server-")  # named after this process: see system.py
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)  # aura writes into the current directory: make it this one
    config.workdir = workdir
    try:
        asyncio.run(_child_serve(config, out))
        return 0
    except BaseException as exc:  # report, then exit non-zero
        import traceback

        text = (
            str(exc)
            if isinstance(exc, AuraLabError)
            else "".join(traceback.format_exception_only(type(exc), exc)).strip()
        )
        try:
            out.write(json.dumps({"error": text, "input_error": isinstance(exc, InputError)}) + "\n")
            out.flush()
        except (OSError, ValueError):
            pass
        return 1
    finally:
        os.chdir(tempfile.gettempdir())
        if made_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


async def _child_serve(config: ChildConfig, out) -> None:
    running = await start_server(config.codec, config.host, config.port, **config.start_kwargs())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # "stop" on stdin, or EOF when the parent is gone, both mean stop.
    loop.add_reader(sys.stdin.fileno(), stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    out.write(json.dumps({"ready": running.port}) + "\n")
    out.flush()
    await stop.wait()
    loop.remove_reader(sys.stdin.fileno())
    await running.close()


if __name__ == "__main__":
    sys.exit(_child_main())
