"""The client's own round-trip check (``--verify``): a real child process with a real
codec, answers in order, per-user connection state, and a dead checker leaves messages
unchecked instead of hanging the run."""

from __future__ import annotations

import asyncio

import pytest

from aura_lab.codecs import get_codec
from aura_lab.errors import InputError
from aura_lab.load.verify import Verifier
from aura_lab.paths import scratch_cwd
from aura_lab.wire.protocol import ServerStats, compress_reply

pytestmark = pytest.mark.timeout(120)

TEXTS = [
    "Sure, here's a quick summary of what we discussed so far.",
    "Thanks! That fixed it.",
    "Can you explain why the build fails on Windows but not on Linux?",
    "I think the issue is the path separator in the config loader.",
    "Here is an example: use pathlib.Path instead of string concatenation.",
    "ok",
]


def server_verdicts(codec_name: str) -> list[bool]:
    """What the embedded server would say of each text, on one connection."""
    with scratch_cwd():
        codec = get_codec(codec_name)
        state, stats = codec.new_connection_state(), ServerStats()
        try:
            return [compress_reply(t, codec, state, stats, 35)["roundtrip_ok"] for t in TEXTS]
        finally:
            codec.close()


@pytest.mark.parametrize("codec", ["aura", "deflate-stream"])
def test_the_client_says_what_the_server_would(codec):
    async def check_all():
        verifier = await Verifier(codec, 35).start()
        try:
            # asked all at once, answered in order, one user's state carried along
            return await asyncio.gather(*(verifier.check(7, t) for t in TEXTS))
        finally:
            await verifier.close()

    assert asyncio.run(check_all()) == server_verdicts(codec)


def test_a_dead_checker_leaves_messages_unchecked():
    async def scenario():
        verifier = await Verifier("deflate", 35).start()
        assert await verifier.check(1, TEXTS[0]) is True
        verifier._process.kill()
        await verifier._process.wait()
        got = await asyncio.wait_for(verifier.check(1, TEXTS[2]), 10)
        await verifier.close()
        return got, verifier.failure

    got, failure = asyncio.run(scenario())
    assert got is None and failure


def test_an_unknown_codec_is_refused_before_anything_starts():
    with pytest.raises(InputError, match="unknown codec 'nope'"):
        Verifier("nope", 35, where="--verify")
