"""Reliability: a template file whose pattern makes AURA's regex backtrack (ten slots cut
by single spaces, slots repeated) must not stall a real server: the message that does
not match is answered at once, and ``/health`` keeps answering."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from aura_lab.servers.hosting import serve
from tests.support.processes import health

PATTERN = "{0} {1} {0} {1} {0} {1} {0} {1} {0} {1} end"
HOSTILE = " ".join(["ab"] * 40)[:119]  # 119 bytes; AURA's regex took 44 s on it, a server minutes
MATCHING = PATTERN.format("alpha-beta-gamma-delta", "epsilon-zeta-eta-theta")


@pytest.mark.timeout(120)
def test_a_backtracking_template_neither_stalls_the_server_nor_its_health(tmp_path):
    templates = tmp_path / "T.json"
    templates.write_text(json.dumps({"1000": PATTERN}), encoding="utf-8")
    with serve("aura", codec_options={"templates": str(templates)}, workdir=tmp_path / "scratch") as handle:

        async def exchange() -> list[tuple[dict, float]]:
            async with connect(handle.url, compression=None, ping_interval=None, open_timeout=10) as ws:
                replies = []
                for text in (HOSTILE, MATCHING):
                    started = time.monotonic()
                    await ws.send(text)
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    replies.append((reply, time.monotonic() - started))
                    started = time.monotonic()
                    await asyncio.to_thread(health, handle.url)
                    assert time.monotonic() - started < 5, "/health unanswered"
                return replies

        (hostile, hostile_s), (matching, _) = asyncio.run(exchange())
    assert hostile["status"] == "ok" and hostile["original_message"] == HOSTILE and hostile_s < 5
    # the matcher still finds what the template is for
    assert (matching["status"], matching["method"], matching.get("template_id")) == ("ok", "BINARY_SEMANTIC", 1000)
