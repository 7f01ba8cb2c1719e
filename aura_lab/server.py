"""The embedded WebSocket compression server ("oracle") that speaks the peer's protocol.

The client sends one text frame (a chat message); the server compresses it with its
codec, checks that it decompresses to the same text, and answers one JSON text frame
(see ``aura_lab.server_protocol`` for the fields). ``GET /health`` and
``GET /templates`` answer JSON on the same port; other plain HTTP requests get 404.

Bad frames get an error reply and the connection stays open:

- Binary frames and invalid UTF-8. ``recv()`` decodes text frames itself and, on
  invalid UTF-8, closes the connection with 1007 before the handler sees the message;
  ``recv(decode=False)`` returns raw bytes but no longer says whether the frame was
  text or binary. So the connection class (``create_connection``) records the opcode
  of each message's first frame as it arrives, and the handler pairs it with the
  bytes from ``recv(decode=False)``, then validates UTF-8 itself.
- Oversize messages. websockets' own ``max_size`` closes with 1009. Its limit is set
  to ``2 * max_size + 64 KiB`` and the server checks ``max_size`` itself, so a message
  up to that transport limit gets an error reply; one beyond it is still closed with
  1009 by websockets (a client that sends megabytes past the limit is not a chat client).

Compression runs on the event loop thread: CPU-bound, which is why each server gets
its own process by default (``serve()``), living in its own scratch directory.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Iterator

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from . import server_protocol as protocol
from .codecs import Codec, codec_options, get_codec
from .errors import AuraLabError, InputError

DEFAULT_PORT = 8765
TRANSPORT_SLACK = 64 * 1024  # bytes above 2 * max_size that websockets still accepts
START_TIMEOUT = 60.0  # seconds for a child server to report its port
STOP_TIMEOUT = 5.0  # seconds for a graceful stop before terminate, then kill


class ServerStartError(AuraLabError):
    """A server did not start; the message carries the child's error text."""


