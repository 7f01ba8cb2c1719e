"""``--verify CODEC``: the client checks each primary message for loss itself, when the
server does not report round trips (the peer's own server does not).

Each message is compressed and decompressed with ``CODEC`` exactly as the embedded
server would (``wire.protocol.compress_reply``: the same ``min_compression_size`` rule,
the same comparison), with a fresh connection state per user (one per direction when
the codec keeps them so, as its server would). The record then says
``roundtrip_by: "client"``.

The check runs in a child process (``python -m aura_lab.load.verify``), spoken to
with one JSON line per message over its stdin and stdout: it costs a few tenths of a
millisecond of CPU per message for aura, which on the event loop would delay the other
users' replies and so inflate their latency. One child answers in the order it was
asked, so a codec with per-connection state (``deflate-stream``) sees each user's
messages in order. A child process (not ``multiprocessing``) works from any script,
notebook or Dask worker. The codec is built in a scratch directory of the child
(aura-compression writes its state into the current directory).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import tempfile

from ..codecs import parse_codec
from ..codecs.base import CLIENT_TO_SERVER, ConnectionStates
from ..errors import InputError
from ..paths import scratch_cwd
from ..wire.protocol import ServerStats, compress_reply

START_TIMEOUT_S = 120.0  # importing aura-compression and building it, on a busy machine
_LINE_LIMIT = 64 << 20  # bytes: a reply line is short, but the limit also bounds a bad child


class Checker:
    """The codec and the users' connection states (in the child)."""

    def __init__(self, spec: str, min_compression_size: int):
        self.workdir = tempfile.TemporaryDirectory(prefix=f"aura-lab-verify-{os.getpid()}-")
        with scratch_cwd(self.workdir.name):
            parsed = parse_codec(spec)
            self.codec = parsed.build(**parsed.defaults(min_compression_size=min_compression_size,
                                                        workdir=self.workdir.name))  # fmt: skip
        self.min_compression_size = min_compression_size
        self.stats = ServerStats()
        self.states: dict[int, ConnectionStates] = {}

    def check(self, user_id: int, text: str, direction: str = CLIENT_TO_SERVER) -> bool:
        if user_id not in self.states:
            self.states[user_id] = ConnectionStates(self.codec)
        state = self.states[user_id](direction)
        reply = compress_reply(text, self.codec, state, self.stats, self.min_compression_size)
        return reply.get("roundtrip_ok") is True

    def forget(self, user_id: int) -> None:
        self.states.pop(user_id, None)

    def close(self) -> None:
        try:
            self.codec.close()
        finally:
            self.workdir.cleanup()


def main() -> None:
    """The child: ``argv = [codec, min_compression_size]``; then one request a line,
    ``{"check": [user, text]}`` (answered ``true``/``false``) or ``{"forget": user}``."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the answer channel
    try:
        checker = Checker(sys.argv[1], int(sys.argv[2]))
    except Exception as exc:
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            if "forget" in request:
                checker.forget(int(request["forget"]))
                continue
            user_id, text, direction = request["check"]
            out.write(("true" if checker.check(int(user_id), text, direction) else "false") + "\n")
            out.flush()
    finally:
        checker.close()


class Verifier:
    """Checks messages with ``spec`` (``CODEC[:options]``) in a child process; start it
    with ``await start()``. ``await check(user, text)`` gives True (lossless), False
    (lossy), or None when the child failed (the message stays unchecked; ``failure``
    says why)."""

    def __init__(self, spec: str, min_compression_size: int, where: str = "verify"):
        try:
            self.codec = parse_codec(spec).text
        except InputError as exc:
            raise InputError(exc.message, where=where, fix=exc.fix) from None
        self.spec = spec
        self.where = where
        self.min_compression_size = min_compression_size
        self.failure: str | None = None
        self.mode = "child process"
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._reader: asyncio.Task | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()

    async def start(self) -> Verifier:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            self.codec,
            str(self.min_compression_size),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
            limit=_LINE_LIMIT,
        )
        assert self._process.stdout is not None
        try:
            first = await asyncio.wait_for(self._process.stdout.readline(), START_TIMEOUT_S)
            hello = json.loads(first) if first else {"error": f"the checker exited: {self._last_words()}"}
        except (TimeoutError, ValueError) as exc:
            hello = {"error": f"no answer from the checker: {type(exc).__name__}"}
        if "ready" not in hello:
            await self.close()
            raise InputError(
                f"cannot build codec {self.codec!r} to check messages: {hello.get('error')}", where=self.where
            )
        self._reader = asyncio.ensure_future(self._read())
        return self

    def _last_words(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return " / ".join(lines[-3:]) or "no message"

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        try:
            while True:
                line = await self._process.stdout.readline()
                if not line:
                    break
                if self._waiting:
                    future = self._waiting.popleft()
                    if not future.done():
                        future.set_result(line.strip() == b"true")
        finally:
            if self._waiting and self.failure is None:
                self.failure = f"the checker stopped: {self._last_words()}"
            while self._waiting:
                future = self._waiting.popleft()
                if not future.done():
                    future.set_result(None)

    def _send(self, request: dict) -> bool:
        process = self._process
        if process is not None and process.returncode is not None and self.failure is None:
            self.failure = f"the checker exited with code {process.returncode}: {self._last_words()}"
        if process is None or process.stdin is None or process.returncode is not None or self.failure:
            return False
        try:
            process.stdin.write((json.dumps(request) + "\n").encode("utf-8", "surrogatepass"))
        except (ConnectionError, RuntimeError) as exc:
            self.failure = self.failure or f"{type(exc).__name__}: {exc}"
            return False
        return True

    async def check(self, user_id: int, text: str, direction: str = CLIENT_TO_SERVER) -> bool | None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)  # before the write: answers come back in this order
        if not self._send({"check": [user_id, text, direction]}):
            self._waiting.remove(future)
            return None
        process = self._process
        if process is not None and process.stdin is not None:
            try:
                await process.stdin.drain()  # a slow checker slows the asking, not memory
            except ConnectionError:
                pass  # the reader sees the child gone and answers None
        return await asyncio.shield(future)  # a cancelled wait must not shift the queue

    def forget(self, user_id: int) -> None:
        """Drop a user's connection state (after its last message: checks asked before
        this still see it)."""
        self._send({"forget": user_id})

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None and not process.stdin.is_closing():
                process.stdin.close()  # the child closes its codec and exits
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._stderr.close()


if __name__ == "__main__":  # pragma: no cover - the child, run by Verifier.start
    main()
