"""The lab's ``deflate-stream`` against the real thing: the ``websockets`` library's own
permessage-deflate (RFC 7692), client and server, on a loopback socket. A relay between
them reads every frame's payload length off the socket in both directions; the lab's
sizes (the server's reply function with a connection's contexts, and a whole run through
embedded servers) must equal them byte for byte: one context per direction, each with
its own window."""

from __future__ import annotations

import asyncio
import json
import struct

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

import aura_lab
from aura_lab.codecs import get_codec
from aura_lab.codecs.base import ConnectionStates
from aura_lab.wire.frames import direction_of
from aura_lab.wire.protocol import ServerStats, compress_reply
from tests.support.logs import make_conversations, write_sharegpt

TEXT_OPCODE = 0x1


class FrameRelay:
    """A TCP relay on 127.0.0.1 that notes the payload length of every text frame that
    crosses it, per direction (after the HTTP handshake)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.sizes: dict[str, list[int]] = {"client-to-server": [], "server-to-client": []}

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(
            self._pipe(client_reader, server_writer, "client-to-server"),
            self._pipe(server_reader, client_writer, "server-to-client"),
        )

    async def _pipe(self, reader, writer, direction: str) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")  # the handshake, passed on as it is
            writer.write(head)
            while True:
                first = await reader.readexactly(2)
                length, masked = first[1] & 0x7F, first[1] & 0x80
                rest = b""
                if length == 126:
                    rest = await reader.readexactly(2)
                    length = struct.unpack("!H", rest)[0]
                elif length == 127:
                    rest = await reader.readexactly(8)
                    length = struct.unpack("!Q", rest)[0]
                body = await reader.readexactly((4 if masked else 0) + length)
                if first[0] & 0x0F == TEXT_OPCODE:
                    assert first[0] & 0x40, "a text frame without RSV1: not compressed"
                    self.sizes[direction].append(length)
                writer.write(first + rest + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def through_websockets(conversation: list[dict], client_bits: int, server_bits: int) -> dict[str, list[int]]:
    """Play a conversation over websockets with permessage-deflate: the client sends the
    human's messages, the server the assistant's replies, in order."""

    async def handler(connection) -> None:
        for message in conversation:
            if message["role"] == "assistant":
                await connection.send(message["text"])
            else:
                assert await connection.recv() == message["text"]

    extension = dict(client_max_window_bits=client_bits, server_max_window_bits=server_bits)
    async with serve(
        handler, "127.0.0.1", 0, compression=None, extensions=[ServerPerMessageDeflateFactory(**extension)]
    ) as server:
        relay = FrameRelay(server.sockets[0].getsockname()[1])
        port = await relay.start()
        async with connect(
            f"ws://127.0.0.1:{port}", compression=None, extensions=[ClientPerMessageDeflateFactory(**extension)]
        ) as client:
            for message in conversation:
                if message["role"] == "assistant":
                    assert await client.recv() == message["text"]
                else:
                    await client.send(message["text"])
        relay.server.close()
    return relay.sizes


def lab_sizes(conversation: list[dict], spec: str) -> dict[str, list[int]]:
    """The sizes the lab's server reports for the conversation on one connection."""
    codec = get_codec(spec)
    states, stats = ConnectionStates(codec), ServerStats()
    sizes: dict[str, list[int]] = {"client-to-server": [], "server-to-client": []}
    for message in conversation:
        direction = direction_of(message["role"])
        reply = compress_reply(message["text"], codec, states(direction), stats, min_compression_size=0)
        assert reply["roundtrip_ok"] is True
        sizes[direction].append(reply["compressed_size"])
    return sizes


CONVERSATIONS = [c for c in make_conversations(12, seed=5) if len(c) >= 4][:4]


@pytest.mark.parametrize(("client_bits", "server_bits"), [(15, 15), (11, 13)])
def test_deflate_stream_sizes_are_the_frame_payloads_of_real_permessage_deflate(client_bits, server_bits):
    spec = f"deflate-stream:client_max_window_bits={client_bits},server_max_window_bits={server_bits}"
    for conversation in CONVERSATIONS:
        on_the_socket = asyncio.run(through_websockets(conversation, client_bits, server_bits))
        assert on_the_socket == lab_sizes(conversation, spec)


def test_a_shared_context_is_not_what_the_socket_carries():
    """One context for both directions compresses replies against the questions: smaller
    than anything a WebSocket sends, which is why it is no longer the default."""
    conversation = max(CONVERSATIONS, key=len)
    on_the_socket = asyncio.run(through_websockets(conversation, 15, 15))
    shared = lab_sizes(conversation, "deflate-stream:context=shared")
    assert shared != on_the_socket
    assert sum(map(sum, shared.values())) < sum(map(sum, on_the_socket.values()))


def test_a_run_through_embedded_servers_gives_the_socket_sizes(tmp_path):
    """The whole path: ``run --replay`` against an embedded deflate-stream server, one
    connection per direction per user (``DirectedLink``); every record's compressed size
    equals the frame websockets' permessage-deflate puts on the socket."""
    logs = write_sharegpt(tmp_path / "chats.json", CONVERSATIONS, oddities=False)
    run = aura_lab.run(
        replay=str(logs),
        codecs="deflate-stream",
        min_compression_size=0,
        think_time="0",
        quiet=True,
        progress=False,
        trace_dir=str(tmp_path / "traces"),
    )
    traces = run.traces.sort_values(["user_id", "turn"])
    for user, conversation in enumerate(CONVERSATIONS):
        on_the_socket = asyncio.run(through_websockets(conversation, 15, 15))
        rows = traces[traces["user_id"] == traces["user_id"].unique()[user]]
        recorded: dict[str, list[int]] = {"client-to-server": [], "server-to-client": []}
        for role, size in zip(rows["role"], rows["compressed_size"]):
            recorded[direction_of(role)].append(int(size))
        assert recorded == on_the_socket, json.dumps([user, recorded, on_the_socket])