class _OpcodeRecordingConnection(ServerConnection):
    """Remembers whether each incoming message began as a text or a binary frame."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.message_is_text: collections.deque[bool] = collections.deque()

    def process_event(self, event) -> None:
        # Frames reach the message assembler in this order; continuation frames carry
        # CONT, so each TEXT/BINARY frame starts exactly one message.
        if getattr(event, "opcode", None) in (Opcode.TEXT, Opcode.BINARY):
            self.message_is_text.append(event.opcode is Opcode.TEXT)
        super().process_event(event)


@dataclass
class RunningServer:
    """A server started by ``start_server`` on the current event loop."""

    server: Server
    codec: Codec
    port: int
    host: str
    stats: protocol.ServerStats
    owns_codec: bool

    @property
    def url(self) -> str:
        return f"ws://{_url_host(self.host)}:{self.port}"

    async def close(self) -> None:
        self.server.close()  # closes connections with 1001 (going away)
        await self.server.wait_closed()
        if self.owns_codec:
            self.codec.close()


async def start_server(codec: str | Codec = "aura", host: str = "127.0.0.1", port: int = 0, *,
                       min_compression_size: int = 35, max_size: int = 1 << 20,
                       workdir: str | os.PathLike | None = None,
                       codec_options: dict | None = None) -> RunningServer:
    """Start serving on the running loop. ``codec`` is a name or a ready ``Codec``
    (which the caller then closes). ``port=0`` picks a free port."""
    if min_compression_size < 0 or max_size < 1:
        raise InputError("min_compression_size must be >= 0 and max_size >= 1 (bytes)")
    owns_codec = isinstance(codec, str)
    if owns_codec:
        codec = get_codec(codec, **_options_for(codec, codec_options, min_compression_size, workdir))
    stats = protocol.ServerStats()
    templates = codec.templates()
    templates_body = json.dumps(templates)

    def process_request(connection: ServerConnection, request):
        path = urllib.parse.urlsplit(request.path).path
        if path == "/health":
            body = protocol.health(codec, stats, min_compression_size=min_compression_size,
                                   max_size=max_size, templates=len(templates))
            return _json_response(connection, HTTPStatus.OK, json.dumps(body))
        if path == "/templates":
            return _json_response(connection, HTTPStatus.OK, templates_body)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _json_response(connection, HTTPStatus.NOT_FOUND,
                                  json.dumps({"error": f"no such path: {path}"}))
        return None  # a WebSocket handshake: carry on

    async def handler(connection: _OpcodeRecordingConnection) -> None:
        state = codec.new_connection_state()
        while True:
            try:
                payload = await connection.recv(decode=False)
            except ConnectionClosed:
                return
            is_text = connection.message_is_text.popleft()
            text, problem = protocol.check_message(payload, is_text, max_size)
            if problem is None:
                reply = protocol.compress_reply(text, codec, state, stats, min_compression_size)
            else:
                reply = protocol.error_reply(
                    problem, codec.name, stats, original_size=len(payload),
                    original_message="" if problem == "empty message" else None,
                )
            try:
                await connection.send(json.dumps(reply))
            except ConnectionClosed:
                return

    try:
        server = await ws_serve(
            handler, host, port,
            process_request=process_request,
            create_connection=_OpcodeRecordingConnection,
            max_size=2 * max_size + TRANSPORT_SLACK,
            # websockets' own permessage-deflate would compress the JSON replies and
            # muddle what is measured: the codec under test is the only compression.
            compression=None,
        )
    except BaseException:
        if owns_codec:
            codec.close()
        raise
    bound_port = server.sockets[0].getsockname()[1]
    if not _is_loopback(host):
        print(f"aura-lab: warning: {codec.name} server listening on {host}:{bound_port}, "
              "beyond loopback", file=sys.stderr, flush=True)
    return RunningServer(server, codec, bound_port, host, stats, owns_codec)


def _options_for(name: str, options: dict | None, min_compression_size: int, workdir) -> dict:
    """The codec's options, with the server's threshold and scratch dir where it takes them."""
    options = dict(options or {})
    accepted = codec_options(name)
    if "min_compression_size" in accepted:
        options.setdefault("min_compression_size", min_compression_size)
    if "workdir" in accepted and workdir is not None:
        options.setdefault("workdir", str(workdir))
    return options


def _json_response(connection: ServerConnection, status: HTTPStatus, body: str):
    response = connection.respond(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except (ValueError, TypeError):
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- running servers: in a thread (tests) or in a child process (default) -----------


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


@dataclass
class _Config:
    codec: Any
    host: str
    port: int
    min_compression_size: int
    max_size: int
    workdir: str | None
    codec_options: dict | None

    def start_kwargs(self) -> dict:
        return dict(min_compression_size=self.min_compression_size, max_size=self.max_size,
                    workdir=self.workdir, codec_options=self.codec_options)


class _ThreadServer:
    """A server on its own event loop in a background thread of this process."""

    def __init__(self, config: _Config):
        self.config = config
        self._ready: "asyncio.Future | None" = None
        self._started = threading.Event()
        self._result: dict = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="aura-lab-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> ServerHandle:
        if not self._started.wait(timeout):
            raise ServerStartError(f"{self._codec_name()} server did not start in {timeout:g} s")
        if "error" in self._result:
            self._thread.join(STOP_TIMEOUT)
            raise self._result["error"]
        port = self._result["port"]
        return ServerHandle(f"ws://{_url_host(self.config.host)}:{port}", port,
                            self._codec_name(), self.config.host, None, self.stop)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._started.wait(START_TIMEOUT)  # a stop during start-up waits for the loop
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(STOP_TIMEOUT * 2)

    def _codec_name(self) -> str:
        codec = self.config.codec
        return codec if isinstance(codec, str) else codec.name

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            running = await start_server(self.config.codec, self.config.host, self.config.port,
                                         **self.config.start_kwargs())
        except BaseException as exc:
            self._result["error"] = exc
            self._started.set()
            return
        self._result["port"] = running.port
        self._started.set()
        await self._stop_event.wait()
        await running.close()


class _ChildServer:
    """A server in a child process ("spawn"): its own core, its own working directory."""

    def __init__(self, config: _Config):
        if not isinstance(config.codec, str):
            raise InputError("a Codec object can only be served in-process",
                             fix="pass the codec's name, or in_process=True")
        self.config = config
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_child_main, args=(child_conn, config),
                                        name=f"aura-lab-server-{config.codec}", daemon=True)
        self._child_conn = child_conn

    def start(self) -> None:
        self._process.start()
        self._child_conn.close()  # the child's end: closing ours lets both sides see EOF

    def wait_ready(self, timeout: float = START_TIMEOUT) -> ServerHandle:
        deadline = time.monotonic() + timeout
        message = None
        while time.monotonic() < deadline:
            if self._conn.poll(0.05):
                try:
                    message = self._conn.recv()
                except EOFError:
                    message = None
                break
            if not self._process.is_alive():
                break
        if message is None or message[0] != "ready":
            self.stop()
            if message is None:
                why = (f"exited with code {self._process.exitcode}" if self._process.exitcode
                       is not None else f"did not report a port within {timeout:g} s")
                raise ServerStartError(f"{self.config.codec} server {why}")
            _, is_input_error, text = message
            if is_input_error:
                raise InputError(text)
            raise ServerStartError(f"{self.config.codec} server failed to start: {text}")
        port = message[1]
        return ServerHandle(f"ws://{_url_host(self.config.host)}:{port}", port,
                            self.config.codec, self.config.host, self._process.pid, self.stop)

    def alive(self) -> bool:
        return self._process.is_alive()

    def stop(self) -> None:
        if self._conn.closed:
            return  # stopped already
        try:
            self._conn.send("stop")
        except (OSError, ValueError):
            pass  # already gone
        self._process.join(STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


def _child_main(conn, config: _Config) -> None:
    """Entry point of a child server: scratch directory, serve until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    made_workdir = config.workdir is None
    workdir = tempfile.mkdtemp(prefix="aura-lab-server-") if made_workdir else config.workdir
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)  # aura writes into the current directory: make it this one
    config.workdir = workdir
    try:
        asyncio.run(_child_serve(conn, config))
    except BaseException as exc:  # report, then exit non-zero
        text = str(exc) if isinstance(exc, AuraLabError) else \
            "".join(traceback.format_exception_only(type(exc), exc)).strip()
        try:
            conn.send(("error", isinstance(exc, InputError), text))
        except (OSError, ValueError):
            pass
        raise SystemExit(1)
    finally:
        os.chdir(tempfile.gettempdir())
        if made_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


