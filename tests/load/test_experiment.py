"""``aura-lab experiment``: a tiny spec end to end (tables, text, report, manifest), common
random numbers (arms on the same traffic send identical messages), a traffic-changing
variant flagged with its divergence, claims judged against intervals, online and on Dask
with the same figures as offline, and clear errors for bad specs."""

from __future__ import annotations

import json
import re
import textwrap

import pandas as pd
import pytest

import aura_lab
from aura_lab.analysis.experiment import EXPERIMENT_METRICS
from aura_lab.cli import main
from aura_lab.errors import AuraLabError, InputError
from aura_lab.load import experiment as experiment_module
from aura_lab.load.experiment import run_experiment
from aura_lab.load.experiment_spec import read_spec, with_options

TINY = """
[experiment]
name = "tiny"
n_boot = 200

[traffic]
profile = "peer"
users = 4
seed = 3
replicates = 2
turns = [4, 8]

[baseline]
codec = ["deflate", "zstd-dict"]

[[variant]]
name = "context takeover"
codec = ["deflate-stream", "zstd-dict"]
claimed = [0.30, 0.50]

[[variant]]
name = "more corpus"
corpus_weight = 0.9
claimed = [0.0, 0.02]
"""


def write_spec(folder, text: str, name: str = "spec.toml"):
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiment")
    return run_experiment(write_spec(folder, TINY), folder / "out", quiet=True)


