"""``--workers N``: users sharded over a Dask LocalCluster send the one-process traffic."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
import warnings

import pytest

import aura_lab
from aura_lab.cli import main
from aura_lab.traces.folder import RunFolder
from tests.support.logs import write_logs

pytestmark = pytest.mark.timeout(90)

OPTIONS = dict(
    users=5, turns=(3, 5), think_time="0", quiet=True, seed=21, codecs=("deflate", "identity"), in_process_servers=True
)


def keyed(df):
    return (
        df.sort_values(["codec", "user_id", "turn"])[
            ["codec", "user_id", "turn", "text", "role", "source", "original_size", "compressed_size"]
        ]
        .astype(str)
        .reset_index(drop=True)
    )


def test_two_workers_send_the_same_messages_as_one_process(tmp_path):
    one = aura_lab.run(**OPTIONS, trace_dir=str(tmp_path), run_id="one")
    two = aura_lab.run(**OPTIONS, trace_dir=str(tmp_path), run_id="two", workers=2)
    assert two.status == "complete"
    assert len(two.traces) == len(one.traces) == one.manifest.planned_messages * 2
    assert keyed(two.traces).equals(keyed(one.traces))  # texts, and deflate's sizes too
    workers = two.manifest.workers
    assert workers["shards"] == 2 and workers["scheduler"] == "LocalCluster"
    results = sorted(workers["results"], key=lambda r: r["shard"])
    assert [r["users"] for r in results] == [3, 2]  # users 0, 2, 4 and 1, 3
    assert sum(r["written"] for r in results) == len(two.traces)
    assert two.manifest.planned_messages == one.manifest.planned_messages
    shards = {int(p.name.split("-")[1]) for p in (two.path / "traces").glob("part-*.parquet")}
    assert shards == {1, 2}  # each worker wrote its own parts
    assert two.summary["codecs"]["deflate"]["messages"] == one.summary["codecs"]["deflate"]["messages"]
    # the client's own cost, measured in each shard (as in one process) and over them all
    assert all(r["client"]["messages"] == r["written"] // 2 and r["client"]["cpu_s"] > 0 for r in results)
    client = two.manifest.client
    assert client["shards"] == 2 and client["messages"] == one.manifest.client["messages"]
    assert client["cpu_s"] == sum(r["client"]["cpu_s"] for r in results)
    assert "each of 2 shards on its own, Dask's threads in it" in " ".join(
        two.summary_text().split()
    )  # wrapped at 100 columns


def test_a_replay_sharded_over_workers_sends_the_logged_texts(tmp_path):
    """Each shard reads the logs again (absolute paths) and plays its own conversations."""
    logs = write_logs(tmp_path / "logs", 6, seed=4, oddities=False)["openai"]
    options = {k: v for k, v in OPTIONS.items() if k not in ("users", "turns", "seed")}
    one = aura_lab.run(**options, replay=str(logs), trace_dir=str(tmp_path), run_id="one")
    two = aura_lab.run(**options, replay=str(logs), trace_dir=str(tmp_path), run_id="two", workers=2)
    assert two.status == "complete" and len(two.traces) == len(one.traces) == one.manifest.planned_messages * 2
    assert keyed(two.traces).equals(keyed(one.traces))
    assert set(two.traces["conversation_id"]) == {f"oa-4-{i:06d}" for i in range(6)}


def test_workers_from_the_command_line_with_warmup(tmp_path):
    code = main(
        [
            "run",
            "--workers",
            "2",
            "--codec",
            "deflate",
            "--users",
            "4",
            "--turns",
            "3-4",
            "--think-time",
            "0",
            "--warmup-messages",
            "5",
            "--seed",
            "21",
            "--trace-dir",
            str(tmp_path),
            "--run-id",
            "cli",
            "--quiet",
        ]
    )
    assert code == 0
    run = aura_lab.load_run(tmp_path / "cli")
    manifest = RunFolder(tmp_path / "cli").read_manifest()
    assert manifest.status == "complete" and manifest.workers["shards"] == 2
    df = run.traces
    assert (df["phase"] == "warmup").sum() == 5  # the main process's warmup, shard 0
    main_phase = df[df["phase"] == "main"]
    assert sorted(main_phase["user_id"].unique()) == [0, 1, 2, 3]
    assert not main_phase.duplicated(["user_id", "turn"]).any()
    assert run.summary["codecs"]["deflate"]["messages"] == len(main_phase)


def test_sigint_reaches_every_worker(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aura_lab",
            "run",
            "--workers",
            "2",
            "--codec",
            "identity",
            "--users",
            "4",
            "--turns",
            "50-50",
            "--think-time",
            "uniform:0.05,0.1",
            "--trace-dir",
            str(tmp_path),
            "--run-id",
            "w",
            "--quiet",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any((tmp_path / "w" / "traces").glob("part-*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    manifest = RunFolder(tmp_path / "w").read_manifest()
    assert manifest.status == "interrupted"
    results = manifest.workers["results"]
    assert [r["stop_reason"] for r in results] == ["interrupted", "interrupted"]
    df = aura_lab.load_traces(tmp_path / "w")
    assert len(df) == sum(r["written"] for r in results) < manifest.planned_messages
    assert not df.duplicated(["user_id", "turn"]).any()
    for _, part in df.groupby("user_id"):
        assert sorted(part["turn"]) == list(range(len(part)))


def test_an_early_cluster_is_closed_when_the_run_ends_before_its_main_phase():
    """A --workers run starts its cluster with the run (its processes start while the
    servers do); a run that fails before its main phase still closes it. Its scheduler
    listens on loopback only, and a port another cluster holds (the dashboard's 8787)
    gives no warning."""
    from distributed.comm.utils import get_tcp_server_addresses

    from aura_lab.load.distributed import EarlyCluster

    async def main():
        early = EarlyCluster(1)
        cluster = await early.get()
        http = [address[0] for address in get_tcp_server_addresses(cluster.scheduler.http_server)]
        await early.close()  # the run failed during start-up: the cluster had not been used
        return cluster.scheduler_address, http, cluster.status.name

    with socket.socket() as holder, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.suppress(OSError):  # taken already: as good
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        address, http, status = asyncio.run(main())
    assert address.startswith("tcp://127.0.0.1:") and http and set(http) == {"127.0.0.1"}
    assert status == "closed"
    assert not [w for w in caught if "8787" in str(w.message)]
