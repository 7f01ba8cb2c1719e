"""Whole runs against real servers on 127.0.0.1: nothing lost, same seed same traffic,
bad servers survived and counted, warmup, failover, and run() inside an event loop."""

from __future__ import annotations

import _thread
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import aura_lab
from aura_lab.errors import InputError
from aura_lab.servers.hosting import serve_many
from aura_lab.wire.judge import ERROR_KINDS
from tests.support.servers import GarbageServer, PeerServer, peer_reply

pytestmark = pytest.mark.timeout(60)

SMALL = dict(users=4, turns=(3, 5), think_time="0", quiet=True, seed=11)


def small_run(tmp_path, **options):
    return aura_lab.run(**{**SMALL, "trace_dir": str(tmp_path), "in_process_servers": True, **options})


def by_message(df, columns):
    """Rows keyed by (codec, user, turn), in that order."""
    return (
        df.sort_values(["codec", "user_id", "turn"])[["codec", "user_id", "turn", *columns]]
        .astype({"codec": str})
        .reset_index(drop=True)
    )


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def three_codecs(tmp_path_factory):
    """One run, three embedded codecs (in-process servers)."""
    return small_run(tmp_path_factory.mktemp("runs"), codecs=("deflate", "deflate-stream", "identity"), run_id="three")


# -- nothing lost ----------------------------------------------------------------------


def test_row_count_equals_messages_sent(three_codecs):
    run = three_codecs
    df = run.traces
    planned = run.manifest.planned_messages
    assert run.status == "complete"
    assert len(df) == planned * 3  # one record per message and codec
    assert not df.duplicated(["codec", "user_id", "turn"]).any()
    for _, part in df.groupby(["codec", "user_id"], observed=True):
        assert sorted(part["turn"]) == list(range(len(part)))  # no turn skipped
        assert 3 <= len(part) <= 5
    assert df["sent_at"].notna().all() and (df["status"] == "ok").all()
    assert set(df["phase"]) == {"main"}
    assert {c["messages"] for c in run.summary["codecs"].values()} == {planned}


def test_run_folder_loads_back(three_codecs):
    run = three_codecs
    assert {p.name for p in run.path.iterdir()} >= {"manifest.json", "summary.json", "traces"}
    again = aura_lab.load_run(run.path)
    assert again.manifest.to_dict() == json.loads((run.path / "manifest.json").read_text())
    assert again.status == "complete" and again.run_id == "three"
    assert again.summary["codecs"].keys() == run.summary["codecs"].keys()
    assert len(again.traces) == len(run.traces)
    assert [s.codec for s in run.manifest.servers] == ["deflate", "deflate-stream", "identity"]
    assert all(s.embedded for s in run.manifest.servers)


def test_codecs_of_one_run_received_identical_messages(three_codecs):
    df = three_codecs.traces
    texts = {
        codec: by_message(part, ["text"]).drop(columns="codec") for codec, part in df.groupby("codec", observed=True)
    }
    first, *others = texts.values()
    for other in others:
        assert other.equals(first)
    assert df.groupby(["user_id", "turn"])["text"].nunique().eq(1).all()
    # and each server measured that very text
    assert (df["original_size"] == df["length_bytes"]).all()


def test_existing_run_id_is_refused(three_codecs):
    with pytest.raises(InputError, match="exists already"):
        small_run(three_codecs.path.parent, codecs=("identity",), run_id="three")


# -- same seed, same traffic --------------------------------------------------------------


@pytest.mark.timeout(90)
def test_same_seed_same_texts_and_deflate_sizes_across_server_kinds(tmp_path):
    """One run on in-process servers, one on the default child-process servers."""
    a = small_run(tmp_path, codecs=("deflate",), run_id="a")
    b = aura_lab.run(**SMALL, codecs=("deflate",), trace_dir=str(tmp_path), run_id="b")
    assert not b.manifest.options["in_process_servers"]
    columns = ["text", "role", "source", "template_ids", "original_size", "compressed_size", "method"]
    left, right = by_message(a.traces, columns), by_message(b.traces, columns)
    assert len(left) == a.manifest.planned_messages > 0
    assert left.astype(str).equals(right.astype(str))

    c = small_run(tmp_path, codecs=("deflate",), run_id="c", seed=12)
    assert not by_message(c.traces, ["text"]).equals(by_message(a.traces, ["text"]))


