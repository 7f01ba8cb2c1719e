"""Small real WebSocket servers for the runner's tests (not test modules themselves).

Each one listens on 127.0.0.1, port 0, and speaks the peer's protocol (docs/protocol.md): one
text frame in, one JSON text frame out. Use one as an async context manager on the
test's own loop (``async with PeerServer() as server: server.url``) or on a thread
with its own loop (``with PeerServer() as server:``), which is what a blocking
``aura_lab.run(...)`` or a child ``aura-lab run`` process needs.

- ``PeerServer``: only the peer's reply fields, sizes from real zlib compression.
- ``WorseServer(factor)``: a PeerServer whose compressed sizes are ``factor`` times larger
  (1.25: a ratio 20 % worse), the injected regression of the comparison tests.
- ``SlowServer(delay_ms)``: a PeerServer that sleeps before every reply.
- ``GarbageServer(...)``: misbehaves on a schedule (every Nth message or connection).
- ``ChaosServer(seed, weights)``: misbehaviours mixed at random, one draw per message.
- ``ScriptedServer(frames)``: answers from a fixed list of frames, cyclically.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import zlib

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

PEER_REPLY_FIELDS = (
    "status",
    "original_message",
    "original_size",
    "compressed_size",
    "compression_ratio",
    "method",
    "message_count",
    "metadata",
)


def peer_reply(text: str, message_count: int, factor: float = 1.0) -> dict:
    """The peer's success reply with exactly its fields; sizes in UTF-8 bytes (the
    compressed size ``factor`` times zlib's)."""
    original = len(text.encode("utf-8"))
    compressed = round(len(zlib.compress(text.encode("utf-8"), 9)) * factor)
    method = "DEFLATE"  # zlib's sizes; not one of AURA's method names, so the run labels it "external"
    if compressed >= original:  # the raw text would go on the wire
        compressed, method = original, "UNCOMPRESSED"
    ratio = original / compressed if compressed else 1.0
    return {
        "status": "ok",
        "original_message": text,
        "original_size": original,
        "compressed_size": compressed,
        "compression_ratio": ratio,
        "method": method,
        "message_count": message_count,
        "metadata": {
            "ratio": ratio,
            "ratio_actual": ratio,
            "method": method.lower(),
            "attempted_methods": [method.lower()],
            "fast_path_used": False,
            "fallback_reason": None,
        },
    }


class BaseServer:
    """Serves ``answer(connection_number, message_number, text)`` for every message.

    ``answer`` returns the reply frame (str), or one of the actions ``CLOSE`` (close the
    connection without replying) and ``STALL`` (never reply; wait for the client to go).
    Counters are server-wide and 1-based; ``messages`` counts messages received.
    """

    CLOSE = object()
    STALL = object()

    def __init__(self):
        self.url: str | None = None
        self.port: int | None = None
        self.connections = 0
        self.messages = 0
        self.replies = 0
        self._server = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    async def answer(self, connection: int, number: int, text: str):
        return json.dumps(peer_reply(text, number))

    async def _handle(self, ws) -> None:
        self.connections += 1
        connection = self.connections
        while True:
            try:
                text = await ws.recv()
            except ConnectionClosed:
                return
            self.messages += 1
            reply = await self.answer(connection, self.messages, text)
            if reply is self.CLOSE:
                await ws.close()
                return
            if reply is self.STALL:
                await ws.wait_closed()
                return
            try:
                await ws.send(reply)
                self.replies += 1
            except ConnectionClosed:
                return

    # -- on the caller's loop ---------------------------------------------------------

    async def __aenter__(self):
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    # -- on a thread with its own loop --------------------------------------------------

    def start(self) -> BaseServer:
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), daemon=True, name=f"test-{type(self).__name__}"
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start in 10 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.__aenter__()
        except BaseException as exc:  # handed to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.__aexit__(None, None, None)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class PeerServer(BaseServer):
    """The peer's reply fields and nothing else (no /health, no /templates)."""


class WorseServer(BaseServer):
    """A PeerServer whose compressed sizes are ``factor`` times zlib's: the same traffic
    compresses ``1 - 1/factor`` worse (1.25: a 20 % lower ratio)."""

    def __init__(self, factor: float = 1.25):
        super().__init__()
        self.factor = factor

    async def answer(self, connection, number, text):
        return json.dumps(peer_reply(text, number, self.factor))


class SlowServer(BaseServer):
    """Sleeps ``delay_ms`` milliseconds before each reply (per connection, in order)."""

    def __init__(self, delay_ms: float):
        super().__init__()
        self.delay_ms = delay_ms

    async def answer(self, connection, number, text):
        await asyncio.sleep(self.delay_ms / 1000)
        return await super().answer(connection, number, text)


