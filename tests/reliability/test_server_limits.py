"""Reliability: the embedded server (a real child process) against clients that try to
exhaust it: unfinished fragmented messages on many connections, a ping flood that
never reads, idle connections, more connections than it takes, broken handshakes.
Each limit holds (its count in ``/health``), the server's memory stays bounded, and a
good client keeps getting correct replies."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode

from aura_lab.servers.hosting import serve
from aura_lab.servers.limits import ServerLimits
from tests.support.processes import health

GOOD = "Could you summarise the meeting notes from Tuesday in three bullet points? #{}"
RESULTS: dict[str, str] = {}  # for the report


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def good_exchange(url: str, n: int = 5) -> None:
    """A well-behaved client: ``n`` messages, each reply checked."""
    async with connect(url, compression=None, ping_interval=None, open_timeout=10) as ws:
        for i in range(n):
            await ws.send(GOOD.format(i))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert reply["status"] == "ok" and reply["original_message"] == GOOD.format(i)


def opcodes(data: bytes) -> list[int]:
    """The opcodes of the (unmasked, short) frames a server sent."""
    found, i = [], 0
    while i + 2 <= len(data):
        found.append(data[i] & 0x0F)
        i += 2 + (data[i + 1] & 0x7F)
    return found


def raw_handshake(port: int, extra: str = "") -> tuple[socket.socket, str]:
    """A TCP connection that completes a WebSocket handshake by hand (then does what the
    test says, which no client library would)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            break
        response += chunk
    return sock, response.decode("latin-1")


