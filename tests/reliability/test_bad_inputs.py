"""Reliability: inputs that used to hang, exhaust memory or end in a traceback. Each is
now refused at once with one line that names the file (and line) or the flag and the
fix, or read with a warning that names what was skipped."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings
from collections import Counter

import pytest

import aura_lab
from aura_lab import cli
from aura_lab.errors import DataWarning, InputError
from aura_lab.inputs import MAX_INPUT_BYTES_ENV
from aura_lab.traffic.corpus import load_corpus
from aura_lab.traffic.templates import PatternLibrary

pytestmark = pytest.mark.timeout(30)  # a hang (a FIFO read, /dev/zero) fails here, not never


def run_cli(argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    _out, err = capsys.readouterr()
    return code, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- files that are not regular files -------------------------------------------------------


@pytest.mark.parametrize("flag", ["--corpus", "--metadata", "--templates"])
def test_a_fifo_as_input_is_refused_at_once(tmp_path, capsys, flag):
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    code, err = run_cli(["run", flag, str(fifo), "--trace-dir", str(tmp_path / "t"), "--quiet"], capsys)
    kind = {"--corpus": "corpus", "--metadata": "metadata", "--templates": "template"}[flag]
    assert code == 2
    assert one_line(err) == (
        f"aura-lab: error: {fifo}: is a FIFO (named pipe), not a regular file: aura-lab reads only regular "
        f"files (save the {kind} to a file first)"
    )
    assert not (tmp_path / "t").exists()


def test_a_fifo_as_peer_trace_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "user_1_traces.jsonl")
    with pytest.raises(InputError, match="is a FIFO"):
        aura_lab.load_traces(tmp_path)


def test_dev_zero_as_corpus_is_refused_at_once(tmp_path, capsys):
    code, err = run_cli(["run", "--corpus", "/dev/zero", "--trace-dir", str(tmp_path), "--quiet"], capsys)
    assert code == 2 and "/dev/zero: is a character device, not a regular file" in one_line(err)


def test_an_input_over_the_size_cap_names_the_fix(tmp_path, capsys, monkeypatch):
    corpus = tmp_path / "big.jsonl"
    corpus.write_text(json.dumps({"message": "hello there, how are you today?"}) + "\n" * 2000)
    monkeypatch.setenv(MAX_INPUT_BYTES_ENV, "1000")
    code, err = run_cli(["run", "--corpus", str(corpus), "--trace-dir", str(tmp_path / "t"), "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and str(corpus) in line and "over the 1,000-byte limit" in line
    assert f"{MAX_INPUT_BYTES_ENV}=" in line


def test_a_corpus_from_stdin_for_slots(tmp_path, monkeypatch, capsys):
    import io
    import sys

    line = json.dumps({"message": "I can help with your Python code."}) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(line.encode())))
    assert cli.main(["slots", "-"]) == 0
    assert "1 of 1 messages match a template" in capsys.readouterr().out


# -- text a trace file cannot hold ------------------------------------------------------------


def test_a_lone_surrogate_in_a_corpus_line_names_file_and_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"message": "fine text here"}\n{"message": "broken \\ud800 text"}\n', encoding="utf-8")
    code, err = run_cli(["run", "--corpus", str(corpus), "--trace-dir", str(tmp_path / "t"), "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and f"{corpus}:2" in line and "lone surrogate (\\ud800) at character 7" in line


def test_peer_jsonl_with_numbers_out_of_range_names_the_line(tmp_path):
    good = {"user_id": 1, "turn": 0, "message": "hi there", "method": "brio", "compression_ratio": 1.5}
    lines = [good, {**good, "turn": 1, "original_size": 2**40}]
    (tmp_path / "user_1_traces.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(InputError, match=r"user_1_traces.jsonl:2: 'original_size' is out of range"):
        aura_lab.load_traces(tmp_path)
    (tmp_path / "user_1_traces.jsonl").write_text(json.dumps({**good, "timestamp": "9999-12-31T23:59:59"}))
    with pytest.raises(InputError, match=r"user_1_traces.jsonl:1: 'timestamp' is out of range"):
        aura_lab.load_traces(tmp_path)


# -- damaged run folders --------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return aura_lab.run(
        users=3, turns=(4, 4), think_time="0", codecs="identity", quiet=True, progress=False,
        in_process_servers=True, trace_dir=str(tmp_path_factory.mktemp("runs")), run_id="whole",
    )  # fmt: skip


def test_corrupt_truncated_and_empty_parts_are_skipped_with_a_warning_each(finished_run, tmp_path, capsys):
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(finished_run.path, folder)
    (part,) = sorted((folder / "traces").glob("part-*.parquet"))
    data = part.read_bytes()
    (folder / "traces" / "part-0000-000100.parquet").write_bytes(b"")
    (folder / "traces" / "part-0000-000101.parquet").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[4:204] = b"\xff" * 200  # the first data page's header, not the footer: no text decodes past it
    (folder / "traces" / "part-0000-000102.parquet").write_bytes(bytes(flipped))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = aura_lab.load_traces(folder)
    assert len(df) == 12  # the intact part, whole
    named = sorted(str(w.message).split(":")[0] for w in caught if issubclass(w.category, DataWarning))
    assert [n.rsplit("/", 1)[1] for n in named] == [f"part-0000-00010{i}.parquet" for i in range(3)]
    code, err = run_cli(["compare", str(folder), str(finished_run.path)], capsys)
    assert code == 0 and err.count("aura-lab: warning: ") == 3 and "Traceback" not in err


def test_a_manifest_missing_keys_still_loads_with_a_note(finished_run, tmp_path):
    import shutil

    folder = tmp_path / "handmade"
    shutil.copytree(finished_run.path, folder)
    (folder / "manifest.json").write_text(json.dumps({"run_id": "handmade"}))
    (folder / "summary.json").unlink()
    run = aura_lab.load_run(folder)
    assert run.manifest.options["corpus_weight"] == 0.3 and run.manifest.options["think_time"] == "uniform:0.1,2.0"
    assert any("no options" in note for note in run.manifest.notes)
    assert run.summary["codecs"]["identity"]["messages"] == 12


def test_a_trace_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, err = run_cli(
        ["run", "--codec", "identity", "--trace-dir", str(tmp_path / "file"), "--quiet", "--users", "1"], capsys
    )
    assert (
        code == 2 and one_line(err) == f"aura-lab: error: {tmp_path / 'file'}: the trace dir is a file (give a folder)"
    )


# -- options and URLs -------------------------------------------------------------------------


def test_peer_traces_under_a_file_are_refused_before_the_run(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "peer"
    code, err = run_cli(["run", "--peer-traces", str(target), "--trace-dir", str(tmp_path / "t"), "--quiet"], capsys)
    assert code == 2 and one_line(err).startswith(f"aura-lab: error: --peer-traces: {tmp_path / 'file'} is a file")
    assert not (tmp_path / "t").exists()


ISSUE_OPTIONS = [
    (["--workers", "1e20"], "--workers"),
    (["--warmup-messages", "1e20"], "--warmup-messages"),
    (["--users", "100000"], "--users"),
    (["--users", "1e20"], "--users"),
    (["--ramp-up", "inf"], "--ramp-up"),
    (["--timeout", "inf"], "--timeout"),
    (["--timeout", "1e308"], "--timeout"),
    (["--arrival-rate", "1e-300"], "--arrival-rate"),
    (["--codec", "identity,identity"], "--codec"),
    (["--run-id", "../../x"], "--run-id"),
    (["--run-id", "/tmp/x"], "--run-id"),
    (["--max-reply-size", "10"], "--max-reply-size"),
    (["--url", "ws://127.0.0.1:1/a b"], "--url"),
    (["--url", "ws://127.0.0.1:1/#frag"], "--url"),
]


@pytest.mark.parametrize("argv, flag", ISSUE_OPTIONS, ids=[" ".join(a) for a, _ in ISSUE_OPTIONS])
def test_options_from_the_issue_are_refused_with_one_line(tmp_path, capsys, argv, flag):
    code, err = run_cli(["run", *argv, "--trace-dir", str(tmp_path / "t"), "--quiet"], capsys)
    assert code == 2 and flag in one_line(err)
    assert not (tmp_path / "t").exists()


def test_serve_replicas_without_bound_is_refused(capsys):
    code, err = run_cli(["serve", "--replicas", "1000"], capsys)
    assert code == 2 and "--replicas: must be a whole number >= 1 and <= 64 servers" in one_line(err)


def test_wss_to_a_plain_server_fails_before_the_run(tmp_path, capsys):
    from aura_lab.servers.hosting import serve

    with serve("identity", in_process=True) as server:
        url = server.url.replace("ws://", "wss://")
        code, err = run_cli(["run", "--url", url, "--trace-dir", str(tmp_path / "t"), "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and f"{url}: the TLS handshake failed" in line and server.url in line  # the fix names ws://
    assert not (tmp_path / "t").exists()


# -- traffic ----------------------------------------------------------------------------------


def test_corpus_weights_near_the_float_limit_draw_every_line(tmp_path):
    corpus = tmp_path / "heavy.jsonl"
    corpus.write_text("\n".join(json.dumps({"message": f"line number {i} here", "weight": 1.7e308}) for i in range(3)))
    loaded = load_corpus(corpus)
    rng = random.Random(5)
    drawn = Counter(loaded.sample("ai", 1, 100, rng).line for _ in range(3000))
    assert set(drawn) == {1, 2, 3} and min(drawn.values()) > 800, drawn


def test_template_matching_of_a_many_slot_pattern_ends(tmp_path):
    """Exponential backtracking took the regex minutes here; the time limit of this
    module fails the test if it comes back (speed itself: benchmarks/matching.py)."""
    library = PatternLibrary({1: " ".join(f"{{{i}}}" for i in range(10)) + " end", 2: "{0} and {1} or {0}"})
    words = " ".join(["word"] * 60)
    assert library.match(words) is None
    assert library.match(words + " end") == (1, ["word"] * 9 + [" ".join(["word"] * 51)])
    assert library.match(" and ".join(["a"] * 5000)) is None  # a repeated slot: bounded tries


@pytest.mark.parametrize("command", ["report", "profile", "slots"])
def test_an_output_path_that_cannot_be_written_is_refused_before_the_work(tmp_path, capsys, command):
    """``-o`` naming a folder, or a file in a folder that does not exist: one line and
    exit 2 before anything is done (it was a traceback once the work was done)."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "hello there"}\n', encoding="utf-8")
    source = {"report": tmp_path / "no-run-needed", "profile": corpus, "slots": corpus}[command]
    for output, said in ((tmp_path, "is a folder"), (tmp_path / "nowhere" / "x.out", "does not exist")):
        assert cli.main([command, str(source), "-o", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("aura-lab: error: -o: ") and said in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["realism", "run", "replay"])
def test_logs_without_one_chat_message_name_the_file_and_what_was_found(tmp_path, capsys, command):
    """A reference (or a replay) with nothing usable: one line naming the file and the
    counts, before anything runs. ``run --reference`` crashed with a KeyError after the
    whole run, ``realism`` at once; the replay's error named no file."""
    logs = tmp_path / "logs.json"
    logs.write_text('[{"conversations": [{"from": "robot", "value": "x"}]}]', encoding="utf-8")
    argv = {
        "realism": ["realism", "--reference", str(logs)],
        "run": ["run", "--reference", str(logs), "--users", "1", "--trace-dir", str(tmp_path / "t"), "--quiet"],
        "replay": ["replay", str(logs)],
    }[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"no conversation with a chat message in {logs}" in err and "0 chat messages" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "t").exists()


@pytest.mark.parametrize("text", ["{}", "[]"])
def test_a_template_file_without_a_template_is_one_line(tmp_path, capsys, text):
    """``{}`` as --templates was a ValueError from random.randrange deep in the generator."""
    empty = tmp_path / "templates.json"
    empty.write_text(text, encoding="utf-8")
    assert cli.main(["generate", "--n", "2", "--profile", "peer", "--templates", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aura-lab: error: {empty}: the template file holds no template") and "Traceback" not in err


@pytest.mark.parametrize(
    ("scheduler", "said"),
    [("127.0.0.1:1", "cannot reach the Dask scheduler at 127.0.0.1:1"), ("notanaddress", "not a scheduler address")],
)
def test_a_scheduler_that_cannot_be_reached_is_refused_before_the_run(tmp_path, capsys, scheduler, said):
    """Dask's 30 s timeout and its traceback (or a ValueError for a malformed address),
    after a run folder was made; now one line at once, and nothing made."""
    argv = ["run", "--users", "2", "--workers", "2", "--scheduler", scheduler, "--trace-dir", str(tmp_path / "t")]
    assert cli.main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "t").exists()


def test_a_url_with_a_password_is_refused_before_it_reaches_any_file(tmp_path):
    """``ws://user:pw@host`` was kept in the manifest, the summary and every trace record:
    run folders travel. Refused up front, the password not echoed."""
    done = subprocess.run(
        [sys.executable, "-m", "aura_lab", "run", "--url", "ws://alice:s3cret@127.0.0.1:9",
         "--trace-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "holds a password" in done.stderr, done.stderr
    assert "s3cret" not in done.stderr and not any(tmp_path.iterdir())


# -- inputs that ended in a traceback (issue 25) -------------------------------------------


def test_a_lone_surrogate_in_a_replayed_log_is_one_line_before_the_run(tmp_path, capsys):
    """``"\\ud800"`` in a log's JSON text: the run crashed on its first send (0 of 2
    records, no summary); now the log is refused with its file, line and the fix."""
    log = tmp_path / "log.jsonl"
    log.write_text('{"messages": [{"role": "user", "content": "hello there"}, '
                   '{"role": "assistant", "content": "hi \\ud800 x"}]}\n', encoding="utf-8")  # fmt: skip
    code, err = run_cli(
        ["run", "--codec", "identity", "--replay", str(log), "--trace-dir", str(tmp_path / "t")], capsys
    )
    line = one_line(err)
    assert code == 2 and f"{log}:1" in line and "lone surrogate" in line and "high-low pair" in line
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())


def test_a_toml_spec_nested_too_deep_is_one_line(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text("[traffic]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    code, err = run_cli(["experiment", str(spec)], capsys)
    line = one_line(err)
    assert code == 2 and str(spec) in line and "nested too deep" in line


def test_an_unreadable_regular_file_as_a_log_is_one_line(tmp_path, capsys):
    """/proc/self/mem is a regular file whose read fails (EIO): it was an OSError traceback."""
    code, err = run_cli(["run", "--codec", "identity", "--replay", "/proc/self/mem",
                         "--trace-dir", str(tmp_path / "t")], capsys)  # fmt: skip
    line = one_line(err)
    assert code == 2 and "/mem: cannot read the log file: Input/output error" in line


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9])
def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path, delay):
    """A real ``aura-lab run`` interrupted while it imports its sub-commands (about a
    second): it was the import's traceback; now one line and exit 130."""
    import signal
    import time

    from tests.support.processes import aura_lab as start

    process = start("run", "--codec", "identity", "--users", "1", "--messages-per-user", "2",
                    "--trace-dir", tmp_path / "t", cwd=tmp_path)  # fmt: skip
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=25)
    # 130, or ended by the SIGINT itself (-2), which a shell reports as 130 too: a rare
    # window on the way out still ends so (seen 2 times in about 40, not found yet)
    assert process.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err and "aura-lab: interrupted" in err, err
