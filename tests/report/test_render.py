"""``aura-lab report RUN``: one self-contained HTML file per run."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

import aura_lab
from aura_lab.cli import main

# the elements (not the stylesheet rules) of code cells and their "In [ ]:" prompts
CODE_CELL = re.compile(r'class="[^"]*\bjp-InputArea\b')
PROMPT = re.compile(r'class="[^"]*\bjp-InputPrompt\b')
PYTHON_WARNING = re.compile(r"\b[A-Z]\w*Warning: ")  # RuntimeWarning: ..., as a cell's stderr prints it


def primary_ratio(run) -> str:
    codec = run.primary_codec
    return f"{run.summary['codecs'][codec]['overall_ratio']:.3f}"


@pytest.fixture(scope="module")
def small_report(small_run, tmp_path_factory):
    """``aura-lab report`` on the small run, once for the tests that read its HTML: the
    exit code, the file, and what the command wrote to stdout and stderr (its own process,
    so the kernel's output is in them too)."""
    html_file = tmp_path_factory.mktemp("report") / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "aura_lab", "report", str(small_run.path), "-o", str(html_file)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, html_file, done.stdout, done.stderr


def test_report_html(small_run, small_report):
    code, html_file, out, err = small_report
    assert code == 0
    assert str(html_file) in out
    assert "WARNING" not in err and "without encryption" not in err, err
    html = html_file.read_text(encoding="utf-8")
    assert small_run.run_id in html
    assert html.count("data:image/png;base64") >= 5
    assert primary_ratio(small_run) in html  # the summary's overall ratio of the primary codec
    assert not CODE_CELL.search(html) and not PROMPT.search(html)
    assert "load_run(" not in html
    # the verdict comes first, before any chart
    assert html.index(">Verdict<") < html.index("<img")
    assert "saves the most bandwidth losslessly" in html
    # no Python warning printed by a cell reaches the reader (a churn table's n_boot=1 once
    # filled a screen with numpy's "Degrees of freedom <= 0")
    assert not PYTHON_WARNING.search(html), PYTHON_WARNING.search(html)


def test_report_is_self_contained_with_alt_text(small_run, small_report):
    """Nothing is fetched when the file opens (no script, stylesheet or font from the
    network: require.js and MathJax are gone), and every chart has its alt text."""
    code, html_file, _out, _err = small_report
    assert code == 0
    html = html_file.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"<link[^>]*\bhref=\"?https?:", html)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html)
    assert "require.js" not in html and "MathJax" not in html
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) >= 5
    for image in images:
        alt = re.search(r'alt="([^"]*)"', image)
        assert alt and len(alt.group(1)) > 20, image[:80]
    codec = small_run.primary_codec
    if small_run.summary["codecs"][codec]["lossy"]:  # the ratio chart says which codec is lossy
        assert f"{codec} LOSSY" in html


def test_report_of_the_default_traffic(tmp_path):
    """The default (assistant) profile: the header says what the traffic was; the
    template sections say why they are empty instead of drawing empty axes; the size
    buckets reach 2000+ bytes."""
    run = aura_lab.run(users=3, think_time="0", codecs="deflate-stream,identity", in_process_servers=True,
                       quiet=True, progress=False, seed=2, trace_dir=str(tmp_path), run_id="assistant")  # fmt: skip
    html_file = tmp_path / "report.html"
    assert main(["report", str(run.path), "-o", str(html_file)]) == 0
    html = html_file.read_text(encoding="utf-8")
    assert "Traffic: profile assistant; every message whole." in html
    assert "No message of this run was built from a template" in html
    assert "Churn does not apply" in html
    assert "mean ratio per template" not in html and "Heatmap of mean ratio" not in html  # no empty charts
    assert "500-2000" in html and "2000+" in html
    assert html.index("Traffic: profile assistant") < html.index(">Verdict<") < html.index("<img")


def test_report_show_code(small_run, tmp_path):
    html_file = tmp_path / "with-code.html"
    assert main(["report", str(small_run.path), "-o", str(html_file), "--show-code"]) == 0
    html = html_file.read_text(encoding="utf-8")
    assert CODE_CELL.search(html) and "load_run" in html


def test_report_bad_run_path(tmp_path, capsys):
    assert main(["report", str(tmp_path / "no-such-run"), "-o", str(tmp_path / "x.html")]) == 2
    assert "no-such-run" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_report_on_the_peer_trace_folder_and_on_an_export(peer_folder, peer_export_file, tmp_path, capfd):
    """``aura-lab report`` takes the peer's trace folder and an export alone, and says
    what each lacks instead of failing (the peer's export: no records, so no charts over
    messages, and no verdict)."""
    folder_html = tmp_path / "peer.html"
    assert main(["report", str(peer_folder), "-o", str(folder_html)]) == 0
    html = folder_html.read_text(encoding="utf-8")
    assert "peer trace folder" in html and "not an aura-lab run folder" in html
    assert "codec label" in html and "aura" in html and "not checked" in html
    assert html.count("data:image/png;base64") >= 3
    assert "no record names the template" in html
    assert main(["report", str(peer_export_file)]) == 0
    out, _ = capfd.readouterr()
    beside = peer_export_file.parent / f"report-{peer_export_file.stem}.html"
    assert str(beside) in out and beside.is_file()  # beside the export: it has no run folder
    html = beside.read_text(encoding="utf-8")
    assert "peer export" in html and "No verdict" in html and "Not drawn: an export holds totals only" in html
    assert "not checked" in html and "per-message records" in html


