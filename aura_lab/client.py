"""One simulated user's link to a server group: connect, exchange, fail over.

A link speaks the peer's protocol (one text frame out, one JSON text frame back) and
turns every outcome into the reply part of a trace record: an answer, or an error with
its kind. It never raises for a server's fault, so the run goes on and counts it.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

# Reply fields the peer's server always sends on success (PEER.md).
REQUIRED_FIELDS = ("status", "original_size", "compressed_size", "compression_ratio", "method")
ERROR_KINDS = ("timeout", "closed", "connect", "server_error", "bad_reply", "mismatched_reply",
               "interrupted")  # interrupted: the run stopped before the reply (engine)


@dataclass
class LinkStats:
    reconnects: int = 0
    failovers: int = 0
    connect_failures: int = 0


@dataclass
class Exchange:
    """What happened to one message on one link. Times are time.perf_counter_ns()."""

    url: str
    sent_ns: int | None
    received_ns: int | None
    status: str
    error_kind: str | None = None
    error: str | None = None
    reply: dict = field(default_factory=dict)


class ServerLink:
    """A user's connection to one of ``urls`` (it starts at ``start`` and stays there;
    after ``failover_after`` consecutive connection failures it moves to the next)."""

    def __init__(self, urls: list[str], start: int = 0, timeout: float = 10.0,
                 backoff: tuple[float, float] = (0.05, 2.0), failover_after: int = 2):
        self.urls = urls
        self.index = start % len(urls)
        self.timeout = timeout
        self.backoff_min, self.backoff_max = backoff
        self.failover_after = failover_after
        self.stats = LinkStats()
        self._ws = None
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
        self._ws = await connect(self.url, open_timeout=self.timeout, close_timeout=1,
                                 max_size=None, compression=None, ping_interval=None)
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
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError, asyncio.TimeoutError) as exc:
            self.stats.connect_failures += 1
            self._failed()
            return Exchange(url, None, None, "error", "connect", _describe(exc))
        sent = self.sent_ns = time.perf_counter_ns()
        try:
            await ws.send(text)
            async with asyncio.timeout(self.timeout):  # cheaper than wait_for: no extra task
                raw = await ws.recv()
        except (TimeoutError, asyncio.TimeoutError):
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


def judge_reply(url: str, sent: int, received: int, raw, text: str) -> Exchange:
    """Classify a raw reply frame: ok, or an error of a stated kind."""
    if isinstance(raw, bytes):
        return Exchange(url, sent, received, "error", "bad_reply", "binary frame instead of JSON text")
    try:
        reply = json.loads(raw)
    except json.JSONDecodeError as exc:
        return Exchange(url, sent, received, "error", "bad_reply", f"reply is not JSON: {exc.msg}")
    except (ValueError, RecursionError) as exc:  # a number too long for int(), absurd nesting
        return Exchange(url, sent, received, "error", "bad_reply", f"unreadable JSON: {type(exc).__name__}")
    if not isinstance(reply, dict):
        return Exchange(url, sent, received, "error", "bad_reply", "reply is not a JSON object")
    if "original_message" in reply and reply["original_message"] != text:
        return Exchange(url, sent, received, "error", "mismatched_reply",
                        "reply echoes a different message", reply)
    if reply.get("status") == "error":
        return Exchange(url, sent, received, "error", "server_error",
                        str(reply.get("error") or "server replied status: error"), reply)
    missing = [f for f in REQUIRED_FIELDS if f not in reply]
    if missing:
        return Exchange(url, sent, received, "error", "bad_reply",
                        f"reply lacks {', '.join(missing)}", reply)
    if reply.get("status") != "ok":
        return Exchange(url, sent, received, "error", "bad_reply",
                        f"unknown status {reply.get('status')!r}", reply)
    bad = [f for f in ("original_size", "compressed_size", "compression_ratio")
           if isinstance(reply[f], bool) or not isinstance(reply[f], (int, float))]
    if bad:
        return Exchange(url, sent, received, "error", "bad_reply", f"non-numeric {', '.join(bad)}", reply)
    return Exchange(url, sent, received, "ok", None, None, reply)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
