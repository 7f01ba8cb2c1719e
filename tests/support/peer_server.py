"""A server that does exactly what the peer's server does (docs/protocol.md, "The peer's
server settings"): one ``ProductionHybridCompressor(enable_aura=True,
enable_audit_logging=False, min_compression_size=35)`` shared by every connection, every
message handed to it, and only the peer's reply fields. Written for the interop tests;
it runs in a scratch directory because the compressor writes state into the current one.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading

from websockets.asyncio.server import serve


def peer_reply(compressor, text: str, message_count: int) -> dict:
    """The peer's reply to one message, from its compressor's own answer."""
    try:
        data, method, metadata = compressor.compress(text)
    except Exception as exc:  # the peer answers an exception with an error reply
        return {"status": "error", "error": str(exc), "original_message": text}
    metadata = dict(metadata or {})
    original, compressed = len(text.encode("utf-8")), len(data)
    reply = {
        "status": "ok",
        "original_message": text,
        "original_size": original,
        "compressed_size": compressed,
        "compression_ratio": original / compressed if compressed else 1.0,
        "method": getattr(method, "name", str(method)).upper(),
        "message_count": message_count,
        "metadata": json.loads(json.dumps(metadata, default=str)),
    }
    if metadata.get("template_id") is not None:
        reply["template_id"] = metadata["template_id"]
    return reply


class PeerAuraServer:
    """``with PeerAuraServer() as server: server.url`` (a thread with its own loop)."""

    def __init__(self) -> None:
        self.url = ""
        self.messages = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._scratch = tempfile.TemporaryDirectory(prefix="aura-lab-peer-server-")

    async def _main(self) -> None:
        import aura_compression

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        old = os.getcwd()
        os.chdir(self._scratch.name)  # the compressor writes .aura_cache/ and friends here
        try:
            compressor = aura_compression.ProductionHybridCompressor(
                enable_aura=True, enable_audit_logging=False, min_compression_size=35
            )
        finally:
            os.chdir(old)
        selector = getattr(compressor, "_ml_selector", None)
        if selector is not None and hasattr(selector, "model_file"):  # saved at exit: keep it in scratch
            selector.model_file = os.path.join(self._scratch.name, "ml_model.json")

        async def handler(ws) -> None:
            async for text in ws:
                self.messages += 1
                await ws.send(json.dumps(peer_reply(compressor, text, self.messages)))

        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> PeerAuraServer:
        self._thread.start()
        assert self._ready.wait(60), "the peer-style server did not start"
        return self

    def __exit__(self, *exc) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._scratch.cleanup()
