"""The peer's export JSON: what aura-lab writes under the peer's keys is what the peer
writes there (type and statistic), aura-lab's own figures are under its own keys, and
both kinds of export read back (``load_export``, ``load_run``)."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

import aura_lab
from aura_lab.analysis import metrics
from aura_lab.analysis.export import peer_export
from aura_lab.analysis.summary import LENGTH_BUCKETS, PEER_LENGTH_BUCKETS, summarise_codec
from aura_lab.errors import InputError
from aura_lab.traces.peer import load_export
from aura_lab.traces.schema import empty_frame

NUMBER = (int, float)


def read_as_the_peer_does(export: dict) -> dict:
    """What a script written for the peer's export expects of each of its keys: the
    peer's types (floats per length bucket, a boolean warmup, a zone-less timestamp)."""
    when = datetime.fromisoformat(export["timestamp"])
    assert when.tzinfo is None  # local time, no zone
    config = export["config"]
    assert isinstance(config["num_users"], int) and not isinstance(config["num_users"], bool)
    assert isinstance(config["warmup"], bool)
    assert isinstance(config["server_url"], str)
    for key in ("total_time", "total_messages", "messages_per_second", "success_rate", "errors",
                "overall_compression_ratio", "bandwidth_saved_percent"):  # fmt: skip
        assert isinstance(export["summary"][key], NUMBER), key
    for key in ("average_ms", "median_ms", "min_ms", "max_ms", "p95_ms", "p99_ms"):
        assert isinstance(export["latencies"][key], float), key
    compression = export["compression"]
    for key in ("total_original_size", "total_compressed_size"):
        assert isinstance(compression[key], int), key
    for key in ("overall_ratio", "ai_ratio", "human_ratio"):
        assert isinstance(compression[key], float), key
    assert all(isinstance(n, int) for n in compression["method_counts"].values())
    buckets = compression["length_buckets"]
    assert buckets and all(isinstance(value, float) for value in buckets.values()), buckets
    return {"when": when, "buckets": buckets}


def test_our_export_reads_with_the_peers_types_and_statistics(small_run):
    export = json.loads(json.dumps(peer_export(small_run), default=str))  # as the file holds it
    read = read_as_the_peer_does(export)
    # the local end time of the run, as the peer writes datetime.now() at its end
    ended = datetime.fromisoformat(small_run.manifest.ended_at).astimezone().replace(tzinfo=None)
    assert read["when"] == ended
    assert export["config"]["warmup"] is True and export["config"]["warmup_messages"] == 20
    rows = small_run.rows(ok=True)
    latencies = np.sort(rows["latency_ms"].dropna().to_numpy(float))
    n = latencies.size
    assert export["latencies"]["p95_ms"] == latencies[int(n * 0.95)]  # the peer's sorted[int(n * q)]
    assert export["latencies"]["p99_ms"] == latencies[int(n * 0.99)]
    sized = metrics.sized(small_run.rows())
    assert set(read["buckets"]) <= {label for _, _, label in PEER_LENGTH_BUCKETS}  # the peer's buckets: 500+
    for low, high, label in PEER_LENGTH_BUCKETS:
        part = sized[(sized["length_bytes"] >= low) & (sized["length_bytes"] < high)]
        if part.empty:
            assert label not in read["buckets"]  # the peer leaves an empty bucket out: never null
        else:  # the mean of the per-message ratios, not the bytes ratio
            assert read["buckets"][label] == pytest.approx(part["ratio"].mean())
    ours = export["aura_lab"]
    primary = small_run.summary["codecs"][small_run.primary_codec]
    assert ours["latencies"]["p99_ms"] == primary["latency_ms"]["p99"]  # interpolated, and said so
    assert "interpolation" in ours["latencies"]["percentile_method"]
    assert "sorted(values)[int(n * q)]" in ours["peer_keys"]["latencies"]
    buckets = ours["length_buckets"]["buckets"]
    assert [b for b in buckets] == [label for _, _, label in LENGTH_BUCKETS]
    assert sum(b["count"] for b in buckets.values()) == len(sized)
    assert all(b["ratio"] is None for b in buckets.values() if not b["count"])
    assert "sum of original bytes" in ours["length_buckets"]["ratio_method"]


