"""Running embedded servers: on a thread of this process (tests), or in a child process
(the default: its own core and its own scratch working directory).

The child is a fresh interpreter (``python -m aura_lab.servers.child``), not a
multiprocessing "spawn" child: spawn re-imports the parent's ``__main__``, so a plain
script calling ``aura_lab.run()`` at top level without an ``if __name__ == "__main__":``
guard would start itself again (``child.py`` has the child's side). What the child
writes to stderr (warnings, its log) is copied line by line to the parent's stderr, or
to a log file (``log=``, a run's ``servers.log``) up to ``child.LOG_LIMIT`` bytes; its
last lines go into the error when it fails to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from ..codecs import Codec
from ..config import MAX_MESSAGE_SIZE, MIN_COMPRESSION_SIZE
from ..errors import AuraLabError, InputError
from .child import ChildConfig, StderrPump
from .limits import ServerLimits
from .server import start_server, url_host

START_TIMEOUT = 60.0  # seconds for a child server to report its port
STOP_TIMEOUT = 5.0  # seconds for a graceful stop before terminate, then kill


class ServerStartError(AuraLabError):
    """A server did not start; the message carries the child's error text."""


@dataclass
class ServerHandle:
    """A running server: ``str(handle)`` is its URL."""

    url: str
    port: int
    codec: str
    host: str = "127.0.0.1"
    pid: int | None = None  # the child process, None when in-process
    _stopper: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            stopper()

    def __str__(self) -> str:
        return self.url


def _handle(config: ChildConfig, port: int, pid: int | None, stopper) -> ServerHandle:
    return ServerHandle(f"ws://{url_host(config.host)}:{port}", port, config.codec_name(), config.host, pid, stopper)


class _ThreadServer:
    """A server on its own event loop in a background thread of this process."""

    def __init__(self, config: ChildConfig):
        self.config = config
        self._started = threading.Event()
        self._result: dict = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="aura-lab-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> ServerHandle:
        if not self._started.wait(timeout):
            raise ServerStartError(f"{self.config.codec_name()} server did not start in {timeout:g} s")
        if "error" in self._result:
            self._thread.join(STOP_TIMEOUT)
            raise self._result["error"]
        return _handle(self.config, self._result["port"], None, self.stop)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._started.wait(START_TIMEOUT)  # a stop during start-up waits for the loop
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(STOP_TIMEOUT * 2)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            running = await start_server(
                self.config.codec, self.config.host, self.config.port, **self.config.start_kwargs()
            )
        except BaseException as exc:
            self._result["error"] = exc
            self._started.set()
            return
        self._result["port"] = running.port
        self._started.set()
        await self._stop_event.wait()
        await running.close()


class _ChildServer:
    """A server in a child interpreter: its own core, its own working directory."""

    def __init__(self, config: ChildConfig, log: Path | None = None):
        if not isinstance(config.codec, str):
            raise InputError(
                "a Codec object can only be served in-process", fix="pass the codec's name, or in_process=True"
            )
        self.config = config
        self.log = log
        self._process: subprocess.Popen | None = None
        self._pump: StderrPump | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "aura_lab.servers.child"],
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )  # Ctrl-C in the terminal is the parent's
        assert self._process.stderr is not None
        self._pump = StderrPump(self._process.stderr, self.log, self.config.codec_name())
        self._pump.start()
        pipe = self._pipes()[0]
        pipe.write((json.dumps(asdict(self.config), default=str) + "\n").encode())
        pipe.flush()

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        """The child's stdin and stdout (both are pipes once started)."""
        assert self._process is not None and self._process.stdin and self._process.stdout
        return self._process.stdin, self._process.stdout

    def _read_line(self, timeout: float) -> str | None:
        stdout = self._pipes()[1]
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if selector.select(timeout):
                return stdout.readline().decode("utf-8", "replace")
        return None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> ServerHandle:
        line = self._read_line(timeout)
        try:
            message = json.loads(line) if line else None
        except json.JSONDecodeError:
            message = None
        process = self._process
        assert process is not None
        if not message or "ready" not in message:
            if line == "":  # end of file: the child is exiting; give it a moment to be reaped
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            returncode = process.poll()
            assert self._pump is not None
            detail = self._pump.last_words(STOP_TIMEOUT if returncode is not None else 0.5)
            self.stop()
            if message and "error" in message:
                if message.get("input_error"):
                    raise InputError(message["error"])
                raise ServerStartError(f"{self.config.codec} server failed to start: {message['error']}")
            why = (
                f"exited with code {returncode}"
                if returncode is not None
                else f"did not report a port within {timeout:g} s"
            )
            raise ServerStartError(f"{self.config.codec} server {why}" + (f": {' | '.join(detail)}" if detail else ""))
        return _handle(self.config, int(message["ready"]), process.pid, self.stop)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.write(b"stop\n")
                process.stdin.close()
        except (OSError, ValueError):
            pass  # already gone
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if self._pump is not None:
            self._pump.join(STOP_TIMEOUT)  # the child's last lines reach the log