async def _child_serve(conn, config: _Config) -> None:
    running = await start_server(config.codec, config.host, config.port, **config.start_kwargs())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # A message on the pipe, or EOF when the parent is gone, both mean stop.
    loop.add_reader(conn.fileno(), stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    conn.send(("ready", running.port))
    await stop.wait()
    loop.remove_reader(conn.fileno())
    await running.close()


@contextmanager
def serve_many(codecs: list[str | Codec], host: str = "127.0.0.1", port: int = 0, *,
               min_compression_size: int = 35, max_size: int = 1 << 20,
               in_process: bool = False, workdir: str | os.PathLike | None = None,
               codec_options: dict[str, dict] | None = None,
               start_timeout: float = START_TIMEOUT) -> Iterator[list[ServerHandle]]:
    """One server per codec, started side by side; ``port`` > 0 gives consecutive ports.

    ``codec_options`` maps a codec name to its options, e.g.
    ``{"zstd-dict": {"training": "corpora/zstd_training.jsonl"}}``. Each server gets
    its own scratch directory (under ``workdir`` when given).
    """
    runners = []
    for index, codec in enumerate(codecs):
        name = codec if isinstance(codec, str) else codec.name
        child_workdir = None
        if workdir is not None:
            child_workdir = str(workdir) if len(codecs) == 1 else os.path.join(
                str(workdir), f"server-{index}-{name}")
        options = (codec_options or {}).get(name)
        config = _Config(codec, host, port + index if port else 0, min_compression_size,
                         max_size, child_workdir, options)
        runners.append((_ThreadServer if in_process else _ChildServer)(config))
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
def serve(codec: str | Codec = "aura", host: str = "127.0.0.1", port: int = 0, *,
          min_compression_size: int = 35, max_size: int = 1 << 20, in_process: bool = False,
          workdir: str | os.PathLike | None = None, codec_options: dict | None = None,
          start_timeout: float = START_TIMEOUT) -> Iterator[ServerHandle]:
    """Run one server for the block: ``with serve("deflate-stream") as server: server.url``.

    By default the server runs in a child process (spawned, in a scratch working
    directory); ``in_process=True`` runs it on a background thread of this process.
    ``codec_options`` are the codec's own options (``{"level": 9}``).
    """
    name = codec if isinstance(codec, str) else codec.name
    with serve_many([codec], host, port, min_compression_size=min_compression_size,
                    max_size=max_size, in_process=in_process, workdir=workdir,
                    codec_options={name: codec_options or {}},
                    start_timeout=start_timeout) as handles:
        yield handles[0]


# -- command line -------------------------------------------------------------------


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="run embedded compression servers in the foreground",
        description="Serve the peer's compression protocol with one codec until Ctrl-C.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run_cli)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .codecs import codec_names

    parser.add_argument("--codec", default="aura", choices=codec_names())
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; anything else warns)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"first port (default {DEFAULT_PORT}; 0 picks free ports)")
    parser.add_argument("--min-compression-size", type=int, default=35, metavar="BYTES",
                        help="messages shorter than this are sent uncompressed (default 35)")
    parser.add_argument("--max-size", type=int, default=1 << 20, metavar="BYTES",
                        help="largest message accepted (default 1 MiB)")
    parser.add_argument("--replicas", type=int, default=1, metavar="N",
                        help="start N servers on consecutive ports")
    parser.add_argument("--training", metavar="FILE",
                        help="corpus JSONL to train the zstd-dict dictionary on")


def run_cli(args: argparse.Namespace) -> int:
    if args.replicas < 1:
        raise InputError(f"--replicas must be at least 1, got {args.replicas}")
    options = {}
    if args.training:
        if "training" not in codec_options(args.codec):
            raise InputError(f"--training applies to zstd-dict, not {args.codec}")
        options["training"] = os.path.abspath(args.training)  # the child lives elsewhere
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        with serve_many([args.codec] * args.replicas, args.host, args.port,
                        min_compression_size=args.min_compression_size,
                        max_size=args.max_size, codec_options={args.codec: options}) as handles:
            for handle in handles:
                print(f"aura-lab serve: {handle.url} codec={handle.codec} pid={handle.pid}",
                      flush=True)
            while not stopping.is_set():
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("aura-lab serve: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main

    return cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
