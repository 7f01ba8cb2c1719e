"""The realism check: sizes (KS per role with its noise by conversation, size buckets,
messages per conversation), compressibility (each codec's ratio on both sides, the gap,
the ranking, content figures), a verdict; ``aura-lab realism`` on a profile and on a run.

There are no real logs here: the reference is the ``assistant`` profile's traffic under one
seed, the traffic the same profile under another (close), the ``peer`` profile (far) or a
slice of the reference's own conversations (never rough or far)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import aura_lab
from aura_lab.analysis.compressibility import CLOSE_GAP, FAR_GAP, Reservoir, codec_bytes, judge_gap
from aura_lab.analysis.realism import (
    WIDTH,
    format_realism,
    generated_conversations,
    ks_noise,
    ks_noise_by_conversation,
    realism,
    realism_input,
    verdict,
)
from aura_lab.analysis.summary import LENGTH_BUCKETS
from aura_lab.cli import main
from aura_lab.traffic.conversations import Conversation, LogMessage
from tests.support.logs import write_logs

CODECS = ("deflate", "deflate-stream", "zstd-dict", "brotli")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return write_logs(tmp_path_factory.mktemp("reference"), 1500, seed=21)


@pytest.fixture(scope="module")
def reference():
    """300 conversations of the assistant profile (seed 1), 200 of them measured; its
    codec bytes are kept between the tests that use it."""
    return realism_input(generated_conversations("assistant", 300, seed=1), measured=200)


def _fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, too_wide


def _against(reference, name: str) -> dict:
    traffic = generated_conversations(name, 300, seed=2)
    table = realism(reference, traffic, f"profile {name}", measured=120)
    text = format_realism(table, "the assistant profile, seed 1")
    print(text)
    _fits(text)
    assert f"realism of profile {name} (traffic) against the assistant profile, seed 1" in text
    assert "Measured 200 of 300 reference conversations and 120 of 300 traffic conversations" in text
    shares = table["roles"]["human"]["shares_reference"]
    assert list(shares) == [b[2] for b in LENGTH_BUCKETS] and sum(shares.values()) == pytest.approx(1)
    return table


def test_the_assistant_profile_is_close(reference):
    assistant = _against(reference, "assistant")
    assert assistant["verdict"] == "close", assistant["verdict_line"]
    assert all(assistant["roles"][r]["ks"] <= 0.10 for r in ("human", "assistant"))
    assert not assistant["messages_per_conversation"]["one_sided"]
    assert assistant["roles"]["assistant"]["shares_traffic"]["500-2000"] > 0.4
    close = assistant["compressibility"]
    assert list(close["codecs"]) == list(CODECS) and close["ranking"]["same"]
    for name, row in close["codecs"].items():
        assert abs(row["gap"]) <= CLOSE_GAP and row["judged"] == "close", name
        assert row["reference"]["low"] < row["reference"]["ratio"] < row["reference"]["high"]
        assert row["gap_low"] < row["gap"] < row["gap_high"]
    # whole replies: brotli ahead of deflate; the conversation's history helps its replies
    # (the generator revises and repeats: gain p50 1.10 before it did)
    assert close["codecs"]["brotli"]["reference"]["ratio"] > close["codecs"]["deflate"]["reference"]["ratio"] * 1.1
    assert close["content"]["traffic"]["assistant"]["gain"]["p50"] > 1.12


def test_the_peer_profile_is_far(reference):
    peer = _against(reference, "peer")
    assert peer["verdict"] == "far" and peer["roles"]["assistant"]["ks"] > 0.5
    assert peer["messages_per_conversation"]["one_sided"]
    far = peer["compressibility"]
    for name, row in far["codecs"].items():
        assert row["gap_high"] < -FAR_GAP and row["judged"] == "far", name
    # short peer messages: brotli's lead on whole replies is gone, deflate-stream leads
    assert ["deflate-stream", "brotli"] in far["ranking"]["flipped"] and not far["ranking"]["same"]
    assert "brotli ratio -" in peer["verdict_line"] and "ranking flipped" in peer["verdict_line"]
    # the peer never sends a message over ~500 bytes: its big buckets are empty
    assert peer["roles"]["assistant"]["shares_traffic"]["500-2000"] == 0


def test_a_slice_of_the_reference_is_never_rough(reference):
    """100 conversations of a set against the rest of that set: close, or too few to tell."""
    conversations = reference.sample
    rest = realism_input(conversations[100:])
    table = realism(rest, conversations[:100], "a slice")
    assert all(r["ks_noise"] >= r["ks_noise_independent"] for r in table["roles"].values())
    print(format_realism(table, "the rest"))
    assert table["verdict"] in ("close", "too few to tell"), table["verdict_line"]
    assert all(row["judged"] in ("close", "too few to tell") for row in table["compressibility"]["codecs"].values())


def _clustered(n_conversations: int, seed: int) -> pd.DataFrame:
    """Sizes that cluster by conversation, as real ones do: each conversation has its own
    scale (log-normal, sd 1) and its messages stay near it (sd 0.2)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_conversations):
        scale, messages = rng.normal(6, 1.0), int(rng.integers(2, 12))
        for i in range(messages):
            size = float(np.exp(scale + rng.normal(0, 0.2)))
            rows.append((f"c{c}", i, ("human", "assistant")[i % 2], "first", size, False, False, messages, True))
    columns = ["conversation", "index", "role", "band", "size", "code", "list", "messages", "structured"]
    return pd.DataFrame(rows, columns=columns)