def test_runner_writes_every_table_and_a_self_contained_report(tiny):
    out = tiny["folder"]
    for name in ("spec.toml", "experiment.json", "results.csv", "costs.csv", "divergence.csv", "results.txt",
                 "report.html"):  # fmt: skip
        assert (out / name).is_file(), name
    manifest = json.loads((out / "experiment.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete" and len(manifest["runs"]) == manifest["planned_runs"] == 2 * 3
    results = pd.read_csv(out / "results.csv")
    assert set(results["variant"]) == {"context takeover", "more corpus"}
    assert len(results) == 2 * 2 * len(EXPERIMENT_METRICS)  # variants x codecs x metrics
    ratio = results[(results["variant"] == "context takeover") & (results["metric"] == "overall_ratio")]
    first = ratio[ratio["codec_index"] == 1].iloc[0]
    assert (first["baseline_codec"], first["codec"]) == ("deflate", "deflate-stream")
    assert first["low"] <= first["relative_delta"] <= first["high"] and first["relative_delta"] > 0.05
    same = ratio[ratio["codec_index"] == 2].iloc[0]  # zstd-dict on both sides, same messages: no change at all
    assert same["relative_delta"] == 0 and same["low"] == same["high"] == 0 and same["paired"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and not re.search(r"(src|href)=[\"']https?:", html)
    images = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', html)
    assert len(images) >= 4 and all(alt.strip() for alt in images)  # forest plots and the cost chart, described
    assert "Claimed against measured" in html
    assert "+30.0% to +50.0%" in html  # the claim as results.txt writes it (was "+30% to +50%")


def test_arms_on_the_same_traffic_send_identical_messages(tiny):
    manifest = json.loads((tiny["folder"] / "experiment.json").read_text(encoding="utf-8"))
    for replicate in (1, 2):
        texts = {}
        for record in manifest["runs"]:
            if record["replicate"] == replicate:
                rows = aura_lab.load_run(record["path"]).rows()
                texts[record["arm"]] = rows.sort_values(["user_id", "turn"])["text"].tolist()
        assert texts["baseline"] == texts["context takeover"]
        assert texts["baseline"] != texts["more corpus"]
    seeds = {r["replicate"]: r["seed"] for r in manifest["runs"]}
    assert seeds == {1: 3, 2: 4}


def test_a_traffic_changing_variant_is_flagged_with_its_divergence(tiny):
    divergence = pd.read_csv(tiny["folder"] / "divergence.csv")
    crn = divergence[divergence["variant"] == "context takeover"]
    assert crn["same"].all() and (crn["identical_share"] == 1).all()
    changed = divergence[divergence["variant"] == "more corpus"]
    assert not changed["same"].any()
    assert (changed["identical_share"] < 1).all() and changed["size_ks"].notna().all()
    assert changed["template_tv"].between(0, 1).all() and (changed["template_tv"] > 0).all()
    text = tiny["text"]
    assert "traffic changed:" in text and "same traffic (common random numbers)" in text
    results = tiny["results"]
    assert not results[results["variant"] == "more corpus"]["paired"].any()  # resampled each side on its own


def test_claims_are_judged_against_the_interval(tiny):
    text = tiny["text"]
    claim = next(line for line in text.splitlines() if "claimed +30.0% to +50.0%" in line)
    row = tiny["results"].query("variant == 'context takeover' and metric == 'overall_ratio' and codec_index == 1")
    low, high = row[["low", "high"]].iloc[0]
    expected = "below the claim" if high < 0.30 else "above the claim" if low > 0.50 else "consistent with the claim"
    assert claim.endswith(expected)


def test_costs_are_computed_and_plausible(tiny):
    costs = pd.read_csv(tiny["folder"] / "costs.csv")
    stream = costs[costs["codec"] == "deflate-stream"].iloc[0]
    plain = costs[(costs["codec"] == "deflate") & (costs["arm"] == "baseline")].iloc[0]
    assert 0 < stream["cpu_us_per_message"] < 1e5 and stream["compress_us_mean"] > 0
    assert stream["memory_bytes"] > 100_000 and plain["memory_bytes"] == 0  # a window per connection, or nothing
    assert 1 < stream["wire_ratio"] < stream["overall_ratio"]  # frame headers dilute the saving
    dictionary = costs[costs["codec"] == "zstd-dict"].iloc[0]
    assert dictionary["training_messages_overlap"] == 0 and 0 <= dictionary["training_shingles_overlap"] < 0.5


def test_online_and_on_dask_give_the_offline_figures(tiny, tmp_path):
    spec = read_spec(tiny["folder"] / "spec.toml")
    spec.traffics[0].replicates = 1
    offline = run_experiment(spec, tmp_path / "offline", quiet=True, users=2)
    # no pauses online: the figures do not depend on them, and the test stays short
    online = run_experiment(with_options(spec, think_time="0"), tmp_path / "online", online=True, quiet=True, users=2)
    dask = run_experiment(spec, tmp_path / "dask", workers=2, quiet=True, users=2)
    columns = ["variant", "codec_index", "metric", "baseline", "value"]
    ratios = offline["results"]["metric"].str.endswith("ratio")
    for other in (online, dask):
        pd.testing.assert_frame_equal(other["results"][ratios][columns], offline["results"][ratios][columns])
    runs = json.loads((tmp_path / "online" / "experiment.json").read_text(encoding="utf-8"))["runs"]
    assert all(aura_lab.load_run(r["path"]).traces["server_url"].str.startswith("ws://").all() for r in runs)


def test_a_failed_run_keeps_the_runs_before_it(tiny, tmp_path, monkeypatch):
    real = experiment_module.run_task
    calls = []

    def failing(task, runs_dir, online):
        calls.append(task)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(task, runs_dir, online)

    monkeypatch.setattr(experiment_module, "run_task", failing)
    with pytest.raises(AuraLabError, match="disk full"):
        run_experiment(tiny["folder"] / "spec.toml", tmp_path / "out", quiet=True, users=2)
    manifest = json.loads((tmp_path / "out" / "experiment.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and "disk full" in manifest["error"]
    assert len(manifest["runs"]) == 1 and aura_lab.load_run(manifest["runs"][0]["path"]).status == "complete"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[traffic]\nprofile = 'peer'\n[baseline]\ncodec = 'deflate'\n", "no \\[\\[variant\\]\\] table"),
        ("[traffic]\nusers = 2\n[baseline]\ncodec = 'deflate'\n[[variant]]\ncodec = 'aura'\n", "needs a name"),
        ("[traffic]\nuser = 2\n[baseline]\n[[variant]]\nname = 'x'\n", "unknown keys 'user'"),
        ("[traffic]\n[baseline]\ncodec = 'deflate'\n[[variant]]\nname = 'x'\ncodec = ['a', 'b']\n", "unknown codec"),
        (
            "[traffic]\n[baseline]\ncodec = 'deflate'\n[[variant]]\nname = 'x'\ncodec = ['deflate', 'brotli']\n",
            "2 codecs where the baseline has 1",
        ),
        ("[traffic]\n[baseline]\n[[variant]]\nname = 'x'\nusers = 0\n", "users: must be"),
        ("[traffic]\nreplicates = 2\nreplay = 'logs.jsonl'\n[baseline]\n[[variant]]\nname = 'x'\n", "replicates"),
        ("[traffic]\n[baseline]\n[[variant]]\nname = 'x'\nclaimed = [0.2, 0.1]\n", "claimed must be"),
        ("[traffic\n", "invalid TOML"),
    ],
)
def test_bad_specs_are_clear_errors_naming_the_file(tmp_path, text, expected):
    path = write_spec(tmp_path, text)
    with pytest.raises(InputError, match=expected) as err:
        read_spec(path)
    assert str(path) in str(err.value)


def test_a_think_time_and_a_profile_file_beside_the_spec_are_taken(tmp_path):
    """``think_time`` (a key the docs list) was refused whatever its value, and a
    relative ``profile`` file was looked for in the current folder, not the spec's."""
    from aura_lab.traffic.profile import load_profile

    (tmp_path / "profiles").mkdir()
    load_profile("peer").save(tmp_path / "profiles" / "mine.json")
    path = write_spec(tmp_path, """
        [traffic]
        profile = "profiles/mine.json"
        think_time = "uniform:0.1,0.2"
        [baseline]
        codec = "deflate"
        [[variant]]
        name = "identity"
        codec = "identity"
        """)  # fmt: skip
    spec = read_spec(path)
    options = spec.options(spec.traffics[0], spec.baseline)
    assert options["profile"] == str(tmp_path / "profiles" / "mine.json")
    assert options["think_time"] == "uniform:0.1,0.2"
    with pytest.raises(InputError, match="think_time"):
        read_spec(write_spec(tmp_path, path.read_text().replace("uniform:0.1,0.2", "uniform:5,1"), "bad.toml"))


def test_command_exit_codes_and_relative_paths(tmp_path, capsys):
    (tmp_path / "meta").mkdir()
    spec = write_spec(tmp_path, """
        [traffic]
        profile = "peer"
        users = 2
        turns = [3, 4]
        metadata = "missing.json"
        [baseline]
        codec = "deflate"
        [[variant]]
        name = "x"
        codec = "identity"
        """)  # fmt: skip
    assert main(["experiment", str(spec), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and str(tmp_path) in err  # read from the spec's folder, not the current one
    assert not (tmp_path / "out").exists()  # nothing ran
    assert main(["experiment", str(spec), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_an_interrupted_run_stops_the_experiment(tiny, tmp_path, monkeypatch):
    real = experiment_module.run_task

    def interrupted(task, runs_dir, online):
        return {**real(task, runs_dir, online), "status": "interrupted"}  # as after Ctrl-C in the run

    monkeypatch.setattr(experiment_module, "run_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny["folder"] / "spec.toml", tmp_path / "out", quiet=True, users=2)
    manifest = json.loads((tmp_path / "out" / "experiment.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted" and len(manifest["runs"]) == 1
    assert main(["experiment", str(tiny["folder"] / "spec.toml"), "-o", str(tmp_path / "out")]) == 2  # folder taken
