"""``aura-lab report RUN``: one self-contained HTML file per run."""

from __future__ import annotations

import re

from aura_lab.cli import main

# the elements (not the stylesheet rules) of code cells and their "In [ ]:" prompts
CODE_CELL = re.compile(r'class="[^"]*\bjp-InputArea\b')
PROMPT = re.compile(r'class="[^"]*\bjp-InputPrompt\b')


def primary_ratio(run) -> str:
    codec = run.primary_codec
    return f"{run.summary['codecs'][codec]['overall_ratio']:.3f}"


def test_report_html(small_run, tmp_path, capsys):
    html_file = tmp_path / "report.html"
    assert main(["report", str(small_run.path), "-o", str(html_file)]) == 0
    assert str(html_file) in capsys.readouterr().out
    html = html_file.read_text(encoding="utf-8")
    assert small_run.run_id in html
    assert html.count("data:image/png;base64") >= 5
    assert primary_ratio(small_run) in html  # the summary's overall ratio of the primary codec
    assert not CODE_CELL.search(html) and not PROMPT.search(html)
    assert "load_run(" not in html


def test_report_show_code(small_run, tmp_path):
    html_file = tmp_path / "with-code.html"
    assert main(["report", str(small_run.path), "-o", str(html_file), "--show-code"]) == 0
    html = html_file.read_text(encoding="utf-8")
    assert CODE_CELL.search(html) and "load_run" in html


def test_report_bad_run_path(tmp_path, capsys):
    assert main(["report", str(tmp_path / "no-such-run"), "-o", str(tmp_path / "x.html")]) == 2
    assert "no-such-run" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
