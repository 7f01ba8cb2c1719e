"""One simulated user's link to a server group: the small interface the load engine
talks through, and its two implementations.

- ``WebSocketLink``: a real connection to one of a group's URLs; connect, exchange,
  reconnect with back-off, fail over to the next URL.
- ``InProcessLink``: no socket at all; it calls the same protocol function the server
  calls (``wire.protocol.answer``) with the user's own connection state, and judges the
  reply as a client would. Offline replay stands on it.

A link speaks the peer's protocol (one text message out, one JSON reply back) and turns
every outcome into an ``Exchange``: an answer, or an error with its kind. It never
raises for a server's fault, so the run goes on and counts it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ..codecs import Codec
from ..config import MAX_MESSAGE_SIZE, MIN_COMPRESSION_SIZE, REPLY_TIMEOUT_S
from ..wire.judge import Exchange, judge_reply
from ..wire.labels import Label, from_reply
from ..wire.protocol import ServerStats, answer


@dataclass
class LinkStats:
    reconnects: int = 0
    failovers: int = 0
    connect_failures: int = 0


class Link(Protocol):
    """What the engine needs of a user's link to one server group."""

    stats: LinkStats
    sent_ns: int | None  # when the current (or last) message went out, perf_counter_ns

    @property
    def url(self) -> str: ...

    async def exchange(self, text: str) -> Exchange: ...
    async def close(self) -> None: ...


class WebSocketLink:
    """A user's connection to one of ``urls`` (it starts at ``start`` and stays there;
    after ``failover_after`` consecutive connection failures it moves to the next)."""

    def __init__(
        self,
        urls: list[str],
        start: int = 0,
        timeout: float = REPLY_TIMEOUT_S,
        backoff: tuple[float, float] = (0.05, 2.0),
        failover_after: int = 2,
    ):
        self.urls = urls
        self.index = start % len(urls)
        self.timeout = timeout
        self.backoff_min, self.backoff_max = backoff
        self.failover_after = failover_after
        self.stats = LinkStats()
        self._ws: ClientConnection | None = None
        self.sent_ns: int | None = None  # when the current (or last) message went out
        self._failures = 0  # consecutive failures on the current URL
        self._ever_connected = False

    @property
    def url(self) -> str:
        return self.urls[self.index]

    def backoff_delay(self) -> float:
        """Seconds to wait before the next connection attempt (0 when healthy)."""
        if self._failures == 0:
            return 0.0
        return min(self.backoff_max, self.backoff_min * 2 ** (self._failures - 1))

    def _failed(self) -> None:
        self._failures += 1
        if len(self.urls) > 1 and self._failures >= self.failover_after:
            self.index = (self.index + 1) % len(self.urls)
            self.stats.failovers += 1
            self._failures = 0

    async def _connect(self):
        if self._ws is not None:
            return self._ws
        self._ws = await connect(
            self.url, open_timeout=self.timeout, close_timeout=1, max_size=None, compression=None, ping_interval=None
        )
        if self._ever_connected or self.stats.connect_failures:
            # a connection after a lost one, or after failed attempts (a failover included)
            self.stats.reconnects += 1
        self._ever_connected = True
        return self._ws

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 1.0)
            except Exception:  # already gone: nothing to tidy
                pass

    async def exchange(self, text: str) -> Exchange:
        self.sent_ns = None
        if self._ws is None and self.backoff_delay():
            await asyncio.sleep(self.backoff_delay())  # a refusing server is not hammered
        url = self.url
        try:
            ws = await self._connect()
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self.stats.connect_failures += 1
            self._failed()
            return Exchange(url, None, None, "error", "connect", _describe(exc))
        sent = self.sent_ns = time.perf_counter_ns()
        try:
            await ws.send(text)
            async with asyncio.timeout(self.timeout):  # cheaper than wait_for: no extra task
                raw = await ws.recv()
        except TimeoutError:
            # a late reply would be taken for the next message's: start a new connection
            await self._drop()
            self._failed()
            return Exchange(url, sent, None, "error", "timeout", f"no reply within {self.timeout:g} s")
        except (ConnectionClosed, OSError) as exc:
            await self._drop()
            self._failed()
            return Exchange(url, sent, None, "error", "closed", _describe(exc))
        received = time.perf_counter_ns()
        self._failures = 0
        result = judge_reply(url, sent, received, raw, text)
        if result.error_kind == "mismatched_reply":
            await self._drop()  # the stream is out of step: start afresh
        return result

    async def close(self) -> None:
        await self._drop()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


class InProcessLink:
    """A user's connection to an in-process codec: the server's protocol function
    called directly, with this user's own connection state. ``stats`` is shared by the
    group, as a server's counters are shared by its connections."""

    def __init__(
        self,
        codec: Codec,
        server_stats: ServerStats,
        label: str,
        *,
        min_compression_size: int = MIN_COMPRESSION_SIZE,
        max_size: int = MAX_MESSAGE_SIZE,
    ):
        self.codec = codec
        self.server_stats = server_stats
        self.url = f"inprocess://{label}"
        self.min_compression_size = min_compression_size
        self.max_size = max_size
        self.stats = LinkStats()
        self.sent_ns: int | None = None
        self._state: Any = codec.new_connection_state()

    async def exchange(self, text: str) -> Exchange:
        sent = self.sent_ns = time.perf_counter_ns()
        reply = answer(
            text.encode("utf-8", "surrogatepass"),
            True,
            self.codec,
            self._state,
            self.server_stats,
            min_compression_size=self.min_compression_size,
            max_size=self.max_size,
        )
        raw = json.dumps(reply)  # exactly the frame a server would send
        return judge_reply(self.url, sent, time.perf_counter_ns(), raw, text)

    async def close(self) -> None:
        self._state = None


@dataclass
class Group:
    """Servers that receive the same traffic: one codec's server, external replicas, or
    an in-process codec (``codec`` set, no URLs). ``learns_label``: the servers did not
    say what they run (no ``GET /health``), so the engine keeps the first reply that
    does (``learnt``; AURA's compressor shows itself in its replies)."""

    label: str
    urls: list[str] = field(default_factory=list)
    codec: Codec | None = None
    min_compression_size: int = MIN_COMPRESSION_SIZE
    server_stats: ServerStats = field(default_factory=ServerStats)
    learns_label: bool = False
    learnt: Label | None = None

    def learn(self, reply: dict) -> None:
        """Keep what a reply says about the codec, until one has said it."""
        if self.learns_label and self.learnt is None:
            self.learnt = from_reply(reply)

    def new_link(self, user_id: int, timeout: float) -> Link:
        """A link for one user: users are spread round-robin over the URLs."""
        if self.codec is not None:
            return InProcessLink(
                self.codec, self.server_stats, self.label, min_compression_size=self.min_compression_size
            )
        return WebSocketLink(self.urls, start=user_id, timeout=timeout)
