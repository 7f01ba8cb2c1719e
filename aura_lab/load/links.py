"""One simulated user's link to a server group: the small interface the load engine
talks through, and its two implementations.

- ``WebSocketLink``: a real connection to one of a group's URLs (``wsclient``); connect,
  exchange, reconnect with back-off, fail over to the next URL.
- ``InProcessLink``: no socket at all; it calls the same protocol function the server
  calls (``wire.protocol.answer``) with the user's own connection state, and judges the
  reply as a client would. Offline replay stands on it.

A link speaks the peer's protocol (one text message out, one JSON reply back) and turns
every outcome into an ``Exchange``: an answer, or an error with its kind. It never
raises for a server's fault, so the run goes on and counts it.

Each message travels in a direction (a human's from the client, an assistant's reply from
the server). A group whose codec keeps one context per direction (``Group.context``, as
its server's ``GET /health`` says) gets a ``DirectedLink``: one connection per direction,
the server's told by its URL (``?direction=server-to-client``), so each direction's
history is its own as on a real WebSocket, with nothing added to the peer's protocol.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import CloseCode
from websockets.protocol import State

from ..codecs import Codec
from ..codecs.base import CLIENT_TO_SERVER, NO_CONTEXT, PER_DIRECTION, ConnectionStates
from ..config import MAX_MESSAGE_SIZE, MAX_REPLY_SIZE, MIN_COMPRESSION_SIZE, REPLY_TIMEOUT_S
from ..wire.judge import Exchange, judge_reply
from ..wire.labels import Label, from_reply
from ..wire.protocol import ServerStats, answer
from .server_health import ServerHealth
from .watchdog import Watchdog
from .wsclient import LeanConnection, open_connection


@dataclass
class LinkStats:
    reconnects: int = 0
    failovers: int = 0
    connect_failures: int = 0

    FIELDS: ClassVar[tuple[str, ...]] = ("reconnects", "failovers", "connect_failures")


class Link(Protocol):
    """What the engine needs of a user's link to one server group."""

    @property
    def stats(self) -> LinkStats: ...

    @property
    def sent_ns(self) -> int | None:
        """When the current (or last) message went out, perf_counter_ns."""

    @property
    def url(self) -> str: ...

    async def open(self) -> None:
        """Connect now if not connected; never raises (the next exchange records a failure)."""

    async def exchange(self, text: str, direction: str = CLIENT_TO_SERVER) -> Exchange: ...
    async def close(self) -> None: ...


class WebSocketLink:
    """A user's connection to one of ``urls`` (it starts at ``start`` and stays there;
    after ``failover_after`` consecutive connection failures it moves to the next, and
    it never goes back to a URL that ``health`` says is dead). Replies over ``max_size``
    bytes are refused (the connection is closed)."""

    def __init__(
        self,
        urls: list[str],
        start: int = 0,
        timeout: float = REPLY_TIMEOUT_S,
        backoff: tuple[float, float] = (0.05, 2.0),
        failover_after: int = 2,
        max_size: int = MAX_REPLY_SIZE,
        health: ServerHealth | None = None,
        watchdog: Watchdog | None = None,
        direction: str | None = None,
    ):
        """``direction``: say it in the URL's query (a ``DirectedLink``'s connections);
        None: connect to the URL as it is."""
        self.urls = urls
        self.direction = direction
        self.watchdog = watchdog
        self.index = start % len(urls)
        self.timeout = timeout
        self.backoff_min, self.backoff_max = backoff
        self.failover_after = failover_after
        self.max_size = max_size
        self.health = health if health is not None else ServerHealth()
        self.stats = LinkStats()
        self._ws: LeanConnection | None = None
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
            self._move()

    def _move(self) -> None:
        """Fail over to the next URL that is not dead (if every one is, stay put)."""
        for step in range(1, len(self.urls)):
            index = (self.index + step) % len(self.urls)
            if not self.health.is_dead(self.urls[index]):
                self.index = index
                self.stats.failovers += 1
                self._failures = 0
                return

    async def _connect(self):
        if self._ws is not None:
            if self._ws.state is State.OPEN:
                return self._ws
            # the server closed it while the user was thinking (its idle timeout, a
            # restart): a new connection, before the message is sent, not a lost message
            await self._drop()
        url = self.url if self.direction is None else with_direction(self.url, self.direction)
        self._ws = await open_connection(url, self.timeout, self.max_size, close_timeout=1)
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

    async def open(self) -> None:
        """Connect ahead of the first message (an open loop's schedule starts after it);
        a failure is left for that message's exchange to meet and record."""
        if self.health.is_dead(self.url):
            return
        try:
            await self._connect()
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError):
            await self._drop()

    async def exchange(self, text: str, direction: str = CLIENT_TO_SERVER) -> Exchange:
        self.sent_ns = None
        if self.health.is_dead(self.url):
            self._move()
        url = self.url
        if self.health.is_dead(url):  # and so is every other URL of the group
            await self._drop()
            return Exchange(url, None, None, "error", "connect", f"not sent: {self.health.dead[url].describe()}")
        if self._ws is None and self.backoff_delay():
            await asyncio.sleep(self.backoff_delay())  # a refusing server is not hammered
            if self.health.is_dead(url):  # another user gave up on it meanwhile
                return await self.exchange(text, direction)
        try:
            ws = await self._connect()
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self.stats.connect_failures += 1
            self.health.failed(url, _describe(exc))
            self._failed()
            return Exchange(url, None, None, "error", "connect", _describe(exc))
        self.health.succeeded(url)
        sent = self.sent_ns = time.perf_counter_ns()
        try:
            await ws.send(text)
            if self.watchdog is not None:  # the engine's: one task for every link's timeouts
                raw = await self.watchdog.wait(self, ws.recv())
            else:
                async with asyncio.timeout(self.timeout):  # cheaper than wait_for: no extra task
                    raw = await ws.recv()
        except TimeoutError:
            # a late reply would be taken for the next message's: start a new connection
            await self._drop()
            self._failed()
            return Exchange(url, sent, None, "error", "timeout", f"no reply within {self.timeout:g} s")
        except ConnectionClosed as exc:
            await self._drop()
            if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                # the reply came, but too large to keep: the server answered, badly
                return Exchange(
                    url,
                    sent,
                    time.perf_counter_ns(),
                    "error",
                    "bad_reply",
                    f"reply over the {self.max_size:,}-byte limit (--max-reply-size); the connection was closed",
                )
            self._failed()
            return Exchange(url, sent, None, "error", "closed", _describe(exc))
        except OSError as exc:
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


