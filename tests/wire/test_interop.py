"""Interop fidelity: the same messages sent to ``aura-lab serve --codec aura`` and to a
server that does exactly what the peer's does get identical compressed size, method,
ratio and template id, message by message: short and empty messages included."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from aura_lab.servers.hosting import serve
from aura_lab.traffic.generator import config_from_files, generate
from tests.support.peer_server import PeerAuraServer

SHORT = ["", "hi", "ok", "Thanks!", "I'm not sure", "x" * 34, "Could you say that again, please?"]
FIELDS = ("status", "original_size", "compressed_size", "method", "compression_ratio", "template_id")


async def exchange(url: str, texts: list[str]) -> list[dict]:
    async with connect(url, compression=None, max_size=None) as ws:
        replies = []
        for text in texts:
            await ws.send(text)
            replies.append(json.loads(await ws.recv()))
        return replies


def test_serve_aura_answers_as_the_peers_server_does(tmp_path):
    config = config_from_files(None, None, seed=11, corpus_weight=0.3, profile="peer")  # template traffic
    texts = SHORT + [m.text for m in generate(config, 150)] + SHORT
    with PeerAuraServer() as peer:
        theirs = asyncio.run(exchange(peer.url, texts))
    with serve("aura", workdir=tmp_path / "ours") as ours:
        mine = asyncio.run(exchange(ours.url, texts))
    assert len(mine) == len(theirs) == len(texts)
    for text, a, b in zip(texts, mine, theirs, strict=True):
        assert {k: a.get(k) for k in FIELDS} == {k: b.get(k) for k in FIELDS}, text
    short = [r for r in mine if r["original_size"] < 35]
    assert short and all(r["compressed_size"] == r["original_size"] + 1 for r in short)  # aura's 1-byte frame
    assert {"reason", "fast_path_used", "ratio", "ratio_actual", "method", "attempted_methods"} <= set(
        short[1]["metadata"]
    )
    assert any(r.get("template_id") is not None for r in mine)  # templates matched on both sides