def summary_only(small_run, folder):
    """``folder`` holding the small run's manifest and summary and none of its records."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "summary.json"):
        (folder / name).write_bytes((small_run.path / name).read_bytes())
    return folder


def report_of(folder, html) -> subprocess.CompletedProcess:
    """``aura-lab report FOLDER -o HTML`` in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "aura_lab", "report", str(folder), "-o", str(html)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_report_on_a_run_folder_that_lost_its_traces_is_one_line(small_run, tmp_path):
    """A manifest and a summary but no ``traces/``: the notebook's kernel stopped on it
    and the user got papermill's traceback; now the kernel's InputError, one line, exit 2."""
    folder = summary_only(small_run, tmp_path / "lost")
    done = report_of(folder, tmp_path / "x.html")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"aura-lab: error: {folder}: ") and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.html").exists()


def test_report_on_a_run_folder_whose_traces_were_emptied_is_one_line(small_run, tmp_path):
    """An empty ``traces/`` beside a summary that counts records: the report said the run
    was complete and drew nothing (issue 25). Now one line naming it, exit 2, no HTML."""
    folder = summary_only(small_run, tmp_path / "emptied")
    (folder / "traces").mkdir()
    done = report_of(folder, tmp_path / "x.html")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "traces/ holds no trace part" in done.stderr and not (tmp_path / "x.html").exists()


def busy_cores(n: int) -> list[subprocess.Popen]:
    """``n`` processes that spin on the CPU, to load the machine beside a test."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def test_the_kernel_never_writes_to_the_commands_terminal(tmp_path):
    """Whatever the kernel prints on its own stdout and stderr (ipykernel's log lines, a
    library's noise) goes to its log, not to the terminal of the command that started it:
    ``jupyter_client`` interrupts a kernel before shutting it down, and under load the
    kernel logged "KeyboardInterrupt caught in kernel." before ``report``'s own line."""
    notebook = tmp_path / "noisy.ipynb"
    noise = (
        "import os, sys\nos.write(1, b'KERNEL-STDOUT\\n')\nos.write(2, b'KERNEL-STDERR\\n')\n"
        "print('KERNEL-LOG', file=sys.__stderr__, flush=True)"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(noise)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, str(notebook))
    script = (
        "import sys; from aura_lab.report.render import execute_notebook; "
        "execute_notebook(sys.argv[1], sys.argv[2], {'x': 2}, cwd=sys.argv[3]); print('done')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(notebook), str(tmp_path / "out.ipynb"), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n" and done.stderr == "", (done.stdout, done.stderr)
    assert not list(tmp_path.glob("*.log"))  # the log lives in the execution's scratch, not in cwd


def test_report_prints_only_its_own_lines_under_load(small_run, tmp_path):
    """The issue-29 failure, provoked: ``report`` on a folder that lost its traces, five
    times with both cores kept busy beside it; stderr is its one line every time."""
    folder = summary_only(small_run, tmp_path / "lost")
    spinners = busy_cores(2)
    try:
        for attempt in range(5):
            done = report_of(folder, tmp_path / "x.html")
            lines = done.stderr.splitlines()
            assert done.returncode == 2 and done.stdout == "", (attempt, done.stdout, done.stderr)
            assert len(lines) == 1 and lines[0].startswith(f"aura-lab: error: {folder}: "), (attempt, done.stderr)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_report_refuses_what_is_not_a_run_with_the_fix(tmp_path, capsys):
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    assert main(["report", str(tmp_path / "notes.json")]) == 2
    err = capsys.readouterr().err
    assert "notes.json" in err and "not the peer's export JSON" in err
    assert main(["report", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_report_on_our_export_never_says_nothing_was_lost(small_run, peer_folder, tmp_path):
    """aura-lab's export holds every codec's figures but no records: the report shows its
    verdict and loss table, and says the per-message tables cannot be drawn, never "no
    lossy message" while the export counts lossy ones."""
    html_file = tmp_path / "ours.html"
    assert main(["report", str(peer_folder / "results.json"), "-o", str(html_file)]) == 0
    html = html_file.read_text(encoding="utf-8")
    assert "aura-lab export" in html and "saves the most bandwidth losslessly" in html
    assert small_run.summary["codecs"]["aura"]["lossy"] and "aura LOSSY" in html
    assert "No lossy message" not in html and "Not drawn: an export holds totals only" in html
