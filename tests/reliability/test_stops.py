"""Reliability: whatever stops a run (a trace write that fails, too few file descriptors,
a burst of signals, a signal during start-up, SIGKILL, a second run with the same id),
every message the server answered has its record, the manifest says what happened,
and the process ends with one clear line. Real ``aura-lab`` processes against a real
server whose own ``/health`` count is the truth."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time

import pytest

import aura_lab
from aura_lab.servers.hosting import serve
from aura_lab.traces.folder import RunFolder
from tests.support.processes import aura_lab as aura_lab_process
from tests.support.processes import processes_in, served, wait_for

QUIET = ("--quiet",)
FAULTS_SEEN: dict[str, tuple[int, int]] = {}  # fault -> (messages served, records): for the report


def records(folder) -> int:
    return len(aura_lab.load_traces(folder))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.timeout(90)
def test_a_trace_write_that_fails_stops_sending_and_loses_nothing(tmp_path):
    """A file-size limit (as a full disk would) makes the part files fail: sending stops,
    what was buffered is written in smaller parts, the run says failed and exits 1."""
    templates = tmp_path / "templates.json"  # AURA's own library keeps a cache that the limit would break
    templates.write_text(json.dumps({"1": "Could you explain {0} to me?", "2": "Thanks, {0} helped."}))
    with serve("identity", in_process=True) as server:
        process = aura_lab_process(
            "run", "--url", server.url, "--users", "20", "--messages-per-user", "300", "--templates", templates,
            "--metadata", "none", "--profile", "peer", "--think-time", "uniform:0.01,0.03",
            "--trace-dir", tmp_path, "--run-id", "full",
            *QUIET,
            cwd=tmp_path,
            limits={resource.RLIMIT_FSIZE: (24_000, 24_000)},
        )  # fmt: skip
        _out, err = process.communicate(timeout=60)
        sent = served(server.url)
    assert process.returncode == 1, err
    line = one_line(err)
    assert line.startswith("aura-lab: run failed: trace write failed: cannot write ") and "File too large" in line
    manifest = RunFolder(tmp_path / "full").read_manifest()
    assert manifest.status == "failed" and "sending stopped" in manifest.error
    found = records(tmp_path / "full")
    assert found == sent  # every message the server answered has its record
    assert found < manifest.planned_messages  # and sending did stop
    FAULTS_SEEN["trace writes fail (file-size limit)"] = (sent, found)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["embedded", "url"])
def test_too_few_file_descriptors_are_refused_before_anything_starts(tmp_path, where):
    """The planned connections do not fit under ``ulimit -n``: exit 2 with the fix, no folder."""
    with serve("identity", in_process=True) as server:
        target = ("--codec", "identity,deflate") if where == "embedded" else ("--url", server.url)
        process = aura_lab_process(
            "run", *target, "--users", "300", "--trace-dir", tmp_path / "t", "--run-id", "x", *QUIET,
            cwd=tmp_path,
            limits={resource.RLIMIT_NOFILE: (256, 256)},
        )  # fmt: skip
        _out, err = process.communicate(timeout=30)
        assert served(server.url) == 0
    assert process.returncode == 2
    line = one_line(err)
    assert line.startswith("aura-lab: error: --users: 300 users x") and "ulimit -n" in line, line
    assert not (tmp_path / "t").exists()


@pytest.mark.timeout(90)
def test_a_low_soft_file_descriptor_limit_is_raised_when_the_hard_one_allows(tmp_path):
    with serve("identity", in_process=True) as server:
        process = aura_lab_process(
            "run", "--url", server.url, "--users", "400", "--messages-per-user", "2", "--think-time", "0",
            "--trace-dir", tmp_path, "--run-id", "wide", *QUIET,
            cwd=tmp_path,
            limits={resource.RLIMIT_NOFILE: (256, 4096)},
        )  # fmt: skip
        _out, err = process.communicate(timeout=60)
        sent = served(server.url)
    assert process.returncode == 0, err
    assert records(tmp_path / "wide") == sent == 800
    FAULTS_SEEN["400 users under a soft limit of 256 files"] = (sent, 800)


@pytest.mark.timeout(90)
def test_a_burst_of_signals_cannot_interrupt_the_final_writes(tmp_path):
    """The first SIGINT stops sending; thirty more SIGINT/SIGTERM within ~150 ms are noted
    and change nothing: every record is written, the manifest says interrupted."""
    with serve("identity", in_process=True) as server:
        process = aura_lab_process(
            "run", "--url", server.url, "--users", "50", "--messages-per-user", "400",
            "--think-time", "uniform:0.01,0.05", "--trace-dir", tmp_path, "--run-id", "burst", *QUIET,
            cwd=tmp_path,
        )  # fmt: skip
        assert wait_for(lambda: served(server.url) >= 1500, 30), "the users did not get going"
        process.send_signal(signal.SIGINT)
        for i in range(30):
            time.sleep(0.005)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if i % 2 else signal.SIGINT)
        _out, err = process.communicate(timeout=30)
        sent = served(server.url)
    assert process.returncode == 130, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "noted: already stopping" in err
    # one line says what happened; every other line notes a signal that changed nothing
    assert [line for line in lines if " noted: " not in line] == [
        f"aura-lab: run interrupted; traces kept in {tmp_path / 'burst'}"
    ], lines
    manifest = RunFolder(tmp_path / "burst").read_manifest()
    assert manifest.status == "interrupted" and manifest.ended_at
    assert any("more stop signal" in note for note in manifest.notes)
    found = records(tmp_path / "burst")
    assert found == sent < manifest.planned_messages
    FAULTS_SEEN["SIGINT then 30 more signals"] = (sent, found)


def test_signals_after_the_program_is_done_cannot_kill_it_on_its_way_out(tmp_path):
    """The interpreter puts the default handlers back while it exits: a Ctrl-C in that
    moment killed a finished run (returncode -2) instead of letting it exit 130. Once
    ``main`` returns, the program ignores them."""
    code = (
        "import signal, sys\n"
        "sys.argv = ['aura-lab', 'doctor', 'no-such-run']\n"
        "from aura_lab.cli import main\n"
        "code = main()\n"
        "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout.split() == ["True", "True"], done.stderr


@pytest.mark.timeout(90)
def test_a_signal_during_start_up_leaves_nothing_behind(tmp_path):
    """SIGTERM while the embedded servers start: exit 130, the manifest says interrupted,
    no scratch dir and no server process is left."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = aura_lab_process(
        "run", "--codec", "aura,zstd-dict,deflate-stream", "--trace-dir", tmp_path / "t", "--run-id", "early", *QUIET,
        cwd=tmp_path,
        env={"TMPDIR": str(scratch)},
    )  # fmt: skip
    manifest_path = tmp_path / "t" / "early" / "manifest.json"
    assert wait_for(manifest_path.exists, 30, every=0.005), "no run folder"
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    manifest = RunFolder(tmp_path / "t" / "early").read_manifest()
    assert manifest.status == "interrupted" and manifest.ended_at
    assert wait_for(lambda: processes_in(scratch) == [], 10), processes_in(scratch)
    assert list(scratch.iterdir()) == []
    FAULTS_SEEN["SIGTERM during start-up"] = (0, records(tmp_path / "t" / "early"))


