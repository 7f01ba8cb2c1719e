"""Session fixtures shared by the notebook, report and plot tests: two small real runs
against the embedded servers (a few dozen messages each, a few seconds in all); and the
hypothesis profile for CI."""

from __future__ import annotations

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
