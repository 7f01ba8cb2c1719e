"""The embedded server: real servers on 127.0.0.1, a real websockets client, no mocks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aura_lab.codecs import Codec, CodecResult, get_codec
from aura_lab.errors import InputError
from aura_lab.servers.hosting import ServerHandle, serve, serve_many
from aura_lab.servers.server import start_server
from tests.codecs.test_codecs import (
    AURA_FALLBACK_MESSAGE,
    CONVERSATION,
    EDGE_MESSAGES,
    STANDARD,
    write_training,
)

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[1]
PEER_FIELDS = {
    "status",
    "original_message",
    "original_size",
    "compressed_size",
    "compression_ratio",
    "method",
    "message_count",
    "metadata",
}
LAB_FIELDS = {"codec", "roundtrip_ok", "compress_us", "decompress_us", "codec_size", "expanded"}
MESSAGES = CONVERSATION + EDGE_MESSAGES + [AURA_FALLBACK_MESSAGE]


async def _exchange(url: str, messages: list) -> list[dict]:
    """Send each message on one connection; ``(bytes, "text")`` sends raw bytes as text."""
    replies = []
    async with connect(url, max_size=None) as ws:
        for message in messages:
            if isinstance(message, tuple):
                await ws.send(message[0], text=True)
            else:
                await ws.send(message)
            replies.append(json.loads(await ws.recv()))
    return replies


def exchange(url, messages) -> list[dict]:
    return asyncio.run(_exchange(str(url), messages))


def http_get(handle: ServerHandle, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{handle.port}{path}", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        return json.loads(response.read())


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    return str(write_training(tmp_path_factory.mktemp("zstd") / "training.jsonl"))


@pytest.fixture(scope="module")
def servers(training, tmp_path_factory):
    """One in-process server per codec, shared by the tests of this module."""
    codecs = [*STANDARD, "aura"]
    with serve_many(
        codecs,
        in_process=True,
        workdir=tmp_path_factory.mktemp("scratch"),
        codec_options={"zstd-dict": {"training": training}},
    ) as handles:
        yield dict(zip(codecs, handles))


def check_ok_reply(reply: dict, message: str, codec: str) -> None:
    assert reply["status"] == "ok", reply
    assert set(reply) >= PEER_FIELDS | LAB_FIELDS
    size = len(message.encode("utf-8"))
    assert reply["original_message"] == message
    assert reply["original_size"] == size
    assert reply["codec"] == codec
    assert reply["method"] == reply["method"].upper()
    assert reply["compression_ratio"] == pytest.approx(size / reply["compressed_size"])
    assert isinstance(reply["metadata"], dict)
    if size < 35 and codec == "aura":  # aura's own framing, as the peer's server reports it
        assert reply["method"] == "UNCOMPRESSED" and reply["compressed_size"] == reply["codec_size"] == size + 1
    elif size < 35:
        assert reply["method"] == "UNCOMPRESSED" and reply["compressed_size"] == size
        assert reply["codec_size"] is None and reply["compression_ratio"] == 1.0
    elif reply["expanded"]:
        assert reply["codec_size"] > size  # the expansion stays visible
    if "template_id" in reply:
        assert reply["template_id"] is not None


@pytest.mark.parametrize("codec", STANDARD)
def test_standard_codecs_reply_with_every_field_and_never_lose_a_message(servers, codec):
    replies = exchange(servers[codec], MESSAGES)
    for message, reply in zip(MESSAGES, replies):
        check_ok_reply(reply, message, codec)
        assert reply["roundtrip_ok"] is True and "error" not in reply
        if reply["expanded"] and codec != "deflate-stream":  # the raw text goes on the wire instead
            assert reply["method"] == "UNCOMPRESSED"
            assert reply["compressed_size"] == reply["original_size"]
        elif reply["codec_size"] is not None:  # deflate-stream: its output even when it grew (history)
            assert reply["compressed_size"] == reply["codec_size"]
    counts = [r["message_count"] for r in replies]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    big = replies[MESSAGES.index(EDGE_MESSAGES[-1])]
    if codec != "identity":
        assert big["compression_ratio"] > 5


def test_aura_round_trip_failures_are_reported_not_hidden(servers):
    replies = exchange(servers["aura"], MESSAGES)
    big = replies[MESSAGES.index(EDGE_MESSAGES[-1])]
    # aura-compression 2.0.2 cannot compress a message above 65535 bytes (a 16-bit
    # length field): compress raises, and the reply says so.
    assert big["status"] == "error" and big["error"].startswith("compress failed")
    assert big["roundtrip_ok"] is False
    for message, reply in zip(MESSAGES, replies):
        if reply is big:
            continue
        check_ok_reply(reply, message, "aura")
        # aura's own output is what goes on the wire, even when it grew
        if reply["codec_size"] is not None:
            assert reply["compressed_size"] == reply["codec_size"]
    failures = [r for r in replies if not r["roundtrip_ok"]]
    assert failures, "aura-compression 2.0.2 is expected to lose fallback-path messages"
    fallback = replies[MESSAGES.index(AURA_FALLBACK_MESSAGE)]
    assert fallback["roundtrip_ok"] is False and fallback["status"] == "ok"
    assert fallback["method"] == "UNCOMPRESSED" and fallback["expanded"] is True
    assert fallback["compressed_size"] == fallback["original_size"] + 13
    assert fallback["error"]
    assert fallback["metadata"]["fallback_reason"] == "expansion_detected"
    assert http_get(servers["aura"], "/health")["roundtrip_failures"] >= len(failures)


class CorruptOnce(Codec):
    """A real deflate codec whose first decompress flips a byte of the text."""

    name = "corrupt-deflate"
    method = "DEFLATE"

    def __init__(self):
        self.inner = get_codec("deflate")
        self.corrupted = False

    def compress(self, text, state=None) -> CodecResult:
        return self.inner.compress(text, state)

    def decompress(self, data, state=None) -> str:
        text = self.inner.decompress(data, state)
        if not self.corrupted:
            self.corrupted = True
            raw = bytearray(text.encode())
            raw[40] ^= 0x01
            return raw.decode()
        return text


class FailingCompress(Codec):
    name = "failing"

    def compress(self, text, state=None):
        if "boom" in text:
            raise RuntimeError("codec exploded")
        return CodecResult(text.encode(), "UNCOMPRESSED")

    def decompress(self, data, state=None):
        return data.decode()


def test_a_corrupting_codec_is_caught_and_the_next_message_served():
    with serve(CorruptOnce(), in_process=True) as handle:
        first, second = exchange(handle, CONVERSATION[1:3])
    assert first["status"] == "ok" and first["roundtrip_ok"] is False
    assert "roundtrip mismatch" in first["error"] and "differ at byte 40" in first["error"]
    check_ok_reply(second, CONVERSATION[2], "corrupt-deflate")
    assert second["roundtrip_ok"] is True and "error" not in second


def test_a_codec_that_raises_gets_an_error_reply_and_the_server_keeps_serving():
    boom = "this message will make the codec go boom, as planned"
    with serve(FailingCompress(), in_process=True) as handle:
        failed, fine = exchange(handle, [boom, CONVERSATION[1]])
    assert failed["status"] == "error" and failed["roundtrip_ok"] is False
    assert "codec exploded" in failed["error"] and failed["original_message"] == boom
    assert fine["status"] == "ok" and fine["roundtrip_ok"] is True


def test_deflate_stream_beats_deflate_over_one_connection(servers):
    assert len(CONVERSATION) >= 20

    def overall(codec):
        replies = exchange(servers[codec], CONVERSATION)
        return sum(r["original_size"] for r in replies) / sum(r["compressed_size"] for r in replies)

    assert overall("deflate-stream") > overall("deflate") * 1.1


def test_bad_frames_get_error_replies_and_the_connection_keeps_working():
    """Binary, invalid UTF-8 and oversize frames get an error reply; an empty text frame is
    a message like any other (the peer's server answers it ok/UNCOMPRESSED)."""
    good = CONVERSATION[1]
    too_big = "y" * 1001
    with serve("deflate", in_process=True, max_size=1000) as handle:
        replies = exchange(
            handle,
            [
                b"\x01\x02binary",
                good,
                (b"caf\xc3 broken \xff utf-8", "text"),
                good,
                "",
                good,
                too_big,
                good,
            ],
        )
    for reply in replies[1::2]:
        check_ok_reply(reply, good, "deflate")
    binary, invalid, empty, oversize = replies[0::2]
    assert all(r["status"] == "error" for r in (binary, invalid, oversize))
    assert "binary frame" in binary["error"]
    assert "invalid UTF-8" in invalid["error"] and "at byte 3" in invalid["error"]
    assert (empty["status"], empty["method"], empty["original_message"]) == ("ok", "UNCOMPRESSED", "")
    assert (empty["original_size"], empty["compressed_size"], empty["compression_ratio"]) == (0, 0, 1.0)
    assert "too large" in oversize["error"] and oversize["original_size"] == 1001
    assert "original_message" not in oversize


def test_beyond_the_transport_limit_websockets_closes_with_1009():
    """Documented limit: above 2 * max_size + 64 KiB websockets itself closes (1009)."""

    async def send_huge(url):
        async with connect(url) as ws:
            await ws.send("z" * (2 * 1000 + 64 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code

    with serve("identity", in_process=True, max_size=1000) as handle:
        assert asyncio.run(send_huge(handle.url)) == 1009
        assert exchange(handle, [CONVERSATION[1]])[0]["status"] == "ok"  # server still fine


def test_health_and_templates_answer_over_http(servers, training):
    health = http_get(servers["zstd-dict"], "/health")
    assert health["codec"] == "zstd-dict" and health["codec_package"] == "zstandard"
    assert health["codec_package_version"] and health["aura_lab_version"]
    assert {"messages_served", "roundtrip_failures", "uptime_s", "min_compression_size"} <= set(health)
    assert health["min_compression_size"] == 35
    assert health["codec_info"]["dict_size_bytes"] > 0
    assert len(health["codec_info"]["training_sha256"]) == 64
    aura_templates = http_get(servers["aura"], "/templates")
    assert aura_templates and {"id", "pattern", "slots"} <= set(aura_templates[0])
    assert http_get(servers["deflate"], "/templates") == []
    with pytest.raises(urllib.error.HTTPError) as err:
        http_get(servers["deflate"], "/nowhere")
    assert err.value.code == 404


def test_aura_leaves_no_files_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repo_before = sorted(p.name for p in REPO.iterdir())
    for in_process in (True, False):
        with serve("aura", in_process=in_process) as handle:
            replies = exchange(handle, [AURA_FALLBACK_MESSAGE, CONVERSATION[1]])
            assert [r["status"] for r in replies] == ["ok", "ok"]
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.name for p in REPO.iterdir()) == repo_before
    assert not (REPO / ".aura_cache").exists() and not (REPO / "ml_model.json").exists()


def server_children() -> list[int]:
    """Child server processes of this test process still alive (or unreaped)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status, cmdline = (proc / "status").read_text(), (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"PPid:\t{os.getpid()}\n" in status and b"aura_lab.servers.child" in cmdline:
            found.append(int(proc.name))
    return found


def test_child_process_server_starts_serves_and_leaves_no_orphan(training):
    with serve("zstd-dict", codec_options={"training": training}) as handle:
        assert str(handle) == handle.url == f"ws://127.0.0.1:{handle.port}"
        assert handle.pid and handle.pid != os.getpid()
        reply = exchange(handle, [CONVERSATION[3]])[0]
        assert reply["status"] == "ok" and reply["roundtrip_ok"] is True
        pid = handle.pid
    assert not Path(f"/proc/{pid}").exists()
    assert server_children() == []


def test_child_process_start_failure_carries_the_childs_error(tmp_path):
    with pytest.raises(InputError, match=r"missing\.jsonl"):
        with serve("zstd-dict", codec_options={"training": str(tmp_path / "missing.jsonl")}):
            pass
    assert server_children() == []


def test_start_server_on_the_callers_loop():
    async def main():
        running = await start_server("brotli", port=0)
        try:
            return await _exchange(running.url, [CONVERSATION[5]])
        finally:
            await running.close()

    reply = asyncio.run(main())[0]
    assert reply["method"] == "BROTLI" and reply["roundtrip_ok"] is True


def _free_consecutive_ports(count: int) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    pytest.skip("no consecutive free ports")


def test_cli_serve_replicas_answer_and_sigint_stops_cleanly():
    port = _free_consecutive_ports(2)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aura_lab",
            "serve",
            "--codec",
            "deflate-stream",
            "--port",
            str(port),
            "--replicas",
            "2",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        urls = [re.search(r"ws://\S+", line).group(0) for line in lines]
        pids = [int(re.search(r"pid=(\d+)", line).group(1)) for line in lines]
        assert urls == [f"ws://127.0.0.1:{port}", f"ws://127.0.0.1:{port + 1}"]
        assert all("codec=deflate-stream" in line for line in lines)
        for url in urls:
            assert exchange(url, [CONVERSATION[1]])[0]["roundtrip_ok"] is True
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out
    time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_child_that_dies_before_reporting_gives_a_start_error_with_its_words(tmp_path):
    """A child that cannot even make its working directory exits at once: the error
    says so and carries the child's last words, and nothing is left running."""
    from aura_lab.servers.hosting import ServerStartError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ServerStartError, match=r"exited with code 1.*(NotADirectoryError|FileExistsError)"):
        with serve("identity", workdir=str(blocker / "sub")):
            pass
    assert server_children() == []
