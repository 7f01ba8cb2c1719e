"""Reliability: nothing is lost in compression. Over 10,000 generated messages every
standard codec gives back exactly what it was given (per-connection state where the
codec has it); aura's losses are counted, in-process and through the real server,
and the two counts agree message for message."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from websockets.asyncio.client import connect

from aura_lab.codecs import get_codec
from aura_lab.servers.hosting import serve
from aura_lab.traffic.generator import config_from_files, generate

MESSAGES = 10_000
SERVER_SAMPLE = 500
MIN_COMPRESSION_SIZE = 35  # bytes: below it the server does not call the codec
STANDARD = {"deflate": {}, "deflate-stream": {}, "zstd-dict": {}, "brotli": {"quality": 5}, "identity": {}}


@pytest.fixture(scope="module")
def messages():
    generated = generate(config_from_files(None, None, seed=2024, profile="peer"), MESSAGES)
    assert len(generated) == MESSAGES
    return generated


def aura_losses(codec, texts: list[str]) -> list[int]:
    """Indexes of the messages aura does not give back (or cannot compress), checked as
    the server checks them: one message at a time, in order, skipping short ones."""
    lost = []
    for i, text in enumerate(texts):
        if len(text.encode("utf-8")) < MIN_COMPRESSION_SIZE:
            continue
        try:
            ok = codec.decompress(codec.compress(text).data) == text
        except Exception:  # aura raises on some inputs; the server reports those as failures too
            ok = False
        if not ok:
            lost.append(i)
    return lost


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(STANDARD))
def test_standard_codec_round_trips_every_message(messages, name):
    codec = get_codec(name, **STANDARD[name])
    states: dict[int, object] = {}  # one connection per user, messages in the user's order
    original = compressed = 0
    try:
        for message in messages:
            state = states.setdefault(message.user_id, codec.new_connection_state())
            data = codec.compress(message.text, state).data
            assert codec.decompress(data, state) == message.text, (name, message.user_id, message.turn)
            original += len(message.text.encode("utf-8"))
            compressed += len(data)
    finally:
        codec.close()
    assert len(states) > 100  # many connections, each with its own state
    if name != "identity":
        assert compressed < original
    else:
        assert compressed == original


async def _through_server(url: str, texts: list[str]) -> list[dict]:
    replies = []
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        for text in texts:
            await ws.send(text)
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    return replies


@pytest.mark.timeout(90)
def test_aura_losses_counted_in_process_and_through_the_server_agree(messages, tmp_path):
    texts = [m.text for m in messages]
    codec = get_codec("aura", workdir=str(tmp_path / "in-process"))
    try:
        lost_all = aura_losses(codec, texts)
    finally:
        codec.close()
    checked = sum(len(t.encode("utf-8")) >= MIN_COMPRESSION_SIZE for t in texts)
    # aura-compression 2.0.2 loses messages (docs/peer.md: every fallback-path message of 35
    # bytes or more); the count is reported, not hidden, and short ones are never lost
    assert 0 < len(lost_all) < checked
    print(
        f"\naura in-process: {len(lost_all)} of {checked} messages >= {MIN_COMPRESSION_SIZE} bytes "
        f"do not round-trip ({len(lost_all) / checked:.1%}); {MESSAGES - checked} shorter ones not sent to it"
    )

    sample = texts[:SERVER_SAMPLE]
    with serve("aura", workdir=tmp_path / "server") as handle:
        replies = asyncio.run(_through_server(handle.url, sample))
        with urllib.request.urlopen(f"http://127.0.0.1:{handle.port}/health", timeout=10) as response:
            health = json.loads(response.read())
    assert [r["original_message"] for r in replies] == sample
    server_lost = [i for i, r in enumerate(replies) if r.get("roundtrip_ok") is False]
    # A fresh in-process codec given the same messages in the same order, as the server's
    # fresh codec got them: aura's compressor may keep state between messages (its ML
    # method selector), so only the same sequence from the same start is a fair match.
    # (Measured on 2.0.2: a codec that first saw 5,000 other messages lost exactly the
    # same ones of this sample, so the losses follow the message, not the history.)
    fresh = get_codec("aura", workdir=str(tmp_path / "fresh"))
    try:
        lost_sample = aura_losses(fresh, sample)
    finally:
        fresh.close()
    assert server_lost == lost_sample
    assert health["roundtrip_failures"] == len(server_lost) > 0
    assert health["messages_served"] == SERVER_SAMPLE
    # and the first 500 of the 10,000 (same fresh start, same order) lost the same ones
    assert [i for i in lost_all if i < SERVER_SAMPLE] == lost_sample
