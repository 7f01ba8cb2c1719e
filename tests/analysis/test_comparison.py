"""Two runs of any kind compared (``analysis.comparison`` and ``aura-lab compare``): a
run against the peer's trace folder written from it, exports (point figures, nothing
judged, exit 3), codec labels renamed with --map, and an empty comparison that says so
(exit 2), never "no regression"."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import aura_lab
from aura_lab.analysis.comparison import compare, parse_codec_map
from aura_lab.cli import main
from aura_lab.cli.compare import EXIT_NOT_JUDGED
from aura_lab.errors import InputError


def test_a_run_against_its_own_peer_trace_folder_is_paired_and_unchanged(small_run, peer_folder):
    peer = aura_lab.load_run(peer_folder)
    assert peer.kind == "peer trace folder" and peer.primary_codec == "aura"
    comparison = compare(small_run, peer, n_boot=200)
    assert comparison.judged and set(comparison.table["codec"]) == {"aura"}  # no --map needed
    assert comparison.only_a == ["deflate-stream", "zstd-dict"] and comparison.only_b == []
    table = comparison.table.set_index("metric")
    # the peer numbers users from 1: conversations are still paired, by their texts
    assert table["paired"].all()
    for metric in ("overall_ratio", "mean_ratio", "latency_p50_ms", "error_rate"):
        assert table.loc[metric, "delta"] == 0 and table.loc[metric, "change_high"] == 0, metric
    assert pd.isna(table.loc["safe_ratio", "b"])  # the peer's traces carry no round-trip check
    assert comparison.regressions == 0
    assert "run B has no manifest.json" in comparison.text()


def test_against_an_export_only_point_figures_and_nothing_judged(small_run, peer_export_file):
    peer = aura_lab.load_run(peer_export_file)
    comparison = compare(small_run, peer)
    assert not comparison.judged and comparison.regressions is None
    assert comparison.regressions_by_codec() == {"aura": None}
    table = comparison.table.set_index("metric")
    assert table["change_low"].isna().all() and not table["regression"].any()
    assert table["note"].str.contains("no interval: run B is an export").all()
    assert table.loc["overall_ratio", "delta"] == 0
    # the peer's export has its own p99 only: the run's is taken the same way
    assert table.loc["latency_p99_ms", "a"] == table.loc["latency_p99_ms", "b"]
    for fmt in ("text", "markdown"):
        text = comparison.text(fmt=fmt)
        assert "not judged: no interval exists" in text and "no regression" not in text
        assert "by the peer's method on both sides" in text
    payload = json.loads(comparison.text(fmt="json"))
    assert payload["judged"] is False and payload["regressions"] is None


def unlabelled_peer_folder(peer_folder, tmp_path):
    """The peer's trace folder with no method only AURA uses (so labelled "peer")."""
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for path in peer_folder.glob("user_*_traces.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["method"] = "UNCOMPRESSED" if row["method"] == "UNCOMPRESSED" else "COMPRESSED"
        (folder / path.name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_runs_that_share_no_codec_say_so_and_the_map_matches_them(small_run, peer_folder, tmp_path):
    peer = aura_lab.load_run(unlabelled_peer_folder(peer_folder, tmp_path))
    assert peer.primary_codec == "peer"
    empty = compare(small_run, peer)
    assert empty.empty and empty.regressions is None
    text = empty.text()
    assert "nothing compared: the runs share no codec" in text and "no regression" not in text
    assert "--map peer=aura" in empty.why_empty()
    matched = compare(small_run, peer, codec_map={"peer": "aura"}, n_boot=100)
    assert set(matched.table["codec"]) == {"aura"} and matched.table["paired"].all()
    assert "codec labels renamed: peer -> aura" in matched.text()
    with pytest.raises(InputError, match="no codec 'nope' in either run"):
        compare(small_run, peer, codec_map={"nope": "aura"})
    with pytest.raises(InputError, match="run A would have two codecs named 'aura'"):
        compare(small_run, peer, codec_map={"zstd-dict": "aura"})


def test_codec_map_text():
    assert parse_codec_map(["external=aura", "peer = aura,x=y", ""]) == {"external": "aura", "peer": "aura", "x": "y"}
    with pytest.raises(InputError, match="--map: expected OLD=NEW, got 'external'"):
        parse_codec_map(["external"])


def test_cli_on_exports_and_peer_folders(small_run, peer_folder, peer_export_file, tmp_path, capsys):
    # a run against the peer's trace folder: judged, the same figures
    assert main(["compare", str(small_run.path), str(peer_folder), "--n-boot", "100"]) == 0
    assert "no regression" in capsys.readouterr().out
    # two exports (the issue's `aura-lab compare a/results.json b/results.json`): exit 3, said why
    assert main(["compare", str(peer_folder / "results.json"), str(peer_export_file)]) == EXIT_NOT_JUDGED
    captured = capsys.readouterr()
    assert "not judged" in captured.out and "no regression" not in captured.out
    assert "exit 3" in captured.err
    # an export against a run
    assert main(["compare", str(peer_export_file), str(small_run.path)]) == EXIT_NOT_JUDGED
    # a gate on regressions cannot pass where nothing was judged
    code = main(["compare", str(small_run.path), str(peer_export_file), "--check", "regressions==0"])
    assert code == 99 and "not judged" in capsys.readouterr().err
    # nothing shared: exit 2 with the reason and the fix; the fix works
    unlabelled = unlabelled_peer_folder(peer_folder, tmp_path)
    assert main(["compare", str(small_run.path), str(unlabelled)]) == 2
    err = capsys.readouterr().err
    assert "share no codec" in err and "--map peer=aura" in err
    assert main(["compare", str(small_run.path), str(unlabelled), "--map", "peer=aura", "--n-boot", "100"]) == 0
    assert main(["compare", str(small_run.path), str(peer_folder), "--label", "nope=aura"]) == 2
    assert "--map: no codec 'nope'" in capsys.readouterr().err
    assert main(["compare", str(peer_export_file), str(small_run.path), "--phase", "all"]) == 2
    assert "--phase: an export holds the main phase only" in capsys.readouterr().err
