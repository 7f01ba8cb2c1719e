"""The engine's one watchdog for reply timeouts: a timeout as a timer per receive gave
it, a stop that still wins, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest

from aura_lab.load.links import WebSocketLink
from aura_lab.load.watchdog import Watchdog
from tests.support.servers import GarbageServer, SlowServer

pytestmark = pytest.mark.timeout(30)


def test_watchdog_times_out_a_stalled_reply_and_the_link_goes_on():
    async def main():
        async with GarbageServer(stall=2) as server:
            dog = Watchdog(0.3)
            link = WebSocketLink([server.url], timeout=0.3, watchdog=dog)
            started = time.perf_counter()
            results = [await link.exchange(text) for text in ("one", "two", "three")]
            elapsed = time.perf_counter() - started
            await link.close()
            dog.close()
            return server, results, elapsed

    server, results, elapsed = asyncio.run(main())
    assert [r.error_kind for r in results] == [None, "timeout", None]
    assert results[1].error == "no reply within 0.3 s"
    assert 0.3 <= elapsed < 0.3 + 0.03 + 1.0  # at most one tick late (0.03 s), and the stall is 2 s
    assert server.connections == 2  # the late reply is not taken for the next message's


def test_watchdog_leaves_replies_within_the_timeout_alone():
    async def main():
        async with SlowServer(100) as server:
            dog = Watchdog(0.5)
            links = [WebSocketLink([server.url], timeout=0.5, watchdog=dog) for _ in range(5)]
            results = await asyncio.gather(*(link.exchange(f"message {i}") for i, link in enumerate(links)))
            await asyncio.gather(*(link.close() for link in links))
            dog.close()
            return results

    assert [r.status for r in asyncio.run(main())] == ["ok"] * 5


def test_a_stop_during_a_watched_wait_is_a_cancellation_not_a_timeout():
    # a stop cancels the user's task: it must go on as a cancellation (the engine records it)
    async def main():
        dog = Watchdog(0.05)
        never = asyncio.get_running_loop().create_future()
        waiting = asyncio.ensure_future(dog.wait("user", never))
        await asyncio.sleep(0.01)
        waiting.cancel()  # a stop, before the deadline
        with pytest.raises(asyncio.CancelledError):
            await waiting
        dog.close()

    asyncio.run(main())


def test_watchdog_times_out_plain_awaits():
    async def main():
        dog = Watchdog(0.05)
        with pytest.raises(TimeoutError):
            await dog.wait("a", asyncio.sleep(5))
        assert await dog.wait("b", asyncio.sleep(0.01, result=7)) == 7
        dog.close()

    asyncio.run(main())