def signalled_after_a_write(folder_class: str, when: str, *args, cwd) -> subprocess.CompletedProcess:
    """``aura-lab ARGS`` in a process that sends itself SIGTERM, then SIGINT (unless the
    SIGTERM has raised already), right after the first manifest write for which ``when``
    (an expression of ``data``, what was written) is true: a user's signal at the worst
    moment, every time."""
    code = f"""
import os, signal, sys
from aura_lab.traces import experiment_folder, folder

cls = {folder_class}
write = cls.write_manifest

def write_then_signal(self, manifest):
    write(self, manifest)
    data = manifest if isinstance(manifest, dict) else manifest.to_dict()
    if ({when}) and not getattr(cls, "signalled", False):
        cls.signalled = True
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # and again, impatient

cls.write_manifest = write_then_signal
sys.argv = ["aura-lab", *sys.argv[1:]]
from aura_lab.cli import main
sys.exit(main())
"""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=100
    )


@pytest.mark.timeout(60)
def test_signals_the_moment_the_run_folder_appears_leave_it_saying_interrupted(tmp_path):
    """The signal test above reacts to the first manifest on disk: when the signal came
    before the run's clean-up was armed, the folder was left saying ``running``. Here the
    signals come right after that first write, every time: exit 130, ``interrupted``,
    the second signal noted, not obeyed."""
    done = signalled_after_a_write(
        "folder.RunFolder", "data['status'] == 'running'",
        "run", "--codec", "identity", "--trace-dir", "t", "--run-id", "at-once", *QUIET, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    manifest = RunFolder(tmp_path / "t" / "at-once").read_manifest()
    assert manifest.status == "interrupted" and manifest.ended_at
    assert "interrupted during start-up, before any message was sent" in manifest.notes
    assert "1 more stop signal(s) came while the run was finishing" in manifest.notes


@pytest.mark.timeout(120)
def test_sigterm_between_an_experiments_runs_stops_it_as_ctrl_c_does(tmp_path):
    """SIGTERM between two of an experiment's runs killed the process: ``experiment.json``
    said ``running`` for ever. Now: exit 130, ``interrupted`` with the run done so far.
    (The SIGTERM raises at once here, so the SIGINT after it is never sent.)"""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[traffic]\nprofile = "peer"\nusers = 4\nseed = 2\nreplicates = 2\n\n'
        '[baseline]\ncodec = "deflate"\n\n[[variant]]\nname = "zstd"\ncodec = "zstd-dict"\n'
    )
    done = signalled_after_a_write(
        "experiment_folder.ExperimentFolder", "len(data['runs']) == 1",
        "experiment", spec, "-o", "out", *QUIET, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    manifest = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["ended_at"]
    assert manifest["error"] == "interrupted after 1 of 4 runs" and len(manifest["runs"]) == 1
    assert RunFolder(tmp_path / manifest["runs"][0]["path"]).read_manifest().status == "complete"


@pytest.mark.timeout(120)
def test_a_run_killed_hard_explains_itself_and_doctor_repairs_it(tmp_path):
    """SIGKILL mid-run: readers see ``incomplete`` with the records it had, compare warns,
    ``aura-lab doctor`` writes the repair, and the next run removes its scratch dir."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    folder = tmp_path / "t" / "killed"
    process = aura_lab_process(
        "run", "--codec", "identity", "--users", "10", "--messages-per-user", "400",
        "--think-time", "uniform:0.01,0.03", "--trace-dir", tmp_path / "t", "--run-id", "killed", *QUIET,
        cwd=tmp_path,
        env=env,
    )  # fmt: skip
    try:
        assert wait_for(lambda: len(RunFolder(folder).parts()) >= 2, 60), "no trace parts"
        url = RunFolder(folder).read_manifest().servers[0].url
        at_kill = served(url)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert [p.name for p in scratch.iterdir() if p.name.startswith("aura-lab-servers-")]  # left behind

    run = aura_lab.load_run(folder)
    assert run.status == "incomplete" and run.manifest.ended_at is not None
    assert any("killed before it finished" in note for note in run.manifest.notes)
    found = len(run.traces)
    # SIGKILL takes the records still in memory with it: at most the part being filled
    assert 0 < found <= at_kill + 10 and found < run.manifest.planned_messages

    compare = aura_lab_process("compare", folder, folder, cwd=tmp_path)
    _out, err = compare.communicate(timeout=60)
    assert "RUN_A" in err and "is incomplete" in err

    doctor = aura_lab_process("doctor", folder, cwd=tmp_path)
    out, err = doctor.communicate(timeout=60)
    assert doctor.returncode == 0 and err == "", err
    assert "status incomplete" in out and f"({found} records)" in out
    written = json.loads((folder / "manifest.json").read_text())
    assert written["status"] == "incomplete" and written["ended_at"]
    assert json.loads((folder / "summary.json").read_text())["codecs"]["identity"]["messages"] == found

    assert wait_for(lambda: processes_in(scratch) == [], 10)  # its server saw stdin close and left
    again = aura_lab_process(
        "run",
        "--codec",
        "identity",
        "--users",
        "1",
        "--turns",
        "1",
        "--trace-dir",
        tmp_path / "t",
        cwd=tmp_path,
        env=env,
    )
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "the scratch dir of a run that was killed" in out
    assert list(scratch.iterdir()) == []
    FAULTS_SEEN["SIGKILL mid-run (then doctor)"] = (at_kill, found)


@pytest.mark.timeout(90)
def test_two_runs_with_one_run_id_cannot_share_a_folder(tmp_path):
    with serve("identity", in_process=True) as server:
        argv = ("run", "--url", server.url, "--users", "5", "--messages-per-user", "30", "--think-time", "0",
                "--trace-dir", tmp_path, "--run-id", "same", *QUIET)  # fmt: skip
        runs = [aura_lab_process(*argv, cwd=tmp_path) for _ in range(2)]
        results = [(p.wait(60), p.communicate()[1]) for p in runs]
        sent = served(server.url)
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "a run with this id exists already" in one_line(loser)
    assert records(tmp_path / "same") == sent == 150
    FAULTS_SEEN["two runs, one --run-id"] = (sent, 150)


@pytest.mark.timeout(120)
def test_sigterm_during_a_replay_leaves_it_interrupted_with_its_records(tmp_path):
    """``aura-lab replay`` had no signal handling: SIGTERM killed it with the manifest
    ``running`` and 0 records. Now it stops as a run does: exit 130, ``interrupted``, every
    record of a message replayed kept, and the summary written."""
    process = aura_lab_process(
        "replay", "--profile", "assistant", "--users", "2000", "--codec", "deflate,brotli", "--trace-dir", "t",
        "--run-id", "stopped", *QUIET, cwd=tmp_path,
    )  # fmt: skip
    folder = tmp_path / "t" / "stopped"
    assert wait_for(lambda: any((folder / "traces").glob("part-*.parquet")), 60), process.communicate()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "replay interrupted" in err
    manifest = RunFolder(folder).read_manifest()
    kept = records(folder)
    assert manifest.status == "interrupted" and kept > 0 and kept < manifest.planned_messages * 2
    assert json.loads((folder / "summary.json").read_text())["codecs"]


@pytest.mark.timeout(60)
def test_signals_the_moment_a_replay_folder_appears_leave_it_saying_interrupted(tmp_path):
    done = signalled_after_a_write(
        "folder.RunFolder", "data['status'] == 'running'",
        "replay", "--profile", "assistant", "--users", "3", "--codec", "deflate", "--trace-dir", "t",
        "--run-id", "at-once", *QUIET, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr
    manifest = RunFolder(tmp_path / "t" / "at-once").read_manifest()
    assert manifest.status == "interrupted" and manifest.ended_at


@pytest.mark.timeout(120)
@pytest.mark.parametrize("moment", ["data['status'] == 'complete'", "data['status'] == 'running'"])
def test_a_signal_during_an_experiments_run_stops_the_experiment(tmp_path, moment):
    """A single SIGTERM (then SIGINT) while one of an experiment's runs is finishing (its
    manifest just said complete: the run keeps its records and calls itself complete) or
    starting: the run's own stop took the signal and the experiment went on to the end,
    ``complete``, exit 0, 4 times in 6. Now the experiment stops after that run."""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[traffic]\nprofile = "peer"\nusers = 4\nseed = 2\nreplicates = 2\n\n'
        '[baseline]\ncodec = "deflate"\n\n[[variant]]\nname = "zstd"\ncodec = "zstd-dict"\n'
    )
    done = signalled_after_a_write(
        "folder.RunFolder", moment, "experiment", spec, "-o", "out", *QUIET, cwd=tmp_path
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    manifest = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert manifest["status"] == "interrupted" and len(manifest["runs"]) <= 1, manifest