def with_direction(url: str, direction: str) -> str:
    """``url`` with ``direction=...`` in its query."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), ("direction", direction)])
    return urllib.parse.urlunsplit(parts._replace(path=parts.path or "/", query=query))


class DirectedLink:
    """A user's link to a server that keeps one context per direction: one connection per
    direction, opened when its first message goes (a one-sided user opens one)."""

    def __init__(self, make: Callable[[str], WebSocketLink]):
        self._make = make
        self._links: dict[str, WebSocketLink] = {}
        self._last: WebSocketLink | None = None

    def _link(self, direction: str) -> WebSocketLink:
        if direction not in self._links:
            self._links[direction] = self._make(direction)
        return self._links[direction]

    @property
    def url(self) -> str:
        return (self._last or self._link(CLIENT_TO_SERVER)).url

    @property
    def sent_ns(self) -> int | None:
        return self._last.sent_ns if self._last is not None else None

    @property
    def stats(self) -> LinkStats:
        links = self._links.values()
        return LinkStats(*(sum(getattr(link.stats, name) for link in links) for name in LinkStats.FIELDS))

    async def open(self) -> None:
        """Connect the client's direction ahead of the first message (an open loop's
        schedule starts after it); the other opens with its first message."""
        await self._link(CLIENT_TO_SERVER).open()

    async def exchange(self, text: str, direction: str = CLIENT_TO_SERVER) -> Exchange:
        self._last = self._link(direction)
        return await self._last.exchange(text, direction)

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()


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
        self._states: ConnectionStates | None = ConnectionStates(codec)

    async def open(self) -> None:
        """Nothing to connect."""

    async def exchange(self, text: str, direction: str = CLIENT_TO_SERVER) -> Exchange:
        sent = self.sent_ns = time.perf_counter_ns()
        assert self._states is not None, "exchange after close"
        reply = answer(
            text.encode("utf-8", "surrogatepass"),
            True,
            self.codec,
            self._states(direction),
            self.server_stats,
            min_compression_size=self.min_compression_size,
            max_size=self.max_size,
        )
        raw = json.dumps(reply)  # exactly the frame a server would send
        return judge_reply(self.url, sent, time.perf_counter_ns(), raw, text)

    async def close(self) -> None:
        self._states = None


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
    health: ServerHealth = field(default_factory=ServerHealth)
    learns_label: bool = False
    learnt: Label | None = None
    context: str = NO_CONTEXT  # what its servers keep between messages (their /health says)

    def learn(self, reply: dict) -> None:
        """Keep what a reply says about the codec, until one has said it."""
        if self.learns_label and self.learnt is None:
            self.learnt = from_reply(reply)

    def new_link(
        self, user_id: int, timeout: float, max_reply_size: int = MAX_REPLY_SIZE, watchdog: Watchdog | None = None
    ) -> Link:
        """A link for one user: users are spread round-robin over the URLs; ``watchdog``
        (of ``timeout`` seconds) times its replies out, else a timer per receive."""
        if self.codec is not None:
            return InProcessLink(
                self.codec, self.server_stats, self.label, min_compression_size=self.min_compression_size
            )

        def connection(direction: str | None) -> WebSocketLink:
            return WebSocketLink(
                self.urls,
                start=user_id,
                timeout=timeout,
                max_size=max_reply_size,
                health=self.health,
                watchdog=watchdog,
                direction=direction,
            )

        return DirectedLink(connection) if self.context == PER_DIRECTION else connection(None)

    def dead_servers(self) -> list[dict]:
        """The servers of this group given up on during the run: url, codec, note."""
        return [{"url": d.url, "codec": self.label, "note": d.describe()} for d in self.health.dead.values()]