@pytest.mark.timeout(120)
def test_unfinished_fragmented_messages_cannot_exhaust_memory(tmp_path):
    """60 connections each send 2 MiB of a fragmented message that never ends: past
    16 MiB held in all, the connection holding the most is closed (1013), so a good
    client's short message still gets through."""
    limits = ServerLimits(max_buffered=16 << 20)
    clients, message = 60, 2 << 20
    with serve("identity", limits=limits, workdir=tmp_path / "scratch") as handle:
        before = rss_mb(health(handle.url)["pid"])

        async def unfinished(done: asyncio.Event) -> int | None:
            """The close code the server gave, or None when it kept the connection."""

            async def fragments():
                for _ in range(message // (64 << 10)):
                    yield "x" * (64 << 10)
                await done.wait()  # the last fragment never comes

            try:
                async with connect(handle.url, compression=None, ping_interval=None, max_size=None) as ws:
                    sender = asyncio.ensure_future(ws.send(fragments()))
                    closed = asyncio.ensure_future(ws.wait_closed())
                    await asyncio.wait({closed, asyncio.ensure_future(done.wait())}, return_when="FIRST_COMPLETED")
                    sender.cancel()
                    return ws.close_code if closed.done() else None
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else 1006

        async def attack():
            done = asyncio.Event()
            tasks = [asyncio.ensure_future(unfinished(done)) for _ in range(clients)]
            peak, peak_rss = 0, 0.0
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # until every connection is closed or holds all it sent
                body = await asyncio.to_thread(health, handle.url)
                peak, peak_rss = max(peak, body["buffered_bytes"]), max(peak_rss, rss_mb(body["pid"]))
                dropped = body["dropped"].get("buffered bytes over max_buffered", 0)
                if dropped and dropped + body["buffered_bytes"] // message == clients:
                    break
                await asyncio.sleep(0.1)
            await good_exchange(handle.url)  # served while the others hold the budget
            done.set()
            return await asyncio.gather(*tasks), peak, peak_rss

        codes, peak, peak_rss = asyncio.run(attack())
        final = health(handle.url)
    dropped = final["dropped"].get("buffered bytes over max_buffered", 0)
    held = codes.count(None)
    assert dropped == clients - held and held >= limits.max_buffered // message - 1, codes
    assert set(codes) - {None} <= {1013, 1006}, codes  # 1006: the close frame lost to a reset
    assert peak <= limits.max_buffered
    assert final["buffered_bytes"] == 0  # released when the connections went
    assert peak_rss - before < 120, (before, peak_rss)  # 60 x 2 MiB would be 120 MiB on top
    RESULTS["fragmented"] = f"60 x 2 MiB unfinished: {dropped} closed (1013), {held} held, peak {peak >> 20} MiB"


@pytest.mark.timeout(90)
def test_a_ping_flood_that_never_reads_is_dropped(tmp_path):
    with serve("identity", workdir=tmp_path / "scratch") as handle:
        pid = health(handle.url)["pid"]
        before = rss_mb(pid)
        sock, response = raw_handshake(handle.port)
        assert " 101 " in response.splitlines()[0]
        ping = Frame(Opcode.PING, b"p" * 125).serialize(mask=True, extensions=[])
        sock.settimeout(0.5)
        sent, started, closed = 0, time.monotonic(), False
        while time.monotonic() - started < 30:
            try:
                sock.sendall(ping * 256)
                sent += 256
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                closed = True
                break
        sock.close()
        asyncio.run(good_exchange(handle.url))
        final = health(handle.url)
        after = rss_mb(pid)
    assert closed, f"still open after {sent} pings"
    assert final["dropped"].get("pongs left unread") == 1
    assert after - before < 50, (before, after)
    RESULTS["ping flood"] = f"dropped after {sent} pings sent, RSS {before:.0f} -> {after:.0f} MB"


@pytest.mark.timeout(60)
def test_idle_connections_are_closed_and_unanswered_pings_end_a_connection(tmp_path):
    limits = ServerLimits(idle_timeout=1.0, ping_interval=0.5, ping_timeout=0.5)
    with serve("identity", limits=limits, workdir=tmp_path / "scratch") as handle:

        async def idle(i: int):
            async with connect(handle.url, compression=None, ping_interval=None) as ws:
                await asyncio.wait_for(ws.wait_closed(), 10)
                return ws.close_code, ws.close_reason

        async def both():
            return await asyncio.gather(*(idle(i) for i in range(30)))

        closes = asyncio.run(both())
        silent, _ = raw_handshake(handle.port)  # answers no ping, sends nothing
        silent.settimeout(10)
        started, data = time.monotonic(), b""
        while chunk := silent.recv(4096):
            data += chunk
        waited = time.monotonic() - started
        silent.close()
        asyncio.run(good_exchange(handle.url))
        final = health(handle.url)
    assert set(closes) == {(1000, "idle for 1 s")}
    assert opcodes(data)[-1] == Opcode.CLOSE.value  # pings, then the close frame, then the end
    assert waited < 6  # keepalive (0.5 s + 0.5 s) or idle (1 s), then 2 s for the close handshake
    assert final["dropped"]["idle"] >= 30
    RESULTS["idle"] = f"30 idle connections closed after 1 s; a silent peer gone after {waited:.1f} s"


@pytest.mark.timeout(60)
def test_connections_past_the_limit_get_503_and_good_clients_come_back(tmp_path):
    with serve("identity", limits=ServerLimits(max_connections=30), workdir=tmp_path / "scratch") as handle:

        async def scenario():
            held = [await connect(handle.url, compression=None, ping_interval=None) for _ in range(30)]
            with pytest.raises(InvalidStatus) as refused:
                await connect(handle.url, compression=None, ping_interval=None, open_timeout=10)
            for ws in held[:5]:
                await ws.close()
            await asyncio.sleep(0.2)
            await good_exchange(handle.url)
            for ws in held[5:]:
                await ws.close()
            return refused.value.response.status_code

        status = asyncio.run(scenario())
        final = health(handle.url)
    assert status == 503
    assert final["dropped"]["connection limit (503)"] == 1 and final["limits"]["max_connections"] == 30
    RESULTS["connections"] = "31st connection: HTTP 503; a good client served once some closed"


@pytest.mark.timeout(60)
def test_two_upgrade_headers_get_400_without_a_traceback(tmp_path):
    log = tmp_path / "servers.log"
    with serve("identity", log=log, workdir=tmp_path / "scratch") as handle:
        statuses = []
        for _ in range(200):
            sock, response = raw_handshake(handle.port, extra="Upgrade: websocket\r\n")
            statuses.append(response.split(" ", 2)[1])
            sock.close()
        asyncio.run(good_exchange(handle.url))
    text = log.read_text()
    assert set(statuses) == {"400"}
    assert "Traceback" not in text and len(text.splitlines()) <= 3, text


@pytest.mark.timeout(60)
def test_serve_beyond_loopback_warns_and_an_empty_host_is_refused(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "aura_lab", "serve", "--host", "0.0.0.0", "--port", "0", "--codec", "identity"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("aura-lab serve: ws://0.0.0.0:")
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "warning: identity server listening on 0.0.0.0:" in err and "beyond loopback" in err
    empty = subprocess.run(
        [sys.executable, "-m", "aura_lab", "serve", "--host", "", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert empty.returncode == 2
    assert empty.stderr.strip().splitlines() == [
        "aura-lab: error: --host: give an address to bind, got '' (127.0.0.1, or 0.0.0.0 for every interface)"
    ]
