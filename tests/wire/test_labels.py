"""Codec labels of servers aura-lab did not start: from ``GET /health``, else from what
AURA's compressor shows in its replies, else nothing."""

from __future__ import annotations

import aura_lab
from aura_lab.analysis.comparison import compare
from aura_lab.wire.labels import AURA, from_health, from_methods, from_reply
from tests.support.peer_server import PeerAuraServer
from tests.support.servers import PeerServer

SHORT_AURA = {"method": "UNCOMPRESSED", "metadata": {"attempted_methods": ["uncompressed"]}}
LONG_AURA = {"method": "UNCOMPRESSED", "metadata": {"attempted_methods": ["uncompressed", "binary_semantic", "brio"]}}


def test_health_says_the_codec():
    assert from_health({"codec": "zstd-dict"}).codec == "zstd-dict"
    assert from_health({"codec": ""}) is None and from_health(None) is None and from_health([1]) is None


def test_replies_show_aura():
    assert from_reply(LONG_AURA).codec == AURA and "attempted_methods" in from_reply(LONG_AURA).how
    assert from_reply({"method": "BINARY_SEMANTIC"}).codec == AURA
    # what any codec could say is no sign: a short message's ["uncompressed"], another codec's names
    assert from_reply(SHORT_AURA) is None
    assert from_reply({"method": "DEFLATE", "metadata": {"attempted_methods": ["deflate", "brio"]}}) is None
    assert from_reply({"metadata": {"attempted_methods": "brio"}}) is None and from_reply("x") is None
    assert from_methods(["UNCOMPRESSED", "auralite"]).codec == AURA
    assert from_methods(["UNCOMPRESSED", None, 3]) is None


RUN = dict(users=3, turns=(4, 6), think_time="0", quiet=True, seed=5)


def test_the_peers_server_is_labelled_aura_by_its_replies(tmp_path):
    """The peer's server has no /health: its replies say it runs AURA's compressor, so
    the run is labelled "aura" (and says how), and compares with an aura run as it is.
    No message is sent beyond the run's own."""
    with PeerAuraServer() as server:
        run = aura_lab.run(**RUN, urls=(server.url,), trace_dir=str(tmp_path), run_id="peer")
        sent = server.messages
    assert sent == run.manifest.planned_messages == len(run.traces)
    (info,) = run.manifest.servers
    assert (info.codec, info.recorded_as) == ("aura", "external")
    assert "attempted_methods" in info.label_from  # how it was learnt, in the manifest
    assert any("read as 'aura'" in note for note in run.manifest.notes)
    assert set(run.traces["codec"].astype(str)) == {"aura"}
    assert set(aura_lab.load_run(run.path).traces["codec"].astype(str)) == {"aura"}  # read back the same
    assert list(run.summary["codecs"]) == ["aura"]
    ours = aura_lab.run(**RUN, codecs="aura", trace_dir=str(tmp_path), run_id="ours")
    comparison = compare(ours, aura_lab.load_run(run.path), n_boot=100)
    assert set(comparison.table["codec"]) == {"aura"} and comparison.table["paired"].all()


def test_a_server_that_says_nothing_stays_external(tmp_path):
    with PeerServer() as server:
        run = aura_lab.run(**RUN, urls=(server.url,), trace_dir=str(tmp_path), run_id="plain")
    (info,) = run.manifest.servers
    assert (info.codec, info.recorded_as) == ("external", None)
    assert "nothing said which codec" in info.label_from


def test_an_aura_lab_server_is_labelled_by_its_health(tmp_path):
    with aura_lab.serve("deflate", workdir=tmp_path / "srv") as server:
        run = aura_lab.run(**RUN, urls=(server.url,), trace_dir=str(tmp_path), run_id="served")
    (info,) = run.manifest.servers
    assert (info.codec, info.recorded_as) == ("deflate", None) and "GET /health" in info.label_from
