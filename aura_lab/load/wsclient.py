"""A lean WebSocket client connection: websockets' Sans-I/O protocol (the handshake,
framing, masking, limits, pings and the closing handshake, all as websockets does them)
over a plain asyncio transport.

websockets' own asyncio client wraps the same protocol in send and receive locks, an
assembler with its own futures and a keepalive machinery; a load client that sends one
message and waits for one reply needs none of it. Measured against it with the same
server and messages (``benchmarks/runner_cost.py``, the "bare client, lean link" line):
about 16 µs less client CPU a message at 50 users, 26 µs at 1 user.

Errors are websockets' own: ``InvalidURI``, ``InvalidHandshake`` (or ``OSError`` and
``TimeoutError``) from ``open_connection``; ``ConnectionClosed`` from ``send`` and
``recv``, whose ``sent`` close frame says why we closed (``MESSAGE_TOO_BIG`` for a reply
over ``max_size``, ``INVALID_DATA`` for a text frame that is not UTF-8).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import cast

from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidMessage
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import State
from websockets.uri import parse_uri

MAX_QUEUED = 16  # messages received and not yet read before the socket stops being read


class LeanConnection(asyncio.Protocol):
    """One client connection. ``recv`` returns a text message as ``str`` and a binary
    one as ``bytes``; messages nobody waits for queue (at most ``MAX_QUEUED``, then
    reading pauses). ``close_timeout``: seconds the closing handshake may take before the
    socket is simply dropped."""

    def __init__(self, url: str, max_size: int | None, close_timeout: float = 1.0):
        self.protocol = ClientProtocol(parse_uri(url), max_size=max_size)
        self.close_timeout = close_timeout
        self.loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._messages: deque[str | bytes] = deque()
        self._waiter: asyncio.Future[str | bytes] | None = None
        self._parts: list[bytes] = []  # a fragmented message's frames so far
        self._opcode = Opcode.TEXT
        self._paused = False
        self._failed = False  # we failed the connection: nothing after it is a message
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def state(self) -> State:
        return self.protocol.state

    # -- the engine's side ---------------------------------------------------------------

    async def send(self, text: str) -> None:
        if self.protocol.state is not State.OPEN:
            raise self._closed()
        self.protocol.send_text(text.encode())
        self._write()

    async def recv(self) -> str | bytes:
        if self._messages:
            message = self._messages.popleft()
            if self._paused and len(self._messages) < MAX_QUEUED and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            return message
        if self.lost.done():
            raise self._closed()
        waiter = self._waiter = self.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            # cancelled (a timeout) in the same turn as its message came: keep the message
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._messages.appendleft(waiter.result())
            raise
        finally:
            self._waiter = None

    async def close(self) -> None:
        """The closing handshake, for at most ``close_timeout`` seconds; then the socket
        is dropped."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(CloseCode.NORMAL_CLOSURE)
            self._write()
        self._expect_close()
        await asyncio.shield(self.lost)

    # -- asyncio's side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        request = self.protocol.connect()
        request.headers["User-Agent"] = USER_AGENT
        self.protocol.send_request(request)
        self._write()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        events = self.protocol.events_received()
        self._write()
        for event in events:
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Response) and not self.opened.done():
                if self.protocol.handshake_exc is not None:
                    self.opened.set_exception(self.protocol.handshake_exc)
                else:
                    self.opened.set_result(None)
        if self.protocol.close_expected():
            self._expect_close()

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        self.protocol.events_received()
        self._write()

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()  # idempotent: the state is CLOSED now
        if self._deadline is not None:
            self._deadline.cancel()
        if not self.opened.done():
            failure = self.protocol.handshake_exc or InvalidMessage("connection closed during the opening handshake")
            self.opened.set_exception(failure)
            self.opened.exception()  # retrieved: nobody may be waiting any more
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._closed())
        self.lost.set_result(None)

    # -- within ----------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        if self._failed:
            return
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
            self._opcode, self._parts = frame.opcode, [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT:
            self._parts.append(bytes(frame.data))
        else:  # ping, pong, close: the protocol has answered them
            return
        if not frame.fin:
            return
        data, self._parts = b"".join(self._parts) if len(self._parts) > 1 else self._parts[0], []
        message: str | bytes = data
        if self._opcode is Opcode.TEXT:
            try:
                message = data.decode()
            except UnicodeDecodeError:
                self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text frame")
                self._failed = True
                self._write()
                self._expect_close()
                return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(message)
            return
        self._messages.append(message)
        if len(self._messages) >= MAX_QUEUED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def _write(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():  # the protocol's end of stream: half-close
                try:
                    transport.write_eof()
                except (OSError, RuntimeError):  # gone already (uvloop raises RuntimeError)
                    pass
            else:
                transport.close()

    def _expect_close(self) -> None:
        """The other side should now end the connection: drop it after ``close_timeout``
        if it does not."""
        if self._deadline is None and not self.lost.done() and self.transport is not None:
            self._deadline = self.loop.call_later(self.close_timeout, self.transport.abort)

    def _closed(self) -> ConnectionClosed:
        if self.protocol.state is State.CLOSED:
            return self.protocol.close_exc
        return ConnectionClosedError(self.protocol.close_rcvd, self.protocol.close_sent)


async def open_connection(url: str, timeout: float, max_size: int | None, close_timeout: float = 1.0) -> LeanConnection:
    """Connect to ``url`` (ws:// or wss://) and finish the opening handshake within
    ``timeout`` seconds."""
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if uri.secure else None
    connection: LeanConnection | None = None

    def build() -> LeanConnection:
        nonlocal connection
        connection = LeanConnection(url, max_size, close_timeout)
        return connection

    try:
        async with asyncio.timeout(timeout):
            await loop.create_connection(
                build, uri.host, uri.port, ssl=context, server_hostname=uri.host if context else None
            )
            assert connection is not None
            await connection.opened
    except BaseException:
        if connection is not None and connection.transport is not None:
            connection.transport.abort()
        raise
    return connection
