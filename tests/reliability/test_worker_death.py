"""A Dask worker killed mid-run (``kill -9``): its shard is not played again by another
worker (which overwrote the dead attempt's parts and sent its messages twice), what it
had written is kept, and the run says which shard and worker died, is ``failed`` and
exits 1. Before: the server served 24,247 messages, the run kept 20,000 and called
itself complete, exit 0."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

import aura_lab
from aura_lab.servers.hosting import serve
from aura_lab.traces.folder import RunFolder
from tests.support.processes import aura_lab as start
from tests.support.processes import served, wait_for

pytest.importorskip("distributed")


@pytest.mark.timeout(240)
def test_a_killed_worker_is_named_and_the_run_is_not_complete(tmp_path):
    with serve("identity", in_process=False) as server:
        process = start(
            "run", "--workers", "2", "--url", server.url, "--users", "40", "--messages-per-user", "200",
            "--think-time", "constant:0.05", "--trace-dir", tmp_path, "--run-id", "w", "--quiet",
            cwd=tmp_path,
        )  # fmt: skip
        traces = tmp_path / "w" / "traces"
        started = traces / "shard-0001.started"
        assert wait_for(lambda: started.is_file() and any(traces.glob("part-0001-*.parquet")), 120)
        pid = int(started.read_text())
        assert pid in {p.pid for p in psutil.Process(process.pid).children(recursive=True)}
        psutil.Process(pid).send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=180)
        time.sleep(0.5)
        sent = served(server.url)
    assert process.returncode == 1, err
    manifest = RunFolder(tmp_path / "w").read_manifest()
    assert manifest.status == "failed"
    assert f"shard 1's worker (pid {pid}) died" in manifest.error and "records it had written are kept" in err
    lost = manifest.workers["lost"]
    assert [item["shard"] for item in lost] == [1] and lost[0]["records_kept"] > 0
    records = aura_lab.load_traces(tmp_path / "w")
    assert not records.duplicated(["user_id", "turn", "codec"]).any()  # no shard played twice
    assert len(records) <= sent  # nothing recorded that the server did not serve