# -- servers that are not aura-lab's own -------------------------------------------------


def test_minimal_peer_server_that_speaks_only_the_peer_fields(tmp_path):
    with PeerServer() as server:
        run = small_run(tmp_path, urls=(server.url,), run_id="peer")
    df = run.traces
    assert run.status == "complete"
    assert len(df) == run.manifest.planned_messages == server.messages
    assert (df["status"] == "ok").all()
    assert set(df["method"]) <= {"DEFLATE", "UNCOMPRESSED"}
    expected = [peer_reply(text, 0)["compressed_size"] for text in df["text"]]
    assert list(df["compressed_size"]) == expected  # zlib's real sizes, as the server said
    assert df["roundtrip_ok"].isna().all()  # the peer does not say
    assert [(s.url, s.codec, s.embedded) for s in run.manifest.servers] == [(server.url, "external", False)]
    assert run.manifest.options["codecs"] == []  # nothing embedded was started, so none is listed
    assert run.manifest.templates_from.startswith("aura_compression")
    summary = run.summary["codecs"]["external"]
    assert summary["errors"] == 0 and summary["overall_ratio"] > 1


def test_garbage_server_is_survived_and_every_error_counted(tmp_path):
    schedule = dict(close_connection=4, stall=9, non_json=5, missing_fields=7, status_error=11, wrong_echo=13)
    with GarbageServer(**schedule) as server:
        run = small_run(tmp_path, urls=(server.url,), users=4, turns=(8, 12), timeout=0.25, run_id="garbage")
    df = run.traces
    assert run.status == "complete"
    assert len(df) == run.manifest.planned_messages == server.messages
    done = server.done
    expected = {
        "closed": done["close_connection"],
        "timeout": done["stall"],
        "bad_reply": done["non_json"] + done["missing_fields"],
        "server_error": done["status_error"],
        "mismatched_reply": done["wrong_echo"],
    }
    expected = {kind: n for kind, n in expected.items() if n}
    assert len(expected) >= 4  # the schedule really hit most kinds
    assert df["error_kind"].dropna().astype(str).value_counts().to_dict() == expected
    summary = run.summary["codecs"]["external"]
    assert summary["errors_by_kind"] == expected
    assert summary["ok"] == server.replies - sum(
        expected.get(k, 0) for k in ("bad_reply", "server_error", "mismatched_reply")
    )
    assert summary["reconnects"] > 0  # closed, timed-out and out-of-step connections were replaced
    assert set(df["error_kind"].dropna()) <= set(ERROR_KINDS)


def test_failover_moves_users_off_a_dead_url(tmp_path):
    dead = dead_url()
    with PeerServer() as server:
        run = small_run(tmp_path, urls=(dead, server.url), users=4, turns=(4, 6), run_id="failover")
    df = run.traces
    assert run.status == "complete"
    assert len(df) == run.manifest.planned_messages
    errors = df[df["status"] != "ok"]
    assert set(errors["error_kind"]) == {"connect"}
    assert set(errors["server_url"]) == {dead}
    assert set(df[df["status"] == "ok"]["server_url"]) == {server.url}
    # users 0 and 2 started on the dead URL, failed twice, then moved; 1 and 3 never failed
    assert sorted(errors.groupby("user_id").size().items()) == [(0, 2), (2, 2)]
    for user in (0, 2):
        mine = df[df["user_id"] == user].sort_values("turn")
        assert list(mine["status"][:2]) == ["error", "error"] and (mine["status"][2:] == "ok").all()
        assert mine["reconnects"].iloc[-1] == 1
        assert list(mine["failovers"]) == [0, 1] + [1] * (len(mine) - 2)  # the move, counted
    assert (df[df["user_id"].isin([1, 3])]["failovers"] == 0).all()
    summary = run.summary["codecs"]["external"]
    assert summary["errors_by_kind"] == {"connect": 4}
    assert summary["reconnects"] == 2
    assert summary["failovers"] == 2
    assert summary["servers"] == sorted([dead, server.url])
    # warned (on stderr, quiet or not) before the run started, and kept in the manifest
    assert f"nothing is listening at {dead}; its users will fail over to the next URL" in run.manifest.warnings


