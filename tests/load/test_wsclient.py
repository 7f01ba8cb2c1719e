"""The lean client connection against real servers on 127.0.0.1: what websockets'
asyncio client did for the link (fragments, binary frames, pings, limits, bad UTF-8,
handshake failures, a closing handshake that never ends) it must still do."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time

import pytest
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.frames import CloseCode, Frame, Opcode

from aura_lab.load.wsclient import MAX_QUEUED, open_connection

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request):
    """Each test on both event loops a run may use (uvloop's transports are not
    asyncio's classes)."""
    if request.param == "asyncio":
        return asyncio.run
    uvloop = pytest.importorskip("uvloop")

    def on_uvloop(coroutine):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)

    return on_uvloop


async def _answering(handler):
    """A websockets server on 127.0.0.1 whose connections run ``handler(ws, message)``
    for every message."""

    async def loop(ws):
        async for message in ws:
            await handler(ws, message)

    return await serve(loop, "127.0.0.1", 0, compression=None, max_size=None)


def _url(server) -> str:
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def test_fragmented_text_binary_and_a_ping_from_the_server(run):
    async def handler(ws, message):
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)  # the client answers pings by itself
        await ws.send(['{"a": ', '1, "b": ', '"é"}'])  # one message in three frames
        await ws.send(message.encode())  # binary

    async def main():
        async with await _answering(handler) as server:
            ws = await open_connection(_url(server), 5, max_size=None)
            await ws.send("hello ✓")
            replies = [await ws.recv(), await ws.recv()]
            await ws.close()
            return replies, ws.state.name

    replies, state = run(main())
    assert replies == ['{"a": 1, "b": "é"}', "hello ✓".encode()]
    assert state == "CLOSED"


def test_a_reply_over_max_size_closes_with_1009_and_bad_utf8_with_1007(run):
    async def handler(ws, message):
        if message == "big":
            await ws.send("x" * 5000)
        else:
            await ws.send(b'{"a": "\xff"}', text=True)  # a text frame that is not UTF-8

    async def exchange(url, text):
        ws = await open_connection(url, 5, max_size=1000)
        await ws.send(text)
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        with pytest.raises(ConnectionClosed):  # and so does every later call
            await ws.send("again")
        return caught.value.sent.code

    async def main():
        async with await _answering(handler) as server:
            return await exchange(_url(server), "big"), await exchange(_url(server), "bad")

    assert run(main()) == (CloseCode.MESSAGE_TOO_BIG, CloseCode.INVALID_DATA)


def test_a_refused_handshake_and_a_silent_server(run):
    async def refuse(connection, request):
        return connection.respond(403, "no\n")

    async def silent(reader, writer):
        await asyncio.sleep(10)

    async def main():
        async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
            with pytest.raises(InvalidStatus) as refused:
                await open_connection(_url(server), 5, max_size=None)
        quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await open_connection(_url(quiet), 0.3, max_size=None)
        waited = time.monotonic() - started
        quiet.close()
        return refused.value.response.status_code, waited

    status, waited = run(main())
    assert status == 403
    assert 0.3 <= waited < 3


def _handshake_reply(request: bytes) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
        + accept
        + b"\r\n\r\n"
    )


def test_messages_nobody_waits_for_queue_in_order_and_a_mute_peer_is_dropped_on_close(run):
    """A raw server: it floods 100 unsolicited messages, then reads nothing, and never
    answers the closing handshake."""
    count = 100

    async def flood(reader, writer):
        writer.write(_handshake_reply(await reader.readuntil(b"\r\n\r\n")))
        for i in range(count):
            writer.write(Frame(Opcode.TEXT, str(i).encode()).serialize(mask=False, extensions=[]))
        await writer.drain()
        await asyncio.sleep(10)

    async def main():
        server = await asyncio.start_server(flood, "127.0.0.1", 0)
        ws = await open_connection(_url(server), 5, max_size=None, close_timeout=0.3)
        await asyncio.sleep(0.2)  # all of it has arrived, or reading paused
        queued = len(ws._messages)
        received = [await ws.recv() for _ in range(count)]
        started = time.monotonic()
        await ws.close()
        closing = time.monotonic() - started
        server.close()
        return queued, received, closing

    queued, received, closing = run(main())
    assert MAX_QUEUED <= queued < count  # reading paused, not all of it held
    assert received == [str(i) for i in range(count)]
    assert 0.25 <= closing < 2


def test_a_response_that_is_not_http_fails_the_handshake(run):
    async def garbage(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(garbage, "127.0.0.1", 0)
        try:
            await open_connection(_url(server), 5, max_size=None)
        except Exception as exc:
            return exc
        finally:
            server.close()

    error = run(main())
    assert isinstance(error, InvalidMessage), error


def test_nothing_after_a_bad_utf8_frame_is_taken_for_the_reply(run):
    """The bad frame and a good one in one TCP write: the connection failed at the first
    (1007), so the second is not a message (it would be taken for the reply)."""

    async def serve_two(reader, writer):
        writer.write(_handshake_reply(await reader.readuntil(b"\r\n\r\n")))
        await reader.read(100)  # the client's message
        bad = Frame(Opcode.TEXT, b'{"a": "\xff"}').serialize(mask=False, extensions=[])
        writer.write(bad + Frame(Opcode.TEXT, b'"second"').serialize(mask=False, extensions=[]))
        await writer.drain()
        await asyncio.sleep(10)

    async def main():
        server = await asyncio.start_server(serve_two, "127.0.0.1", 0)
        ws = await open_connection(_url(server), 5, max_size=None, close_timeout=0.3)
        await ws.send("hello")
        try:
            with pytest.raises(ConnectionClosed) as caught:
                await ws.recv()
        finally:
            server.close()
        return caught.value.sent.code

    assert run(main()) == CloseCode.INVALID_DATA


def test_a_message_that_came_as_its_receive_was_cancelled_is_kept(run):
    async def main():
        async with await _answering(lambda ws, message: ws.send(message)) as server:
            ws = await open_connection(_url(server), 5, max_size=None)
            receiving = asyncio.ensure_future(ws.recv())
            await asyncio.sleep(0)  # waiting now
            ws._waiter.set_result("first")  # the reply comes in the turn the timeout fires
            receiving.cancel()
            with pytest.raises(asyncio.CancelledError):
                await receiving
            await ws.send("second")
            replies = [await ws.recv(), await ws.recv()]
            await ws.close()
            return replies

    assert run(main()) == ["first", "second"]
