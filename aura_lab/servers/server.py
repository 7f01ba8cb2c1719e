"""The embedded WebSocket compression server ("oracle") that speaks the peer's protocol.

The client sends one text frame (a chat message); the server compresses it with its
codec, checks that it decompresses to the same text, and answers one JSON text frame
(see ``aura_lab.wire.protocol`` and docs/protocol.md for the fields). ``GET /health`` and
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

Limits on connections, buffered bytes, idle time and pings (``servers/limits.py``) keep
its memory and connections bounded whatever its clients do; a request it cannot make
sense of (two ``Upgrade`` headers, ...) gets a 400 and one log line.

Compression runs on the event loop thread: CPU-bound, which is why each server gets
its own process by default (``aura_lab.servers.hosting.serve``), living in its own
scratch directory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import sys
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from ..codecs import Codec, parse_codec
from ..codecs.base import CLIENT_TO_SERVER, DIRECTIONS
from ..config import MAX_MESSAGE_SIZE, MIN_COMPRESSION_SIZE
from ..errors import InputError
from ..wire import protocol
from .limits import CLOSE_TIMEOUT, MAX_QUEUE, Guard, GuardedConnection, ServerLimits, connection_class, server_logger

TRANSPORT_SLACK = 64 * 1024  # bytes above 2 * max_size that websockets still accepts


@dataclass
class RunningServer:
    """A server started by ``start_server`` on the current event loop."""

    server: Server
    codec: Codec
    port: int
    host: str
    stats: protocol.ServerStats
    owns_codec: bool
    guard: Guard

    @property
    def url(self) -> str:
        return f"ws://{url_host(self.host)}:{self.port}"

    async def close(self) -> None:
        self.server.close()  # closes connections with 1001 (going away)
        await self.server.wait_closed()
        if self.owns_codec:
            self.codec.close()


async def start_server(
    codec: str | Codec = "aura",
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    min_compression_size: int = MIN_COMPRESSION_SIZE,
    max_size: int = MAX_MESSAGE_SIZE,
    workdir: str | os.PathLike | None = None,
    codec_options: dict | None = None,
    limits: ServerLimits | None = None,
) -> RunningServer:
    """Start serving on the running loop. ``codec`` is a name or a ready ``Codec``
    (which the caller then closes). ``port=0`` picks a free port. ``limits`` bound the
    connections, buffered bytes, idle time and pings (``ServerLimits``; safe defaults)."""
    if min_compression_size < 0 or max_size < 1:
        raise InputError("min_compression_size must be >= 0 and max_size >= 1 (bytes)")
    if not isinstance(host, str) or not host.strip():
        raise InputError(
            f"give an address to bind, got {host!r}", where="host", fix="127.0.0.1 (or 0.0.0.0 for every interface)"
        )
    limits = (limits or ServerLimits()).check()
    transport_max = 2 * max_size + TRANSPORT_SLACK
    guard = Guard(limits, transport_max)
    owns_codec = isinstance(codec, str)
    if isinstance(codec, str):
        parsed = parse_codec(codec)
        scratch = str(workdir) if workdir is not None else None
        defaults = parsed.defaults(min_compression_size=min_compression_size, workdir=scratch)
        codec = parsed.build(**{**defaults, **(codec_options or {})})
    served: Codec = codec
    stats = protocol.ServerStats()
    templates = protocol.templates_reply(served.templates())
    templates_body = json.dumps(templates)
    logger = server_logger(served.name)

    def process_request(connection: ServerConnection, request):
        try:
            return route(connection, request)
        except Exception as exc:  # a request nobody planned for: the client's fault, said in one line
            logger.warning("bad request: %s: %s", type(exc).__name__, exc)
            return _json_response(connection, HTTPStatus.BAD_REQUEST, json.dumps({"error": "bad request"}))

    def route(connection: ServerConnection, request):
        path = urllib.parse.urlsplit(request.path).path
        if path == "/health":
            body = protocol.health(
                served, stats, min_compression_size=min_compression_size, max_size=max_size, templates=len(templates)
            )
            body = {**body, **guard.health(), "pid": os.getpid()}
            return _json_response(connection, HTTPStatus.OK, json.dumps(body))
        if path == "/templates":
            return _json_response(connection, HTTPStatus.OK, templates_body)
        upgrade = request.headers.get_all("Upgrade")
        if not upgrade or upgrade[0].lower() != "websocket":
            return _json_response(connection, HTTPStatus.NOT_FOUND, json.dumps({"error": f"no such path: {path}"}))
        if len(upgrade) > 1:
            return _json_response(
                connection, HTTPStatus.BAD_REQUEST, json.dumps({"error": "send one Upgrade: websocket header"})
            )
        if connection_direction(request.path) is None:
            return _json_response(
                connection,
                HTTPStatus.BAD_REQUEST,
                json.dumps({"error": f"direction must be one of {', '.join(DIRECTIONS)}"}),
            )
        assert isinstance(connection, GuardedConnection)
        if connection.over_connection_limit():
            response = _json_response(
                connection,
                HTTPStatus.SERVICE_UNAVAILABLE,
                json.dumps({"error": f"the server is at its limit of {guard.max_connections} connections"}),
            )
            response.headers["Retry-After"] = "1"
            return response
        return None  # a WebSocket handshake: carry on

    async def handler(connection: ServerConnection) -> None:
        assert isinstance(connection, GuardedConnection)
        assert connection.request is not None
        state = served.new_connection_state(connection_direction(connection.request.path) or CLIENT_TO_SERVER)
        while True:
            try:
                async with asyncio.timeout(limits.idle_timeout):
                    payload = await connection.recv(decode=False)
            except TimeoutError:
                guard.dropped["idle"] += 1
                await connection.close(CloseCode.NORMAL_CLOSURE, f"idle for {limits.idle_timeout:g} s")
                return
            except ConnectionClosed:
                return
            connection.taken(len(payload))
            is_text = connection.message_is_text.popleft()
            reply = protocol.answer(
                payload, is_text, served, state, stats, min_compression_size=min_compression_size, max_size=max_size
            )
            try:
                await connection.send(json.dumps(reply))
            except ConnectionClosed:
                return

    try:
        server = await ws_serve(
            handler,
            host,
            port,
            process_request=process_request,
            create_connection=connection_class(guard),
            max_size=transport_max,
            max_queue=MAX_QUEUE,
            ping_interval=limits.ping_interval,
            ping_timeout=limits.ping_timeout,
            close_timeout=CLOSE_TIMEOUT,
            logger=logger,
            # websockets' own permessage-deflate would compress the JSON replies and
            # muddle what is measured: the codec under test is the only compression.
            compression=None,
        )
    except BaseException:
        if owns_codec:
            served.close()
        raise
    bound_port = server.sockets[0].getsockname()[1]
    if not _is_loopback(host):
        print(
            f"aura-lab: warning: {served.name} server listening on {host}:{bound_port}, beyond loopback",
            file=sys.stderr,
            flush=True,
        )
    return RunningServer(server, served, bound_port, host, stats, owns_codec, guard)


def connection_direction(path: str) -> str | None:
    """The direction a connection's messages travel in, from its URL's ``direction``
    query (``client-to-server`` when absent, as the peer's clients connect); None when
    the query names no direction."""
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("direction")
    if not values:
        return CLIENT_TO_SERVER
    return values[-1] if values[-1] in DIRECTIONS else None


def _json_response(connection: ServerConnection, status: HTTPStatus, body: str):
    response = connection.respond(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except (ValueError, TypeError):
        return False


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
