"""``aura-lab compare`` on real runs: two runs that differ only in their seed show no
regression; a codec made 20 % worse (a real server whose sizes are 25 % larger) shows
one; set-up differences are listed and ``--strict`` refuses them; the formats parse."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import aura_lab
from aura_lab.cli import main
from tests.support.servers import PeerServer, WorseServer

pytestmark = pytest.mark.timeout(180)


def _run_process(url: str, seed: int, folder, run_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aura_lab", "run", "--url", url, "--seed", str(seed), "--users", "8", "--turns",
         "6-10", "--think-time", "0", "--trace-dir", str(folder), "--run-id", run_id, "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=folder,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs against real servers on 127.0.0.1: seeds 1 and 2 on one server, and
    seed 1 again on a server whose compressed sizes are 1.25 times larger. Each run is its
    own ``aura-lab run`` process; the first two run side by side."""
    folder = tmp_path_factory.mktemp("compare")
    with PeerServer() as good, WorseServer(1.25) as worse:
        pair = [_run_process(good.url, seed, folder, f"seed{seed}") for seed in (1, 2)]
        for process in pair:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
        process = _run_process(worse.url, 1, folder, "worse")
        assert process.wait(timeout=120) == 0
    return tuple(aura_lab.load_run(folder / name) for name in ("seed1", "seed2", "worse"))


def test_two_seeds_of_the_same_set_up_show_no_regression(runs, capsys):
    base, other, _ = runs
    code = main(["compare", str(base.path), str(other.path), "--n-boot", "500"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "no regression" in out and "latency shown, not judged" in out
    # the seed is the one set-up difference, and it is said
    assert "set-up differs in 1 setting(s)" in out and "seed: A 1, B 2" in out


def test_a_codec_made_20_percent_worse_is_a_regression(runs, capsys):
    base, _, worse = runs
    code = main(["compare", str(base.path), str(worse.path), "--n-boot", "500", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 1
    payload = json.loads(out)
    ratio = next(r for r in payload["rows"] if r["metric"] == "overall_ratio")
    assert ratio["paired"] is True  # same seed: the same conversations, paired draws
    assert ratio["regression"] is True and ratio["change_high"] < -0.10
    assert -0.25 < ratio["relative_delta"] < -0.10
    assert payload["regressions"] >= 1
    assert any(d["setting"] == "urls" for d in payload["differences"])  # another server


def test_strict_refuses_runs_set_up_differently_and_markdown_is_a_table(runs, capsys):
    base, other, _ = runs
    assert main(["compare", str(base.path), str(other.path), "--strict", "--n-boot", "50"]) == 2
    err = capsys.readouterr().err
    assert "--strict" in err and "seed" in err
    assert main(["compare", str(base.path), str(other.path), "--seed", "-1"]) == 2  # was numpy's traceback
    assert "--seed: must be a whole number >= 0" in capsys.readouterr().err
    assert main(["compare", str(base.path), str(base.path), "--strict", "--n-boot", "50", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### aura-lab compare") and "| codec | metric |" in out
    assert "set up alike" in out


def test_compare_checks_exit_99(runs, capsys):
    base, _, worse = runs
    code = main(["compare", str(base.path), str(worse.path), "--n-boot", "200", "--check", "regressions==0"])
    err = capsys.readouterr().err
    assert code == 99 and "check FAILED: regressions==0: regressions = " in err