def _slug(spec: str) -> str:
    """A codec spec as a folder name (``aura:min_compression_size=50`` has ``:`` and ``=``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec)


def _child_env() -> dict[str, str]:
    """The child imports what this process imports: a codec of the user's own
    (``package.module:Class``) may live in the current folder or on an added path, and the
    child starts in a scratch directory."""
    path = [os.path.abspath(p or os.getcwd()) for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(p for p in path if os.path.isdir(p)))}


@contextmanager
def serve_many(
    codecs: list[str | Codec],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    min_compression_size: int = MIN_COMPRESSION_SIZE,
    max_size: int = MAX_MESSAGE_SIZE,
    in_process: bool = False,
    workdir: str | os.PathLike | None = None,
    codec_options: dict[str, dict] | None = None,
    start_timeout: float = START_TIMEOUT,
    limits: ServerLimits | None = None,
    log: str | os.PathLike | None = None,
) -> Iterator[list[ServerHandle]]:
    """One server per codec, started side by side; ``port`` > 0 gives consecutive ports.

    ``codec_options`` maps a codec name to its options, e.g.
    ``{"zstd-dict": {"training": "corpora/zstd_training.jsonl"}}``. Each server gets
    its own scratch directory (under ``workdir`` when given). ``limits`` are every
    server's (``ServerLimits``); child servers' stderr goes to ``log`` (a file, appended
    to) or, by default, to this process's stderr.
    """
    limits_dict = (limits or ServerLimits()).check().to_dict()
    runners = []
    for index, codec in enumerate(codecs):
        name = codec if isinstance(codec, str) else codec.name
        child_workdir = None
        if workdir is not None:
            child_workdir = (
                str(workdir) if len(codecs) == 1 else os.path.join(str(workdir), f"server-{index}-{_slug(name)}")
            )
        options = (codec_options or {}).get(name)
        config = ChildConfig(
            codec,
            host,
            port + index if port else 0,
            min_compression_size,
            max_size,
            child_workdir,
            options,
            limits_dict,
        )
        runners.append(_ThreadServer(config) if in_process else _ChildServer(config, Path(log) if log else None))
    handles: list[ServerHandle] = []
    try:
        for runner in runners:
            runner.start()
        for runner in runners:
            handles.append(runner.wait_ready(start_timeout))
        yield handles
    finally:
        for runner in runners:
            runner.stop()


@contextmanager
def serve(
    codec: str | Codec = "aura",
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    min_compression_size: int = MIN_COMPRESSION_SIZE,
    max_size: int = MAX_MESSAGE_SIZE,
    in_process: bool = False,
    workdir: str | os.PathLike | None = None,
    codec_options: dict | None = None,
    start_timeout: float = START_TIMEOUT,
    limits: ServerLimits | None = None,
    log: str | os.PathLike | None = None,
) -> Iterator[ServerHandle]:
    """Run one server for the block: ``with serve("deflate-stream") as server: server.url``.

    By default the server runs in a child process (a fresh interpreter, in a scratch
    working directory); ``in_process=True`` runs it on a background thread of this
    process. ``codec_options`` are the codec's own options (``{"level": 9}``);
    ``limits`` and ``log`` are as for ``serve_many``.
    """
    name = codec if isinstance(codec, str) else codec.name
    with serve_many(
        [codec],
        host,
        port,
        min_compression_size=min_compression_size,
        max_size=max_size,
        in_process=in_process,
        workdir=workdir,
        codec_options={name: codec_options or {}},
        start_timeout=start_timeout,
        limits=limits,
        log=log,
    ) as handles:
        yield handles[0]
