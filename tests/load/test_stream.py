"""Streamed replies through real servers: frames of a few tokens, records with reply id
and frame index, per-reply figures; per-frame compression expands without context and
gains with it."""

from __future__ import annotations

import itertools
import json

import pytest

import aura_lab
from aura_lab.analysis import metrics
from aura_lab.config import CHARS_PER_TOKEN
from aura_lab.traffic.framing import Framing

pytestmark = pytest.mark.timeout(180)


def streamed_run(folder, envelope: str):
    """The default profile, replies streamed in frames of 4 tokens, through child-process
    servers; every frame goes through the codec (no size threshold)."""
    return aura_lab.run(
        users=6,
        think_time="0",
        codecs="deflate-stream,deflate",
        framing="stream",
        chunk_tokens=4,
        envelope=envelope,
        min_compression_size=0,
        quiet=True,
        seed=3,
        trace_dir=str(folder),
        run_id=f"stream-{envelope}",
    )


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """Frames in a JSON envelope, as the chat APIs send them."""
    return streamed_run(tmp_path_factory.mktemp("stream"), "json")


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """Bare frames: a few tokens of text each."""
    return streamed_run(tmp_path_factory.mktemp("bare"), "none")


def test_frames_carry_the_replies(streamed):
    framing = Framing(True, 4, "json")
    rows = streamed.rows(codec="deflate")
    assert (rows["status"] == "ok").all()
    replies = rows[rows["reply_id"].notna()]
    assert set(replies["role"].astype(str)) == {"ai"}
    assert rows[rows["reply_id"].isna()]["role"].astype(str).eq("human").all()
    for reply_id, frames in replies.groupby("reply_id"):
        frames = frames.sort_values("frame_index")
        assert list(frames["frame_index"]) == list(range(len(frames)))
        whole = framing.reassemble(list(frames["text"]))
        assert len(whole.encode("utf-8")) == frames["message_bytes"].iloc[0]
        assert len(frames) == -(-len(whole) // (4 * CHARS_PER_TOKEN))
        assert all(json.loads(t)["type"] == "delta" for t in frames["text"])
        user, turn = map(int, str(reply_id).split(":"))
        assert set(frames["user_id"]) == {user} and set(frames["turn"]) == {turn}
    # the other codec saw exactly the same frames
    other = streamed.rows(codec="deflate-stream").sort_values(["user_id", "turn", "frame_index"])
    mine = rows.sort_values(["user_id", "turn", "frame_index"])
    assert list(other["text"]) == list(mine["text"])
    assert streamed.manifest.planned_messages == rows.drop_duplicates(["user_id", "turn"]).shape[0]


def _show(run) -> dict:
    figures = {name: c["replies"] for name, c in run.summary["codecs"].items()}
    for name, f in figures.items():
        print(
            f"{run.run_id} {name}: {f['replies']} replies, {f['frames_per_reply']:.1f} frames a reply, "
            f"codec output ratio per frame {f['frame_codec_ratio']:.3f}, frames that grew "
            f"{f['frames_expanded_share']:.0%}, ratio per reply (median) {f['ratio_per_reply_median']:.3f}, "
            f"reply text / wire bytes {f['text_to_wire_ratio']:.3f}"
        )
    return figures


def test_per_frame_expansion_without_context_and_the_gain_with_it(bare, streamed):
    """Done when: through deflate (no context) bare frames of a few tokens come out of the
    codec larger than they went in, so the server sends them raw (ratio 1.0); with the
    connection's shared context (deflate-stream) the same frames shrink. In a JSON
    envelope, deflate alone gains nothing while the shared context takes the envelope
    away: the reply costs about its own text on the wire, a third of what it costs without."""
    figures = _show(bare)
    plain, stream = figures["deflate"], figures["deflate-stream"]
    assert plain["frame_codec_ratio"] < 0.95 and plain["frames_expanded_share"] > 0.9
    assert plain["ratio_per_reply_median"] == pytest.approx(1.0, abs=0.01)  # the raw text on the wire
    assert stream["frame_codec_ratio"] > 1.15 and stream["frames_expanded_share"] < 0.2
    figures = _show(streamed)
    json_plain, json_stream = figures["deflate"], figures["deflate-stream"]
    assert json_plain["ratio_per_reply_median"] < 1.05 and json_plain["text_to_wire_ratio"] < 0.4
    assert json_stream["ratio_per_reply_median"] > 2 and json_stream["text_to_wire_ratio"] > 0.8
    frames = bare.rows(codec="deflate")
    frames = frames[frames["reply_id"].notna()]
    assert metrics.codec_ratio(frames) == pytest.approx(plain["frame_codec_ratio"])
    assert len(metrics.replies(frames)) == plain["replies"]
    text = " ".join(streamed.summary_text().split())  # lines are wrapped at 100 columns
    assert "streamed replies" in text and "codec output ratio, frames" in text
    assert "assistant replies streamed in frames of 4 tokens (~16 characters), JSON envelope" in text


def test_resending_the_whole_text(tmp_path):
    run = aura_lab.run(
        users=2,
        turns=(2, 2),
        think_time="0",
        codecs="identity",
        in_process_servers=True,
        framing="stream",
        chunk_tokens=10,
        resend_whole=True,
        quiet=True,
        trace_dir=str(tmp_path),
        run_id="resend",
    )
    rows = run.rows()
    for _, frames in rows[rows["reply_id"].notna()].groupby("reply_id"):
        texts = list(frames.sort_values("frame_index")["text"])
        assert all(b.startswith(a) for a, b in itertools.pairwise(texts))
        assert len(texts[-1].encode("utf-8")) == frames["message_bytes"].iloc[0]
    replies = run.summary["codecs"]["identity"]["replies"]
    assert replies["sent_bytes_per_reply"] > 2 * replies["reply_bytes_mean"]


def test_stream_options_need_stream_framing(capsys):
    from aura_lab.cli import main

    assert main(["run", "--envelope", "json", "--quiet"]) == 2
    assert "--envelope: applies to --framing stream" in capsys.readouterr().err
    assert main(["run", "--framing", "stream", "--chunk-tokens", "0", "--quiet"]) == 2
    assert "--chunk-tokens" in capsys.readouterr().err


def test_a_streamed_run_replays_offline_frame_by_frame(streamed, tmp_path):
    """The offline replay of a streamed run sends its frames as they were sent: every
    frame's compressed size comes back, each codec with its own connection state."""
    again = aura_lab.replay(streamed.path, ("deflate-stream", "deflate"), min_compression_size=0,
                            trace_dir=str(tmp_path), quiet=True)  # fmt: skip
    for codec in ("deflate-stream", "deflate"):
        theirs = streamed.rows(codec=codec).sort_values(["user_id", "turn", "frame_index"], kind="stable")
        ours = again.rows(codec=codec).sort_values(["user_id", "turn"], kind="stable")
        assert list(ours["text"]) == list(theirs["text"])
        assert list(ours["compressed_size"]) == list(theirs["compressed_size"]), codec


def test_the_clients_check_of_a_streamed_reply_is_frame_by_frame(tmp_path):
    """``--verify`` checks what went to the server: each frame, in order, with the user's
    own connection state (not the whole reply, which the server never saw)."""
    from aura_lab.load.verify import Checker
    from tests.support.servers import PeerServer

    with PeerServer() as server:
        run = aura_lab.run(urls=server.url, verify="aura", users=2, turns=(2, 4), think_time="0", seed=3,
                           framing="stream", chunk_tokens=32, quiet=True,
                           trace_dir=str(tmp_path), run_id="verified")  # fmt: skip
    rows = run.rows().sort_values(["user_id", "turn", "frame_index"], kind="stable")
    assert rows["reply_id"].notna().any() and set(rows["roundtrip_by"].astype(str)) == {"client"}
    framing = Framing(True, run.manifest.options["chunk_tokens"], "none")
    replies = {r: framing.reassemble(list(f["text"])) for r, f in rows.groupby("reply_id", sort=False)}
    wholes = [replies[r] if isinstance(r, str) else t for r, t in zip(rows["reply_id"], rows["text"])]
    checker = Checker("aura", run.manifest.options["min_compression_size"])
    try:
        expected = [checker.check(int(u), t) for u, t in zip(rows["user_id"], rows["text"])]
        # what a check of the whole reply for each frame would have said (other users' states)
        wrong = [checker.check(1000 + int(u), t) for u, t in zip(rows["user_id"], wholes)]
    finally:
        checker.close()
    assert list(rows["roundtrip_ok"].astype(bool)) == expected
    assert expected != wrong  # the test tells frames from whole replies