def test_noise_is_by_conversation():
    """Messages of one conversation are alike: a slice of 100 conversations differs from
    the rest by more than independent messages would, and the noise says so."""
    frame = _clustered(1000, seed=1)
    ids = frame["conversation"].unique()
    in_slice = frame["conversation"].isin(ids[:100])
    table = realism(frame[~in_slice], frame[in_slice], "a slice")
    assistant = table["roles"]["assistant"]
    # over 0.10 and over the noise of independent messages: the old check called it rough
    assert assistant["ks"] > 0.10 and assistant["ks"] > assistant["ks_noise_independent"]
    assert assistant["ks_noise"] > 1.4 * assistant["ks_noise_independent"]
    assert table["verdict"] == "too few to tell", table["verdict_line"]
    assert table["compressibility"]["status"] == "not checked"  # sizes only: no texts
    assert "compressibility: not checked" in format_realism(table)
    # one message per conversation: the noise is the textbook critical value
    rng = np.random.default_rng(3)

    def independent(n):
        return pd.DataFrame({"conversation": np.arange(n), "size": np.round(rng.lognormal(6, 1, n))})

    for n, m in ((1500, 1000), (300, 3000)):
        assert ks_noise_by_conversation(independent(n), independent(m)) == pytest.approx(ks_noise(n, m), rel=0.12)
    assert ks_noise_by_conversation(independent(1), independent(50)) is None


def test_one_conversation_of_traffic(reference):
    """A run of one user: no interval and no noise by conversation; the codec gaps are
    too few to tell, the sizes fall back to the noise of independent messages."""
    one = generated_conversations("assistant", 1, seed=5)
    table = realism(reference, one, "one user", codecs=("deflate",))
    row = table["compressibility"]["codecs"]["deflate"]
    assert row["traffic"]["low"] is None and row["gap_low"] is None
    assert row["judged"] in ("close", "too few to tell")
    human = table["roles"]["human"]
    assert human["ks_noise_by"] == "message" and human["ks_noise"] == human["ks_noise_independent"]
    assert table["verdict"] in ("close", "too few to tell"), table["verdict_line"]
    text = format_realism(json.loads(json.dumps(table, allow_nan=False)))
    _fits(text)
    assert "sizes by message, as if independent" in text and "Measured 200 of 300 reference" in text


def _result(human, assistant, conversation, noise=0.02, codecs=None, ranking=None):
    result = {
        "roles": {"human": {"ks": human, "ks_noise": noise}, "assistant": {"ks": assistant, "ks_noise": noise}},
        "messages_per_conversation": {"ks": conversation, "ks_noise": noise},
    }
    if codecs is not None:
        rows = {
            name: {"gap": gap, "gap_low": low, "gap_high": high, "judged": judge_gap(gap, low, high)}
            for name, (gap, low, high) in codecs.items()
        }
        ranking = ranking or {"same": True, "flipped": [], "unsure": []}
        result["compressibility"] = {"status": "checked", "codecs": rows, "ranking": ranking}
    return result


def test_verdict_words_noise_and_what_was_not_checked():
    good = {"deflate": (0.01, -0.02, 0.04), "brotli": (-0.03, -0.05, -0.01)}
    assert verdict(_result(0.05, 0.1, 0.02, codecs=good))["verdict"] == "close"
    rough = verdict(_result(0.05, 0.2, 0.02, codecs=good))
    assert rough["verdict"] == "rough" and "assistant sizes KS 0.20" in rough["verdict_line"]
    assert verdict(_result(0.5, 0.2, 0.02, codecs=good))["verdict"] == "far"
    assert "not checked" in verdict(_result(0.05, None, 0.02, codecs=good))["verdict_line"]
    assert verdict(_result(None, None, None))["verdict"] == "not checked"
    # ten conversations: a KS of 0.31 is within the noise (0.43), so it says nothing
    few = verdict(_result(0.05, 0.08, 0.31, noise=0.43, codecs=good))
    assert few["verdict"] == "too few to tell" and "within its noise (0.43)" in few["verdict_line"]
    # sizes close but the text compresses 20 % worse: far, not close
    worse = verdict(_result(0.05, 0.08, 0.02, codecs={**good, "brotli": (-0.20, -0.23, -0.17)}))
    assert worse["verdict"] == "far" and "brotli ratio -20.0%" in worse["verdict_line"]
    assert verdict(_result(0.05, 0.08, 0.02, codecs={"deflate": (-0.08, -0.10, -0.06)}))["verdict"] == "rough"
    unsure = verdict(_result(0.05, 0.08, 0.02, codecs={"deflate": (-0.08, -0.20, 0.03)}))
    assert unsure["verdict"] == "too few to tell" and "-20.0% to +3.0%" in unsure["verdict_line"]
    flipped = {"same": False, "flipped": [["deflate-stream", "brotli"]], "unsure": []}
    flip = verdict(_result(0.05, 0.08, 0.02, codecs=good, ranking=flipped))
    assert flip["verdict"] == "far" and "ranking flipped (deflate-stream over brotli)" in flip["verdict_line"]
    # sizes close, compressibility not measured: never "close"
    sizes_only = verdict(_result(0.05, 0.08, 0.02))
    assert sizes_only["verdict"] == "not checked" and "sizes close" in sizes_only["verdict_line"]
    assert verdict(_result(0.5, 0.08, 0.02))["verdict"] == "far"
    assert ks_noise(10, 1500) == pytest.approx(0.4309, abs=1e-3) and ks_noise(0, 5) is None


