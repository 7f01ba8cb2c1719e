"""Session fixtures shared by the notebook, report and plot tests: two small real runs
against the embedded servers (a few dozen messages each, a few seconds in all), the
peer's files written from the first (its trace folder with an export beside it, and the
export the peer itself would write); and the hypothesis profile for CI."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import settings

import aura_lab

# CI replays the same fuzz examples every time, so a landing does not depend on luck;
# a developer's run draws new ones and keeps finding what CI would not.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

SMALL_RUN = dict(
    users=6,
    turns=(4, 8),
    think_time="0",
    codecs="aura,deflate-stream,zstd-dict",
    warmup_messages=20,
    profile="peer",  # the template analyses (notebooks 02, 04, 05) need template traffic
    quiet=True,
    progress=False,
)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A run with a warmup: 20 warmup messages, then 6 users of 4-8 turns, three codecs."""
    return aura_lab.run(**SMALL_RUN, seed=1, trace_dir=str(tmp_path_factory.mktemp("traces")))


@pytest.fixture(scope="session")
def small_run_b(tmp_path_factory):
    """A second small run (another seed): run B for comparisons."""
    return aura_lab.run(**SMALL_RUN, seed=2, trace_dir=str(tmp_path_factory.mktemp("traces-b")))


@pytest.fixture(scope="session")
def peer_folder(small_run, tmp_path_factory):
    """The peer's trace folder of ``small_run`` (``user_<id>_traces.jsonl``, users from 1)
    with aura-lab's export beside it as ``results.json``."""
    from aura_lab.analysis.export import peer_export
    from aura_lab.traces.peer import write_peer_traces

    folder = tmp_path_factory.mktemp("peer") / "peer_run"
    write_peer_traces(small_run.traces, folder, codec=small_run.primary_codec)
    (folder / "results.json").write_text(json.dumps(peer_export(small_run), default=str), encoding="utf-8")
    return folder


def peer_only(export: dict) -> dict:
    """An export as the peer's stress test writes it: its keys only, its success rate a
    number (the peer's prints 100 whatever was lost)."""
    from aura_lab.traces.peer import EXPORT_KEYS

    out: dict = {"timestamp": export["timestamp"]}
    for key in EXPORT_KEYS:
        if "." in key:
            section, leaf = key.split(".")
            out.setdefault(section, {})[leaf] = export[section][leaf]
    out["summary"]["success_rate"] = 100.0
    return out


@pytest.fixture(scope="session")
def peer_export_file(small_run, tmp_path_factory):
    """The export the peer's own stress test would write for ``small_run`` (its keys only)."""
    from aura_lab.analysis.export import peer_export

    path = tmp_path_factory.mktemp("peer-export") / "results.json"
    path.write_text(json.dumps(peer_only(peer_export(small_run)), default=str), encoding="utf-8")
    return path