def test_the_peers_500_plus_bucket_holds_both_long_buckets(tmp_path):
    """The peer's export has one bucket from 500 bytes up where the summary has two
    (500-2000, 2000+): under the peer's key, the mean ratio of every long message."""
    run = aura_lab.run(users=3, think_time="0", codecs="deflate-stream", in_process_servers=True, quiet=True,
                       progress=False, seed=3, trace_dir=str(tmp_path))  # fmt: skip
    export = json.loads(json.dumps(peer_export(run), default=str))
    sized = metrics.sized(run.rows())
    long = sized[sized["length_bytes"] >= 500]
    assert (long["length_bytes"] < 2000).any() and (long["length_bytes"] >= 2000).any()  # both of ours
    buckets = read_as_the_peer_does(export)["buckets"]
    assert "500-2000" not in buckets and "2000+" not in buckets
    assert buckets["500+"] == pytest.approx(long["ratio"].mean())
    ours = export["aura_lab"]["length_buckets"]["buckets"]
    assert ours["500-2000"]["count"] + ours["2000+"]["count"] == len(long)


def test_the_peers_export_loads_as_a_run_with_its_figures(small_run, peer_export_file):
    run = aura_lab.load_run(peer_export_file)
    assert run.kind == "peer export" and not run.has_records and run.traces.empty
    assert run.primary_codec == "aura"  # its method counts show AURA's methods
    figures = run.summary["codecs"]["aura"]
    ours = small_run.summary["codecs"]["aura"]
    assert set(figures) == set(summarise_codec(empty_frame()))  # every key a summary has
    assert figures["overall_ratio"] == ours["overall_ratio"]
    assert figures["messages"] == ours["messages"] and figures["errors"] == ours["errors"]
    assert figures["template_hit_rate"] == pytest.approx(ours["template_hit_rate"])  # BINARY_SEMANTIC share
    # what an export does not hold is unknown, never 0
    assert figures["safe_ratio"] is None and figures["loss"]["status"] == metrics.NOT_CHECKED
    assert figures["reconnects"] is None and figures["latency_ms"]["p90"] is None
    assert "No verdict" in run.summary["verdict"]["lines"][0]
    assert any("per-message records" in m for m in run.missing)
    text = run.summary_text()
    assert "(mean)" in text  # the peer's bucket figure is the mean of ratios, and says so
    assert "ratio 500+ bytes" in text and "ratio 2000+ bytes" not in text  # under the peer's buckets
    given = json.loads(peer_export_file.read_text())["compression"]["length_buckets"]
    read = {b["bucket"]: b["mean_ratio"] for b in figures["length_buckets"] if b["mean_ratio"] is not None}
    assert read == pytest.approx(given)
    assert "sorted(values)[int(n * q)]" in " ".join(text.split())  # wrapped at 100 columns


def test_our_export_loads_back_with_every_codec(small_run, peer_folder):
    run = aura_lab.load_run(peer_folder / "results.json")
    assert run.kind == "aura-lab export"
    assert run.codecs == small_run.codecs
    assert run.summary["codecs"] == json.loads(json.dumps(small_run.summary["codecs"], default=str))
    assert run.option("users") == small_run.manifest.options["users"]  # its options are in the export


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda e: e["config"].update(warmup="yes"), "'config.warmup' must be a boolean or null, got 'yes'"),
        (lambda e: e["latencies"].update(p99_ms="slow"), "'latencies.p99_ms' must be a number or null"),
        (
            lambda e: e["compression"]["length_buckets"].update({"<50": "low"}),
            "'compression.length_buckets.<50' must be a number or null",
        ),
        (lambda e: e["compression"]["method_counts"].update(BRIO=True), "'compression.method_counts.BRIO'"),
        (lambda e: e.pop("summary"), "not the peer's export JSON"),
    ],
)
def test_a_bad_export_names_the_file_and_the_key(peer_export_file, tmp_path, change, words):
    export = json.loads(peer_export_file.read_text())
    change(export)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(export))
    with pytest.raises(InputError) as caught:
        load_export(path)
    assert words in str(caught.value) and str(path) in str(caught.value)


def test_an_earlier_aura_lab_export_still_loads(peer_export_file, tmp_path):
    """aura-lab's exports used to hold ``{count, ratio}`` per bucket (a bytes ratio) and
    the warmup's message count: read, but the bucket is not taken for the peer's mean."""
    export = json.loads(peer_export_file.read_text())
    export["config"]["warmup"] = 20
    export["compression"]["length_buckets"] = {"<50": {"count": 3, "ratio": 0.9}, "500+": None}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(export))
    assert load_export(path).length_buckets() == {"<50": None, "500+": None}
