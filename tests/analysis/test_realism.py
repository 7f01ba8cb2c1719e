"""The realism check: KS per role, size buckets, messages per conversation, a verdict;
``aura-lab realism`` on a profile and on a run."""

from __future__ import annotations

import pytest

import aura_lab
from aura_lab.analysis.realism import format_realism, generated_conversations, ks_noise, realism, verdict
from aura_lab.analysis.summary import LENGTH_BUCKETS
from aura_lab.cli import main
from aura_lab.traces.logs import read_logs
from tests.support.logs import write_logs


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return write_logs(tmp_path_factory.mktemp("reference"), 1500, seed=21)


def test_the_assistant_profile_is_close_and_the_peer_far(logs):
    reference = list(read_logs(logs["sharegpt"]))
    tables = {}
    for name in ("assistant", "peer"):
        tables[name] = realism(reference, generated_conversations(name, 1500, seed=2), f"profile {name}")
        print(format_realism(tables[name], "test logs"))
    assistant, peer = tables["assistant"], tables["peer"]
    assert assistant["verdict"] == "close"
    assert all(assistant["roles"][r]["ks"] <= 0.10 for r in ("human", "assistant"))
    assert peer["verdict"] == "far" and peer["roles"]["assistant"]["ks"] > 0.5
    assert peer["messages_per_conversation"]["one_sided"] and not assistant["messages_per_conversation"]["one_sided"]
    # the peer never sends a message over ~500 bytes: its big buckets are empty
    assert peer["roles"]["assistant"]["shares_traffic"]["500-2000"] == 0
    assert assistant["roles"]["assistant"]["shares_traffic"]["500-2000"] > 0.4
    for table in tables.values():
        shares = table["roles"]["human"]["shares_reference"]
        assert list(shares) == [b[2] for b in LENGTH_BUCKETS] and sum(shares.values()) == pytest.approx(1)


def test_verdict_words_noise_and_what_was_not_checked():
    def result(human, assistant, conversation, noise=0.02):
        return {
            "roles": {"human": {"ks": human, "ks_noise": noise}, "assistant": {"ks": assistant, "ks_noise": noise}},
            "messages_per_conversation": {"ks": conversation, "ks_noise": noise},
        }

    assert verdict(result(0.05, 0.1, 0.02))["verdict"] == "close"
    rough = verdict(result(0.05, 0.2, 0.02))
    assert rough["verdict"] == "rough" and "assistant sizes KS 0.20" in rough["verdict_line"]
    assert verdict(result(0.5, 0.2, 0.02))["verdict"] == "far"
    assert "not checked" in verdict(result(0.05, None, 0.02))["verdict_line"]
    assert verdict(result(None, None, None))["verdict"] == "not checked"
    # ten conversations: a KS of 0.31 is within the noise (0.43), so it says nothing
    few = verdict(result(0.05, 0.08, 0.31, noise=0.43))
    assert few["verdict"] == "too few to tell" and "within its noise (0.43)" in few["verdict_line"]
    assert ks_noise(10, 1500) == pytest.approx(0.4309, abs=1e-3) and ks_noise(0, 5) is None


def test_realism_command_on_a_profile_and_on_a_run(logs, tmp_path, capsys):
    assert main(["realism", "--reference", str(logs["openai"]), "--profile", "peer", "--conversations", "300"]) == 0
    out = capsys.readouterr().out
    assert "realism of profile peer against reference" in out and "verdict: far from the reference" in out
    assert "500-2000" in out and "2000+" in out
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
    assert main(["realism", str(run.path), "--reference", str(logs["sharegpt"])]) == 0
    out = capsys.readouterr().out
    assert "realism of run against reference" in out
    assert main(["realism", str(run.path), "--profile", "peer", "--reference", str(logs["sharegpt"])]) == 2
    assert "--profile" in capsys.readouterr().err
