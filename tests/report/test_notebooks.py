"""Every notebook in notebooks/ executes on a small real run, and is stored as the style
asks: a ``parameters`` cell, no outputs, short code cells. A new notebook is picked up
by the glob (the report notebook ships inside the package); it receives whichever of the
parameters below its ``parameters`` cell declares.

The analysis notebooks get no ``run_path``: as when opened by hand and run with "Run
All", they open the latest run under ``data/traces`` of the folder they run in (here a
folder holding the two small runs, the second the newest).

Every notebook runs on the peer's trace folder too (the first small run written as the
peer writes it, with the export beside it): 01 replays its messages, 07 compares it with
the run it came from, the others take it as their run and say what it lacks."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import papermill
import pytest

import aura_lab
from aura_lab import paths
from aura_lab.report.render import execute_notebook
from tests.support.logs import write_logs

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = [*sorted((REPO / "notebooks").glob("*.ipynb")), paths.REPORT_NOTEBOOK]
# the notebooks that open a run or replay one (08 opens experiment folders, not runs)
RUN_NOTEBOOKS = [n for n in NOTEBOOKS if n.stem != "08_experiments"]
MAX_CODE_LINES = 25
TIMES: dict[str, float] = {}  # notebook -> seconds to execute


@pytest.fixture(scope="module", autouse=True)
def print_times():
    yield
    if TIMES:
        print("\nnotebook execution times on the small run:")
        for name, seconds in TIMES.items():
            print(f"  {name:<34} {seconds:5.1f} s")


def test_notebooks_found():
    assert len(NOTEBOOKS) >= 8, [n.name for n in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean(notebook):
    book = nbformat.read(str(notebook), as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])], "no cell tagged 'parameters'"
    for i, cell in enumerate(code):
        assert cell.outputs == [] and cell.execution_count is None, f"code cell {i} stored with outputs"
        lines = cell.source.count("\n") + 1
        assert lines <= MAX_CODE_LINES, f"code cell {i} has {lines} lines (max {MAX_CODE_LINES})"


@pytest.fixture(scope="module")
def reference_logs(tmp_path_factory):
    """Conversation logs standing in for a team's real ones (tests/support/logs.py)."""
    return write_logs(tmp_path_factory.mktemp("logs"), 300, seed=5)["sharegpt"]


def python_warnings(executed: Path) -> list[str]:
    """The Python warnings (``RuntimeWarning: ...``) the cells printed: a reader of the
    notebook or its HTML must not get a screen of numpy's complaints."""
    cells = nbformat.read(str(executed), as_version=4).cells
    streams = [o.get("text", "") for c in cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    return [line for text in streams for line in text.splitlines() if re.search(r"\b[A-Z]\w*Warning: ", line)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(notebook, small_run, small_run_b, reference_logs, tmp_path):
    runs = tmp_path / "data" / "traces"
    runs.mkdir(parents=True)
    older, newer = sorted((small_run, small_run_b), key=lambda r: r.manifest.started_at)
    for run in (older, newer):
        (runs / run.run_id).symlink_to(run.path, target_is_directory=True)
    available = {
        "reference": str(reference_logs),
        # 01 makes its own run: tiny, traces in tmp (an absolute path stays as it is)
        "trace_dir": str(tmp_path / "traces"),
        "users": 2,
        "turns": [2, 3],
        "warmup_messages": 0,
    }
    declared = papermill.inspect_notebook(str(notebook))
    # every analysis notebook takes a run folder as its first parameter; 01 makes the run
    assert next(iter(declared), None) == "run_path" or "trace_dir" in declared, list(declared)
    parameters = {name: value for name, value in available.items() if name in declared}
    start = time.perf_counter()
    executed = execute_notebook(notebook, tmp_path / notebook.name, parameters, cwd=tmp_path)  # failing cells raise
    TIMES[notebook.stem] = time.perf_counter() - start
    text = executed.read_text(encoding="utf-8")
    assert not python_warnings(executed)
    if "trace_dir" not in declared:  # it opened the latest run by itself (07: the two latest)
        assert newer.run_id in text
        if "run_path_b" in declared:
            assert older.run_id in text


@pytest.mark.parametrize("notebook", RUN_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_a_peer_trace_folder(notebook, peer_folder, small_run, tmp_path):
    declared = papermill.inspect_notebook(str(notebook))
    if "trace_dir" in declared:  # 01 makes a run: here, the peer's messages replayed through two codecs
        parameters = {"trace_dir": str(tmp_path / "traces"), "replay_source": str(peer_folder),
                      "codecs": "aura,deflate-stream"}  # fmt: skip
    else:
        parameters = {"run_path": str(peer_folder)}
        if "run_path_b" in declared:
            parameters["run_path_b"] = str(small_run.path)
    start = time.perf_counter()
    executed = execute_notebook(notebook, tmp_path / notebook.name, parameters, cwd=tmp_path)
    TIMES[f"{notebook.stem} (peer)"] = time.perf_counter() - start
    text = executed.read_text(encoding="utf-8")
    if "trace_dir" in declared:
        assert "replay" in text and "LOSSY" in text  # the replay checked aura's round trips: it loses messages
        return
    assert "not an aura-lab run folder" in text  # it says what a peer folder lacks
    assert "round-trip check" in text and "template provenance" in text
    if "run_path_b" in declared:  # the peer's files of a run against the run: the same figures, labelled alike
        assert "codecs in both: aura" in text and "+0.0% [+0.0%, +0.0%]" in text


@pytest.mark.parametrize("replay", ["logs", "profile"])
def test_notebook_01_replays_logs_and_profiles(replay, reference_logs, tmp_path):
    """01's offline replay takes what ``aura_lab.replay`` takes: conversation logs, or a
    profile's users from a seed; ``users`` caps both (it replayed every logged
    conversation, 3,000 for ``-p users 30``)."""
    notebook = REPO / "notebooks" / "01_run_experiment.ipynb"
    parameters = {"trace_dir": str(tmp_path / "traces"), "codecs": "deflate-stream,identity", "users": 5, "seed": 3}
    parameters |= {"replay_source": str(reference_logs)} if replay == "logs" else {"replay_profile": "assistant"}
    executed = execute_notebook(notebook, tmp_path / notebook.name, parameters, cwd=tmp_path)
    cells = nbformat.read(str(executed), as_version=4).cells
    text = " ".join(" ".join(o.get("text", "") for c in cells for o in c.get("outputs", [])).split())  # unwrapped
    said = (
        rf"\d+ logged conversations of {re.escape(str(reference_logs))}"
        if replay == "logs"
        else re.escape("profile assistant (seed 3, 5 users)")
    )
    assert re.search(f"offline replay of the {said}", text), "the run's traffic line names what was replayed"
    (run,) = (tmp_path / "traces").iterdir()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["users"] == 5  # the logs hold 300 conversations
    traces = aura_lab.load_run(run).traces
    assert traces["user_id"].nunique() == 5
    if replay == "logs":
        assert traces["conversation_id"].nunique() <= 5
