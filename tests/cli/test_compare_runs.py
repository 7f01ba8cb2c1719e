"""``aura-lab compare`` on real runs: two runs that differ only in their seed show no
regression; a codec made 20 % worse (a real server whose sizes are 25 % larger) shows
one; set-up differences are listed and ``--strict`` refuses them; the formats parse."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

import aura_lab
from aura_lab.cli import main
from tests.support.servers import PeerServer, WorseServer

pytestmark = pytest.mark.timeout(180)

OPTIONS = dict(users=8, turns=(6, 10), think_time="0", quiet=True, warmup_messages=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs against real servers on 127.0.0.1: seeds 1 and 2 on one server, at the
    same time (so the machine's load, which no interval over conversations can see, is
    the same for both: their latencies are comparable), and seed 1 again on a server
    whose compressed sizes are 1.25 times larger."""
    folder = tmp_path_factory.mktemp("compare")
    with PeerServer() as good, WorseServer(1.25) as worse:
        with ThreadPoolExecutor(2) as pool:
            pair = [
                pool.submit(
                    aura_lab.run, **OPTIONS, urls=good.url, seed=seed, trace_dir=str(folder), run_id=f"seed{seed}"
                )
                for seed in (1, 2)
            ]
            base, other = (future.result() for future in pair)
        worse_run = aura_lab.run(**OPTIONS, urls=worse.url, seed=1, trace_dir=str(folder), run_id="worse")
    return base, other, worse_run


def test_two_seeds_of_the_same_set_up_show_no_regression(runs, capsys):
    base, other, _ = runs
    code = main(["compare", str(base.path), str(other.path), "--n-boot", "500"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "no regression" in out
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
    assert main(["compare", str(base.path), str(base.path), "--strict", "--n-boot", "50", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### aura-lab compare") and "| codec | metric |" in out
    assert "set up alike" in out


def test_compare_checks_exit_99(runs, capsys):
    base, _, worse = runs
    code = main(["compare", str(base.path), str(worse.path), "--n-boot", "200", "--check", "regressions==0"])
    err = capsys.readouterr().err
    assert code == 99 and "check FAILED: regressions==0: regressions = " in err
