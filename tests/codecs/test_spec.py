"""Codec specs (``NAME:key=value,...``), the new baselines, and codecs of the user's own:
a plug-in class in a module, and one registered as an ``aura_lab.codecs`` entry point,
used offline (in-process) and online (a child server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from aura_lab.codecs import codec_names, get_codec, parse_codec
from aura_lab.config import split_specs
from aura_lab.errors import InputError
from aura_lab.servers.hosting import serve
from aura_lab.wire.protocol import ServerStats, answer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEXTS = [
    "Hello! How can I help you today with your Python question?",
    "Sure, here is how you reverse a list in Python: use reversed() or slicing with [::-1].",
    "Sure, here is how you sort a list in Python: use sorted() or the list's own sort() method.",
]


def round_trip(spec: str) -> list[int]:
    codec = get_codec(spec)
    state = codec.new_connection_state()
    sizes = []
    for text in TEXTS:
        result = codec.compress(text, state)
        assert codec.decompress(result.data, state) == text
        sizes.append(len(result.data))
    codec.close()
    return sizes


@pytest.mark.parametrize("spec, settings", [
    ("deflate-stream:window_bits=12,mem_level=5,level=6", {"window_bits": 12, "mem_level": 5, "level": 6}),
    ("zstd-dict:level=3,dict_size=16384", {"level": 3, "dict_size_requested": 16384}),
    ("brotli:quality=5", {"quality": 5}),
    ("zstd-stream", {"dict_size_bytes": 0}),
    ("zstd-stream:dict_size=16384,level=5", {"level": 5}),
    ("deflate-dict:dict_size=8192", {"dict_size_bytes": 8192}),
    ("deflate:level=1", {"level": 1, "window_bits": 15}),
])  # fmt: skip
def test_options_in_the_name_are_applied_and_round_trip(spec, settings):
    round_trip(spec)
    info = get_codec(spec).info()
    assert {key: info.get(key) for key in settings} == settings


def test_context_and_dictionaries_pay_on_repeated_phrasing():
    alone = sum(round_trip("deflate"))
    assert sum(round_trip("deflate-stream")) < alone  # later messages refer back
    assert sum(round_trip("deflate-dict")) < alone  # the preset knows chat phrasing
    assert sum(round_trip("zstd-stream:dict_size=16384")) < sum(round_trip("zstd-stream"))


@pytest.mark.parametrize("spec, words", [
    ("nope", "unknown codec 'nope'"),
    ("deflate:foo=1", "has no option 'foo' (its options: level, window_bits, mem_level)"),
    ("deflate:level=x", "option 'level' must be int, got 'x'"),
    ("deflate:level", "expected key=value"),
    ("deflate:level=1,level=2", "sets 'level' twice"),
    ("brotli:quality=12", "quality must be 0..11"),
    ("deflate-stream:window_bits=20", "window_bits must be 9..15"),
    ("no_such_module_here:Codec", "no module named 'no_such_module_here'"),
    ("json:JSONDecoder", "not a class with compress(text) -> bytes"),
])  # fmt: skip
def test_bad_specs_are_clear_errors(spec, words):
    with pytest.raises(InputError) as err:
        parse_codec(spec).build()
    assert words in str(err.value) and spec in str(err.value)


def test_a_list_of_specs_splits_at_codecs_not_at_options():
    assert split_specs("aura,deflate-stream:window_bits=12,level=6,zstd-dict") == (
        "aura", "deflate-stream:window_bits=12,level=6", "zstd-dict")  # fmt: skip


def test_the_new_baselines_are_registered():
    assert {"zstd-stream", "deflate-dict"} <= set(codec_names())


def test_a_plugin_class_works_offline(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    codec = get_codec("lzma_codec:LzmaCodec:preset=9")
    assert codec.name == "lzma_codec:LzmaCodec" and codec.method == "LZMA" and codec.info() == {"preset": 9}
    reply = answer(TEXTS[1].encode(), True, codec, codec.new_connection_state(), ServerStats(),
                   min_compression_size=35, max_size=1 << 20)  # fmt: skip
    assert reply["status"] == "ok" and reply["roundtrip_ok"] is True and reply["method"] in ("LZMA", "UNCOMPRESSED")
    with pytest.raises(InputError, match=r"preset must be 0\.\.9"):
        get_codec("lzma_codec:LzmaCodec:preset=12")


async def _exchange(url: str) -> list[dict]:
    async with connect(url, compression=None) as ws:
        replies = []
        for text in TEXTS:
            await ws.send(text)
            replies.append(json.loads(await ws.recv()))
        return replies


def test_a_plugin_class_is_served_online_in_a_child_process(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the child imports what this process imports
    with serve("lzma_codec:LzmaCodec:preset=1") as server:
        assert server.pid is not None
        replies = asyncio.run(_exchange(server.url))
    assert [r["status"] for r in replies] == ["ok"] * 3
    assert all(r["codec"] == "lzma_codec:LzmaCodec" and r["roundtrip_ok"] for r in replies)


def test_a_codec_registered_as_an_entry_point(tmp_path, monkeypatch):
    module = tmp_path / "stateful_upper.py"
    module.write_text(
        "class Echo:\n"
        "    '''Per-connection state: counts messages (the richer hook).'''\n"
        "    def new_connection_state(self):\n        return {'n': 0}\n"
        "    def compress(self, text, state):\n        state['n'] += 1\n        return text.encode()\n"
        "    def decompress(self, data, state):\n        return data.decode()\n"
    )  # fmt: skip
    dist = tmp_path / "stateful_upper-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: stateful-upper\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[aura_lab.codecs]\necho = stateful_upper:Echo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    codec = get_codec("echo")
    state = codec.new_connection_state()
    assert codec.decompress(codec.compress("hi there", state).data, state) == "hi there" and state == {"n": 1}
    assert codec.name == "echo" and codec.method == "ECHO"  # named after the entry point and the class