class GarbageServer(BaseServer):
    """Answers correctly except on a schedule. Each option is N: act on every Nth
    message (server-wide count), or for ``close_connection`` on every Nth connection
    (closed on its first message, unanswered). The first matching option wins.

    - ``non_json``: a frame that is not JSON
    - ``missing_fields``: JSON that lacks ``compressed_size`` and ``method``
    - ``status_error``: ``{status: "error", error, original_message}``
    - ``wrong_echo``: a well-formed reply echoing a different message
    - ``stall``: never answers (the connection stays open until the client leaves)
    - ``close_connection``: closes the connection without answering
    """

    def __init__(
        self,
        *,
        non_json: int = 0,
        missing_fields: int = 0,
        status_error: int = 0,
        wrong_echo: int = 0,
        stall: int = 0,
        close_connection: int = 0,
    ):
        super().__init__()
        self.every = {
            "close_connection": close_connection,
            "stall": stall,
            "non_json": non_json,
            "missing_fields": missing_fields,
            "status_error": status_error,
            "wrong_echo": wrong_echo,
        }
        self.done: dict[str, int] = {name: 0 for name in self.every}  # times each misbehaviour happened
        self._closed_connections: set[int] = set()

    def _due(self, name: str, count: int) -> bool:
        every = self.every[name]
        return bool(every) and count % every == 0

    async def answer(self, connection, number, text):
        if self._due("close_connection", connection) and connection not in self._closed_connections:
            self._closed_connections.add(connection)
            self.done["close_connection"] += 1
            return self.CLOSE
        for name in ("stall", "non_json", "missing_fields", "status_error", "wrong_echo"):
            if self._due(name, number):
                self.done[name] += 1
                if name == "stall":
                    return self.STALL
                if name == "non_json":
                    return "<html>502 Bad Gateway</html>"
                return json.dumps(self._garbage(name, text, number))
        return await super().answer(connection, number, text)

    @staticmethod
    def _garbage(name: str, text: str, number: int) -> dict:
        reply = peer_reply(text, number)
        if name == "missing_fields":
            del reply["compressed_size"], reply["method"]
        elif name == "status_error":
            # a lone surrogate (JSON may escape one) in the error text: it must still be recorded
            reply = {"status": "error", "error": "compressor exploded \ud800", "original_message": text}
        elif name == "wrong_echo":
            reply = peer_reply(text + " (someone else's message)", number)
        return reply


# Expected trace error_kind for each misbehaviour of GarbageServer and ChaosServer.
FAULT_KINDS = {
    "close_connection": "closed",
    "stall": "timeout",
    "non_json": "bad_reply",
    "missing_fields": "bad_reply",
    "status_error": "server_error",
    "wrong_echo": "mismatched_reply",
    "previous_reply": "mismatched_reply",
}


class LoggingGarbageServer(GarbageServer):
    """A GarbageServer that logs ``(text received, misbehaviour or "ok")`` per message."""

    def __init__(self, **schedule):
        super().__init__(**schedule)
        self.log: list[tuple[str, str]] = []

    async def answer(self, connection, number, text):
        before = dict(self.done)
        reply = await super().answer(connection, number, text)
        self.log.append((text, next((n for n in self.done if self.done[n] != before[n]), "ok")))
        return reply

    def expected_kinds(self) -> dict[str, int]:
        """The trace error kinds this server's misbehaviours must have produced."""
        kinds: dict[str, int] = {}
        for _, name in self.log:
            if name != "ok":
                kinds[FAULT_KINDS[name]] = kinds.get(FAULT_KINDS[name], 0) + 1
        return kinds


class ChaosServer(LoggingGarbageServer):
    """Mixes misbehaviours at random (seeded), one draw per message received.

    ``weights`` maps a misbehaviour (a ``FAULT_KINDS`` key) or ``"ok"`` to its weight.
    ``previous_reply`` answers with this connection's previous good reply (a reply for a
    different message, as from a server that fell out of step); with none yet, or when
    the previous message had the same text, it echoes a different message instead.
    ``done`` counts what was done, ``done["ok"]`` the good replies.
    """

    def __init__(self, seed: int, weights: dict[str, float]):
        super().__init__()
        unknown = set(weights) - set(FAULT_KINDS) - {"ok"}
        if unknown:
            raise ValueError(f"unknown misbehaviours {sorted(unknown)}")
        self.rng = random.Random(seed)
        self.names = list(weights)
        self.weights = [weights[n] for n in self.names]
        self.done = {name: 0 for name in [*FAULT_KINDS, "ok"]}
        self._previous: dict[int, tuple[str, str]] = {}  # connection -> (text, reply frame)

    async def answer(self, connection, number, text):
        name = self.rng.choices(self.names, self.weights)[0]
        self.done[name] += 1
        self.log.append((text, name))
        if name == "close_connection":
            return self.CLOSE
        if name == "stall":
            return self.STALL
        if name == "non_json":
            return "<html>502 Bad Gateway</html>"
        if name == "previous_reply":
            previous = self._previous.get(connection)
            if previous is not None and previous[0] != text:
                return previous[1]
            return json.dumps(self._garbage("wrong_echo", text, number))
        if name != "ok":
            return json.dumps(self._garbage(name, text, number))
        reply = json.dumps(peer_reply(text, number))
        self._previous[connection] = (text, reply)
        return reply


class ScriptedServer(BaseServer):
    """Answers from a fixed list of reply frames, cyclically (the Nth message gets
    ``frames[(N - 1) % len(frames)]``). A frame is bytes (sent as a binary frame), text
    (sent as is), or a dict sent as JSON in which the value ``ECHO`` is replaced by the
    message received. ``log`` keeps ``(text received, frame sent)`` for every message."""

    ECHO = "\x00<echo>\x00"

    def __init__(self, frames: list):
        super().__init__()
        if not frames:
            raise ValueError("ScriptedServer needs at least one frame")
        self.frames = list(frames)
        self.log: list[tuple[str, str | bytes]] = []

    async def answer(self, connection, number, text):
        frame = self.frames[(number - 1) % len(self.frames)]
        if isinstance(frame, dict):
            frame = json.dumps({k: (text if v == self.ECHO else v) for k, v in frame.items()})
        self.log.append((text, frame))
        return frame
