"""Reliability: the embedded server (a real child process) under abuse. 1,000
connections at once, binary and invalid UTF-8 frames, oversized frames, half-open
connections: meanwhile a good client keeps getting correct replies in bounded time,
``GET /health`` answers, and the server's own count adds up exactly."""

from __future__ import annotations

import asyncio
import json
import resource
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aura_lab.servers.hosting import serve

CONNECTIONS = 1000
HALF_OPEN = 60
MAX_SIZE = 4096  # bytes; the server's limit in this test
BAD_ROUNDS = 20  # connections that each send a binary, an invalid UTF-8 and an oversized frame
GOOD_LATENCY_BOUND_S = 3.0  # a good message's reply, while all the above goes on (busy 2-core box)
GOOD_TEXT = "Could you summarise the meeting notes from Tuesday in three bullet points? #{}"


@pytest.fixture
def enough_file_descriptors():
    """Room for both ends of every connection (client here, server in the child)."""
    need = 2 * (CONNECTIONS + HALF_OPEN) + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
        return json.loads(response.read())


async def good_client(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """One well-behaved user: a message every 20 ms, each reply checked, at most 2,000."""
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        for i in range(2000):
            if stop.is_set():
                break
            text = GOOD_TEXT.format(i)
            started = time.perf_counter()
            await ws.send(text)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            latencies.append(time.perf_counter() - started)
            assert reply["status"] == "ok" and reply["original_message"] == text
            assert reply["roundtrip_ok"] is True and reply["original_size"] == len(text.encode())
            await asyncio.sleep(0.02)


async def one_shot(url: str, i: int) -> None:
    text = f"connection {i} asks: what is the capital of France, and why is it Paris?"
    async with connect(url, open_timeout=60, close_timeout=5, compression=None, ping_interval=None) as ws:
        await ws.send(text)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
    assert reply["status"] == "ok" and reply["original_message"] == text and reply["roundtrip_ok"] is True


async def bad_frames(url: str) -> list[dict]:
    """Binary, invalid UTF-8 and oversized frames on one connection: each gets an error
    reply and the connection stays usable; then a frame past the transport limit gets 1009."""
    replies = []
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        for frame, as_text in (
            (b"\x00\x01\x02 binary", False),
            (b"caf\xc3 \xff bad", True),
            (b"x" * (MAX_SIZE + 1), True),
        ):
            await ws.send(frame, text=as_text)
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
        await ws.send("still fine after all that, thank you very much for asking")
        assert json.loads(await asyncio.wait_for(ws.recv(), 60))["status"] == "ok"
        await ws.send("z" * (2 * MAX_SIZE + 64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 60)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    return replies


async def half_open(port: int, i: int):
    """A raw TCP connection that says nothing, or half an HTTP upgrade, and stays open."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if i % 2:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upg")
        await writer.drain()
    return writer


async def abuse(url: str, port: int) -> dict:
    stop, latencies = asyncio.Event(), []
    good = asyncio.create_task(good_client(url, stop, latencies))
    await asyncio.sleep(0.2)  # the good client is talking before the abuse starts
    writers = await asyncio.gather(*(half_open(port, i) for i in range(HALF_OPEN)))
    healths = []

    async def poll_health():
        while not stop.is_set():
            started = time.perf_counter()
            body = await asyncio.to_thread(health, port)
            healths.append((time.perf_counter() - started, body))
            await asyncio.sleep(0.2)

    poller = asyncio.create_task(poll_health())
    started = time.perf_counter()
    results = await asyncio.gather(
        *(one_shot(url, i) for i in range(CONNECTIONS)),
        *(bad_frames(url) for _ in range(BAD_ROUNDS)),
        return_exceptions=True,
    )
    abuse_s = time.perf_counter() - started
    await asyncio.sleep(0.3)  # a few more good messages after the storm
    stop.set()
    await asyncio.wait_for(good, 60)
    await asyncio.wait_for(poller, 30)
    for writer in writers:
        assert not writer.is_closing()  # still open, all along
        writer.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    return {"latencies": latencies, "healths": healths, "bad": results[CONNECTIONS:], "abuse_s": abuse_s}


@pytest.mark.timeout(120)
def test_server_under_abuse_keeps_serving_a_good_client(enough_file_descriptors, tmp_path):
    with serve("deflate", max_size=MAX_SIZE, workdir=tmp_path / "scratch") as handle:
        outcome = asyncio.run(abuse(handle.url, handle.port))
        final = health(handle.port)
    latencies = outcome["latencies"]
    assert len(latencies) >= 20  # the good client kept talking through the storm
    assert max(latencies) < GOOD_LATENCY_BOUND_S, (max(latencies), outcome["abuse_s"])
    assert len(outcome["healths"]) >= 2 and all(b["status"] == "ok" for _, b in outcome["healths"])
    assert max(t for t, _ in outcome["healths"]) < GOOD_LATENCY_BOUND_S
    for binary, invalid, oversize in outcome["bad"]:
        assert binary["status"] == invalid["status"] == oversize["status"] == "error"
        assert "binary frame" in binary["error"]
        assert "invalid UTF-8" in invalid["error"]
        assert "too large" in oversize["error"] and oversize["original_size"] == MAX_SIZE + 1
    # the server's own count: every reply it sent, exactly
    good_after_bad = BAD_ROUNDS  # each bad-frame connection sent one good message too
    assert final["messages_served"] == len(latencies) + CONNECTIONS + 3 * BAD_ROUNDS + good_after_bad
    assert final["error_replies"] == 3 * BAD_ROUNDS
    assert final["roundtrip_failures"] == 0
    print(
        f"\nabuse: {CONNECTIONS} connections + {BAD_ROUNDS} bad-frame rounds in {outcome['abuse_s']:.2f} s; "
        f"good client {len(latencies)} replies, max latency {max(latencies) * 1000:.0f} ms"
    )
