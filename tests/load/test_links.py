"""ServerLink and judge_reply: every outcome of one message, against real servers."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from aura_lab.load.links import WebSocketLink as ServerLink
from aura_lab.wire.judge import ERROR_KINDS, REQUIRED_FIELDS, judge_reply
from tests.support.servers import GarbageServer, PeerServer, SlowServer, peer_reply

pytestmark = pytest.mark.timeout(30)

TEXT = "Could you summarise the meeting notes from Tuesday in three bullet points?"


def judge(raw, text=TEXT):
    return judge_reply("ws://127.0.0.1:1", 1, 2, raw, text)


def dead_url() -> str:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{sock.getsockname()[1]}"


# -- judge_reply: one case per kind ------------------------------------------------------


def test_judge_ok_reply_keeps_the_reply():
    reply = peer_reply(TEXT, 1)
    result = judge(json.dumps(reply))
    assert (result.status, result.error_kind, result.error) == ("ok", None, None)
    assert result.reply == reply
    assert (result.sent_ns, result.received_ns) == (1, 2)


def test_judge_ok_without_echo():
    reply = peer_reply(TEXT, 1)
    del reply["original_message"]  # the echo is optional; the sizes are not
    assert judge(json.dumps(reply)).status == "ok"


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"\x00\x01", "binary"),
        ("<html>502 Bad Gateway</html>", "not JSON"),
        ("[1, 2, 3]", "not a JSON object"),
        (json.dumps({"status": "ok", "original_message": TEXT}), "lacks"),
        (json.dumps({**peer_reply(TEXT, 1), "status": "maybe"}), "unknown status"),
        (json.dumps({**peer_reply(TEXT, 1), "compressed_size": "12"}), "non-numeric"),
        (json.dumps({**peer_reply(TEXT, 1), "compression_ratio": True}), "non-numeric"),
    ],
)
def test_judge_bad_reply(raw, why):
    result = judge(raw)
    assert (result.status, result.error_kind) == ("error", "bad_reply")
    assert why in result.error


def test_judge_missing_fields_are_named():
    reply = peer_reply(TEXT, 1)
    del reply["compressed_size"], reply["method"]
    result = judge(json.dumps(reply))
    assert result.error_kind == "bad_reply"
    assert "compressed_size" in result.error and "method" in result.error
    assert set(REQUIRED_FIELDS) <= set(peer_reply(TEXT, 1))


def test_judge_server_error():
    result = judge(json.dumps({"status": "error", "error": "compressor exploded", "original_message": TEXT}))
    assert (result.status, result.error_kind, result.error) == ("error", "server_error", "compressor exploded")
    result = judge(json.dumps({"status": "error"}))
    assert result.error_kind == "server_error" and result.error


def test_judge_mismatched_reply():
    result = judge(json.dumps(peer_reply("somebody else's message", 1)))
    assert (result.status, result.error_kind) == ("error", "mismatched_reply")


def test_every_kind_judge_gives_is_declared():
    kinds = {
        judge(raw).error_kind
        for raw in (b"x", "nope", json.dumps({"status": "error"}), json.dumps(peer_reply("other", 1)))
    }
    assert kinds <= set(ERROR_KINDS)


# -- ServerLink against real servers -------------------------------------------------------


async def _exchanges(link: ServerLink, texts: list[str]):
    try:
        return [await link.exchange(text) for text in texts]
    finally:
        await link.close()


def test_link_ok_and_latency_times():
    async def main():
        async with PeerServer() as server:
            link = ServerLink([server.url])
            results = await _exchanges(link, [TEXT, "hi", TEXT])
            return server, link, results

    server, link, results = asyncio.run(main())
    assert [r.status for r in results] == ["ok"] * 3
    assert all(r.received_ns > r.sent_ns for r in results)
    assert server.connections == 1  # one connection, kept
    assert link.stats.reconnects == 0


def test_link_connect_error_then_backoff_grows():
    link = ServerLink([dead_url()], backoff=(0.05, 0.2))

    async def main():
        started = time.monotonic()
        results = await _exchanges(link, ["a", "b", "c", "d"])
        return results, time.monotonic() - started

    results, elapsed = asyncio.run(main())
    assert [r.error_kind for r in results] == ["connect"] * 4
    assert all(r.sent_ns is None and r.received_ns is None for r in results)
    assert link.stats.connect_failures == 4
    assert link.backoff_delay() == 0.2  # capped
    # waits 0.05 + 0.1 + 0.2 before the 2nd, 3rd and 4th attempts
    assert elapsed >= 0.3


def test_link_timeout_drops_connection_and_reconnects():
    async def main():
        async with GarbageServer(stall=2) as server:
            link = ServerLink([server.url], timeout=0.3)
            results = await _exchanges(link, ["one", "two", "three"])
            return server, link, results

    server, link, results = asyncio.run(main())
    assert [r.error_kind for r in results] == [None, "timeout", None]
    assert results[1].sent_ns is not None and results[1].received_ns is None
    assert server.connections == 2  # a late reply must not be taken for the next message's
    assert link.stats.reconnects == 1


def test_link_closed_connection_is_counted_and_reconnected():
    async def main():
        async with GarbageServer(close_connection=1) as server:  # closes every connection's first message
            link = ServerLink([server.url], backoff=(0.01, 0.05))
            results = await _exchanges(link, ["one", "two"])
            return server, link, results

    _server, link, results = asyncio.run(main())
    assert [r.error_kind for r in results] == ["closed", "closed"]
    assert link.stats.reconnects == 1


def test_link_mismatched_reply_starts_a_new_connection():
    async def main():
        async with GarbageServer(wrong_echo=1) as server:
            link = ServerLink([server.url])
            results = await _exchanges(link, ["one", "two"])
            return server, link, results

    server, _link, results = asyncio.run(main())
    assert [r.error_kind for r in results] == ["mismatched_reply"] * 2
    assert server.connections == 2


def test_link_fails_over_to_the_next_url():
    dead = dead_url()

    async def main():
        async with PeerServer() as server:
            link = ServerLink([dead, server.url], start=0, failover_after=2, backoff=(0.01, 0.05))
            results = await _exchanges(link, ["one", "two", "three", "four"])
            return server, link, results

    server, link, results = asyncio.run(main())
    assert [r.error_kind for r in results] == ["connect", "connect", None, None]
    assert [r.url for r in results] == [dead, dead, server.url, server.url]
    assert link.stats.failovers == 1
    assert link.stats.reconnects == 1  # the move to another server is a reconnection


def test_link_start_spreads_users_round_robin():
    urls = ["ws://127.0.0.1:1", "ws://127.0.0.1:2", "ws://127.0.0.1:3"]
    assert [ServerLink(urls, start=user).url for user in range(4)] == urls + urls[:1]


def test_slow_reply_within_timeout_is_ok():
    async def main():
        async with SlowServer(100) as server:
            link = ServerLink([server.url], timeout=2)
            return await _exchanges(link, [TEXT])

    (result,) = asyncio.run(main())
    assert result.status == "ok"
    assert (result.received_ns - result.sent_ns) / 1e6 >= 95


# -- servers that die, and servers that close idle connections ----------------------------


def test_server_health_marks_a_url_dead_only_after_its_back_off():
    from aura_lab.load.server_health import ServerHealth

    health = ServerHealth(dead_after=3, dead_after_s=0.2)
    for _ in range(5):
        health.failed("ws://a", "refused")
    assert not health.is_dead("ws://a")  # many failures, but within a blink: a restart, perhaps
    time.sleep(0.25)
    health.failed("ws://a", "refused")
    assert health.is_dead("ws://a") and "6 failed connections" in health.dead["ws://a"].describe()
    health.failed("ws://b", "refused")
    health.succeeded("ws://b")
    time.sleep(0.25)
    health.failed("ws://b", "refused")
    assert not health.is_dead("ws://b")  # a success starts the count again


def test_a_dead_url_costs_no_wait_and_its_group_fails_over():
    asyncio.run(_dead_url_and_failover())


async def _dead_url_and_failover():
    from aura_lab.load.server_health import ServerHealth

    async with PeerServer() as server:
        health = ServerHealth(dead_after=2, dead_after_s=0.0)
        gone = dead_url()
        lone = ServerLink([gone], health=health)
        for _ in range(2):
            assert (await lone.exchange(TEXT)).error_kind == "connect"
        assert health.is_dead(gone)
        started = time.perf_counter()
        result = await lone.exchange(TEXT)
        assert time.perf_counter() - started < 0.05  # no back-off, no connection attempt
        assert result.error_kind == "connect" and result.sent_ns is None and "marked dead" in result.error
        paired = ServerLink([gone, server.url], start=0, health=health)
        result = await paired.exchange(TEXT)  # straight to the live one
        assert result.status == "ok" and paired.stats.failovers == 1
        await paired.close()


def test_a_connection_the_server_closed_while_idle_is_reopened_before_sending():
    asyncio.run(_idle_closed_then_reopened())


async def _idle_closed_then_reopened():
    from aura_lab.servers.limits import ServerLimits
    from aura_lab.servers.server import start_server

    running = await start_server("identity", limits=ServerLimits(idle_timeout=0.2))
    try:
        link = ServerLink([f"ws://127.0.0.1:{running.port}"])
        assert (await link.exchange(TEXT)).status == "ok"
        await asyncio.sleep(0.6)  # the server closes it meanwhile
        result = await link.exchange(TEXT)
        assert result.status == "ok" and link.stats.reconnects == 1
        await link.close()
    finally:
        await running.close()