def test_judge_gap():
    assert judge_gap(0.04, -0.2, 0.3) == "close"
    assert judge_gap(-0.07, -0.09, -0.06) == "rough"
    assert judge_gap(-0.07, -0.12, 0.01) == "too few to tell"
    assert judge_gap(-0.30, -0.33, -0.16) == "far"
    assert judge_gap(-0.30, -0.33, -0.14) == "rough"  # could be 14 %: not surely beyond 15 %
    assert judge_gap(None, None, None) == "not checked"
    assert judge_gap(-0.30, None, None) == "too few to tell"  # one conversation: no interval
    assert judge_gap(0.02, None, None) == "close"


def test_each_direction_keeps_its_own_context():
    """A reply that repeats the human's message gains nothing from it (the server's
    context is not the client's); a second message in one direction does; a message of
    no known role travels client to server; system messages are not traffic."""
    text = " ".join(f"word{i * 7919 % 10007}" for i in range(400))
    size = len(text.encode())

    def measured(*roles):
        conversation = Conversation("c", [LogMessage(role, text, i) for i, role in enumerate(roles)])
        return codec_bytes([conversation], "deflate-stream")

    alone = measured("human")
    assert alone["original"][0] == size
    across = measured("human", "assistant")
    assert across["compressed"][0] == pytest.approx(2 * alone["compressed"][0], rel=0.02)
    assert across["roles"]["assistant"][1] == pytest.approx(alone["compressed"][0], rel=0.02)
    along = measured(None, "human")
    assert along["compressed"][0] < 1.1 * alone["compressed"][0]
    assert along["roles"]["human"][1] < 0.1 * alone["compressed"][0]
    assert measured("system", "human")["original"][0] == size


def test_the_sample_is_seeded_and_in_order():
    conversations = [Conversation(f"c{i}", [LogMessage("human", "hi", 0)]) for i in range(50)]
    first, again = Reservoir(10, seed=4), Reservoir(10, seed=4)
    assert list(first.passing(conversations)) == conversations
    list(again.passing(conversations))
    ids = [c.id for c in first.sample()]
    assert ids == [c.id for c in again.sample()] and len(ids) == 10 and first.seen == 50
    assert ids == sorted(ids, key=lambda x: int(x[1:])) and ids != [f"c{i}" for i in range(10)]
    few = Reservoir(100)
    list(few.passing(conversations))
    assert few.sample() == conversations


def test_realism_command_on_a_profile_and_on_a_run(logs, tmp_path, capsys):
    args = ["realism", "--reference", str(logs["openai"]), "--profile", "peer", "--conversations", "200"]
    assert main([*args, "--measure", "40"]) == 0
    out = capsys.readouterr().out
    _fits(out)
    assert "realism of profile peer (traffic) against the reference logs" in out
    assert "verdict: far from the reference" in out
    assert "500-2000" in out and "2000+" in out and "brotli" in out
    assert "Measured 40 of 1500 reference conversations and 40 of 200 traffic conversations" in out
    assert main([*args, "--measure", "0"]) == 2
    assert "--measure" in capsys.readouterr().err
    run = aura_lab.run(
        users=12,
        think_time="0",
        codecs="identity",
        in_process_servers=True,
        quiet=True,
        trace_dir=str(tmp_path),
        run_id="r",
        reference=str(logs["sharegpt"]),
    )
    table = run.summary["realism"]
    assert table["label"] == "run r" and table["roles"]["assistant"]["n_traffic"] > 0
    assert run.manifest.files["reference"]["files"][0]["conversations"] == 1500
    assert main(["realism", str(run.path), "--reference", str(logs["sharegpt"]), "--measure", "30"]) == 0
    out = capsys.readouterr().out
    assert "realism of run (traffic) against the reference logs" in out
    assert "Measured 30 of 1500 reference conversations and 12 of 12 traffic conversations" in out
    assert main(["realism", str(run.path), "--profile", "peer", "--reference", str(logs["sharegpt"])]) == 2
    assert "--profile" in capsys.readouterr().err