def _kill_after(handle, messages: int, killed: threading.Event) -> None:
    """SIGKILL the server once its /health says it served ``messages`` messages."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{handle.port}/health", timeout=2) as response:
                if json.loads(response.read())["messages_served"] >= messages:
                    break
        except OSError:
            pass
        time.sleep(0.02)
    os.kill(handle.pid, signal.SIGKILL)
    killed.set()


@pytest.mark.timeout(90)
def test_killing_a_server_mid_run_is_survived_and_counted(tmp_path):
    """Two child-process replicas; one is killed (SIGKILL) while users talk to it."""
    with serve_many(["deflate", "deflate"], workdir=tmp_path / "scratch") as handles:
        victim, survivor = handles
        assert victim.pid and survivor.pid
        killed = threading.Event()
        killer = threading.Thread(target=_kill_after, args=(victim, 20, killed), daemon=True)
        killer.start()
        run = aura_lab.run(
            **{**SMALL, "users": 4, "turns": (40, 40), "think_time": "uniform:0.02,0.04"},
            urls=(victim.url, survivor.url),
            trace_dir=str(tmp_path),
            run_id="kill",
        )
        killer.join(5)
        assert killed.is_set()
    df = run.traces
    assert run.status == "complete"
    assert len(df) == run.manifest.planned_messages == 160
    errors = df[df["status"] != "ok"]
    assert len(errors) > 0 and set(errors["error_kind"]) <= {"closed", "connect"}
    assert set(errors["server_url"]) == {victim.url}
    for user in (0, 2):  # they were on the victim: ok there, errors, then ok on the survivor
        mine = df[df["user_id"] == user].sort_values("turn")
        ok_urls = mine[mine["status"] == "ok"]["server_url"].astype(str)
        assert ok_urls.iloc[0] == victim.url and ok_urls.iloc[-1] == survivor.url
        assert mine["reconnects"].iloc[-1] >= 1
    assert (df[df["user_id"].isin([1, 3])]["status"] == "ok").all()
    summary = run.summary["codecs"][run.primary_codec]
    assert summary["errors"] == len(errors)
    assert sum(summary["errors_by_kind"].values()) == len(errors)


# -- warmup ----------------------------------------------------------------------------------


def test_warmup_records_are_kept_apart_and_adjustments_noted(tmp_path):
    # identity compresses nothing: mean ratio 1.0 < 1.15, so with --auto-adjust the peer profile's corpus
    # weight goes up
    run = small_run(tmp_path, codecs=("identity",), warmup_messages=20, auto_adjust=True, profile="peer", run_id="warm")
    df = run.traces
    warm, main = df[df["phase"] == "warmup"], df[df["phase"] == "main"]
    assert len(warm) == 20 and len(main) == run.manifest.planned_messages
    assert set(warm["user_id"]) == {1_000_000}
    summary = run.summary["codecs"]["identity"]
    assert summary["messages"] == len(main)
    assert summary["per_user_messages"]["users"] == SMALL["users"]
    warmup = run.manifest.warmup
    assert warmup["report"]["messages"] == 20
    assert warmup["adjusted"] is True
    assert warmup["corpus_weight_before"] == 0.3 and warmup["corpus_weight_after"] == pytest.approx(0.5)
    assert any("corpus weight" in reason for reason in warmup["reasons"])
    assert warmup["auto_adjust"] is True and run.manifest.options["auto_adjust"] is True
    assert run.summary["warmup"] == warmup
    assert json.loads((run.path / "manifest.json").read_text())["warmup"] == warmup


def test_warmup_adjusts_nothing_for_a_two_sided_profile(tmp_path):
    """The corpus weight and template exploration do not shape the assistant profile's
    traffic: raising them would change nothing but the manifest's word, even with
    --auto-adjust, and nothing is suggested."""
    run = small_run(tmp_path, codecs=("identity",), warmup_messages=20, auto_adjust=True, run_id="warm")
    warmup = run.manifest.warmup
    assert warmup["report"]["mean_ratio"] < 1.15 and warmup["adjusted"] is False and warmup["reasons"] == []
    assert warmup["suggested"]["reasons"] == [] and warmup["suggested"]["corpus_weight"] == 0.3
    assert run.manifest.profile["name"] == "assistant"


def test_warmup_findings_are_not_applied_by_default(tmp_path):
    """Auto-adjust is opt-in: raising corpus_weight changes the traffic under test. The
    findings are still reported, as suggestions, and recorded."""
    run = small_run(tmp_path, codecs=("identity",), warmup_messages=20, profile="peer", run_id="warm")
    warmup = run.manifest.warmup
    assert run.manifest.options["auto_adjust"] is False and warmup["auto_adjust"] is False
    assert warmup["adjusted"] is False and warmup["reasons"] == []
    assert warmup["corpus_weight_after"] == warmup["corpus_weight_before"]
    assert warmup["suggested"]["corpus_weight"] == pytest.approx(0.5) and warmup["suggested"]["reasons"]
    # the warmup's warnings are kept in the manifest
    assert any(w.startswith("warmup: mean ratio") for w in run.manifest.warnings)


def test_the_warmup_teaches_the_selector_before_the_main_phase():
    """Warmup messages are generated through the run's selector, one at a time, and the
    selector learns from each warmup reply (the post-warmup explore rate assumes so)."""
    from aura_lab.load.engine import Exchanged, selector_feed
    from aura_lab.load.phases import WARMUP_USER, warmup_messages
    from aura_lab.traffic.generator import GeneratorConfig
    from aura_lab.traffic.selection import EpsilonGreedySelector

    class Recording(EpsilonGreedySelector):
        def __init__(self):
            super().__init__(explore=0.3)
            self.chosen = 0

        def choose(self, candidates, rng):
            self.chosen += 1
            return super().choose(candidates, rng)

    selector = Recording()
    messages = warmup_messages(GeneratorConfig(seed=3, corpus_weight=0.0, profile="peer"), 12, selector)
    first = next(messages)
    assert selector.chosen >= 1 and first.user_id == WARMUP_USER  # made when asked for, through the selector
    chosen_before = selector.chosen
    learn = selector_feed(selector)
    record = {"status": "ok", "ratio": 3.0}
    learn(Exchanged(first, "warmup", [record]))
    assert selector.mean_ratio(first.template_id) == 3.0
    rest = list(messages)
    assert len(rest) == 11 and selector.chosen > chosen_before and {m.user_id for m in rest} == {WARMUP_USER}


# -- blocking run() and the coroutine --------------------------------------------------------


def test_run_inside_a_running_event_loop(tmp_path):
    async def notebook_cell():
        asyncio.get_running_loop()  # like Jupyter: a loop is running, and run() blocks
        return aura_lab.run(
            **SMALL, codecs=("identity",), trace_dir=str(tmp_path), in_process_servers=True, run_id="nested"
        )

    run = asyncio.run(notebook_cell())
    assert run.status == "complete"
    assert len(run.traces) == run.manifest.planned_messages


def test_interrupting_a_blocking_run_inside_an_event_loop_stops_it(tmp_path):
    """The notebook's interrupt button: KeyboardInterrupt in the caller's thread."""

    async def notebook_cell():
        threading.Timer(1.0, _thread.interrupt_main).start()
        return aura_lab.run(
            **{**SMALL, "turns": (200, 200), "think_time": "uniform:0.01,0.02"},
            codecs=("identity",),
            trace_dir=str(tmp_path),
            in_process_servers=True,
            run_id="stop",
        )

    # like ipykernel: a loop without asyncio.run's own SIGINT handler, so the interrupt is
    # a KeyboardInterrupt raised wherever the main thread is (inside the blocking run())
    loop = asyncio.new_event_loop()
    started = time.monotonic()
    try:
        run = loop.run_until_complete(notebook_cell())
    finally:
        loop.close()
    assert time.monotonic() - started < 10
    assert run.status == "interrupted"
    assert 0 < len(run.traces) < run.manifest.planned_messages
    assert json.loads((run.path / "manifest.json").read_text())["status"] == "interrupted"


def test_arun_is_the_coroutine(tmp_path):
    run = asyncio.run(
        aura_lab.arun(
            **SMALL, codecs=("identity",), trace_dir=str(tmp_path), in_process_servers=True, run_id="coroutine"
        )
    )
    assert run.status == "complete" and len(run.traces) == run.manifest.planned_messages


def test_run_config_is_validated_before_anything_starts(tmp_path):
    with pytest.raises(InputError, match=r"^users: "):  # the Python API names the parameter
        small_run(tmp_path, users=0, codecs=("identity",))
    with pytest.raises(InputError, match=r"^codecs: "):
        small_run(tmp_path, codecs=("nope",))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(120)
def test_plain_script_without_main_guard_runs_child_servers(tmp_path):
    """A top-level ``aura_lab.run()`` in a script without ``if __name__ == "__main__"``:
    child servers are fresh interpreters, so the script is not started again."""
    script = tmp_path / "experiment.py"
    script.write_text(
        "import aura_lab\n"
        f"run = aura_lab.run(users=2, turns=(2, 3), think_time='0', codecs='deflate,identity',\n"
        f"                   trace_dir={str(tmp_path / 'traces')!r}, quiet=True)\n"
        "print('RESULT', run.status, run.summary['codecs']['deflate']['sent'])\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=110, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 1 and results[0].split()[1] == "complete" and int(results[0].split()[2]) >= 4


def test_metadata_is_validated_against_the_template_library_in_use(tmp_path):
    """--templates FILE with its own ids: metadata for those ids is used, not dropped as
    unknown to AURA's library."""
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({"9001": "Please review {0} before lunch."}))
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"templates": {"9001": {"slot_examples": [["the quarterly report"]]}}}))
    run = small_run(
        tmp_path,
        codecs="deflate",
        templates=str(templates),
        metadata=str(metadata),
        corpus="none",
        profile="peer",  # template synthesis: the metadata's slot values are what it sends
        users=2,
        turns=(3, 3),
        run_id="own-templates",
    )
    assert run.manifest.files["metadata_warnings"] == []
    texts = set(run.traces["text"])
    assert texts and all("Please review the quarterly report before lunch." in t for t in texts)


def test_the_progress_bar_ends_on_the_summarys_ratio(tmp_path, capfd):
    """The bar's last ratio is the primary codec's ratio as measured in the summary (the
    bar updates every half second; its close shows the final figures)."""
    run = aura_lab.run(**{**SMALL, "quiet": False}, codecs=("deflate", "identity"), trace_dir=str(tmp_path),
                       in_process_servers=True, warmup_messages=5, run_id="bar")  # fmt: skip
    err = capfd.readouterr().err
    shown = re.findall(r"ratio=([0-9.]+)", err)
    assert shown, err[-500:]
    assert shown[-1] == f"{run.summary['codecs']['deflate']['overall_ratio']:.3f}"
    # it moves twice a second, not per message: its close shows every message
    done, total = re.findall(r"(\d+)/(\d+) \[", err)[-1]
    assert int(done) == int(total) == run.manifest.planned_messages


def test_hit_rate_is_not_applicable_to_codecs_without_templates(three_codecs):
    for figures in three_codecs.summary["codecs"].values():  # deflate, deflate-stream, identity: no templates
        assert figures["template_hit_rate_applies"] is False and figures["template_hit_rate"] is None
    assert "template hit rate" in three_codecs.summary_text() and "n/a" in three_codecs.summary_text()
