"""The client's own cost and an open loop's punctuality, as a run's manifest, summary and
warnings state them (real runs against real servers on 127.0.0.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aura_lab
from aura_lab.analysis import metrics
from aura_lab.analysis.text import format_summary
from aura_lab.load.bridge import event_loop_name

pytestmark = pytest.mark.timeout(60)

ONE = dict(codecs="identity", quiet=True, seed=5)


def test_client_load_figures():
    busy = metrics.client_load(cpu_s=0.95, wall_s=1.0, messages=1000)
    assert busy["cpu_us_per_message"] == pytest.approx(950)
    assert busy["wall_us_per_message"] == pytest.approx(1000)
    assert busy["saturated"] is True
    idle = metrics.client_load(cpu_s=0.2, wall_s=1.0, messages=1000)
    assert idle["saturated"] is False and idle["cpu_share"] == pytest.approx(0.2)
    empty = metrics.client_load(cpu_s=0.01, wall_s=0.5, messages=0)
    assert empty["cpu_us_per_message"] is None and empty["saturated"] is False


def test_send_lateness_is_over_first_frames_and_says_none_without_a_schedule():
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    ms = pd.Timedelta(milliseconds=1)
    df = pd.DataFrame(
        {
            "scheduled_at": [t0, t0, t0, t0],
            "sent_at": pd.Series([t0 + 1 * ms, t0 + 3 * ms, t0 + 500 * ms, None], dtype="datetime64[ns, UTC]"),
            "frame_index": [None, 0, 1, None],
        }
    )
    late = metrics.send_lateness(df)
    assert late is not None and late["count"] == 2 and late["max"] == pytest.approx(3)
    # (the third row is a later frame, the fourth a message never sent)
    assert metrics.send_lateness(df.assign(sent_at=df["sent_at"].where(df["sent_at"].isna()))) is None
    assert late["pace"] == pytest.approx(0)  # every message scheduled at once, sent over 3 ms
    assert metrics.behind_schedule({"p50": 1, "p99": 30, "pace": 0.5}, 10)  # sent over twice the schedule's time
    assert metrics.behind_schedule({"p50": 30, "p99": 60, "pace": 1.0}, 50)  # half late by more than 20 ms
    assert not metrics.behind_schedule({"p50": 1, "p99": 30, "pace": 0.95}, 50)
    # one user at 3,500 msg/s: a mean interval of 0.29 ms, under the timers' 1 ms grain
    assert not metrics.behind_schedule({"p50": 0.6, "p99": 5, "pace": 0.99}, 3500)
    assert metrics.behind_schedule({"p50": 1.5, "p99": 5, "pace": 0.99}, 3500)
    assert not metrics.behind_schedule(None, 50)


def test_lateness_after_a_late_reply_counts_from_the_reply():
    """User 1's second send was due at 5 ms but its first reply came at 20 ms: 16 ms late,
    1 ms of it after the reply. User 2's first exchange timed out (no reply): how long its
    second send waited is not known, so it is not in the figures after the reply."""
    t0 = pd.Timestamp("2026-01-01", tz="UTC")

    def at(*values):
        return pd.Series([t0 + pd.Timedelta(milliseconds=v) if v is not None else None for v in values],
                         dtype="datetime64[ns, UTC]")  # fmt: skip

    df = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "scheduled_at": at(0, 5, 50, 0, 10),
            "sent_at": at(1, 21, 52, 0.5, 3000),
            "received_at": at(20, 30, 60, None, 3010),
            "frame_index": [None] * 5,
        }
    )
    late = metrics.send_lateness(df)
    assert late["max"] == pytest.approx(2990)  # user 2's second send, after its timeout
    after = metrics._after_reply_lateness(df, None)
    assert sorted(after.round(3)) == [0.5, 1, 1, 2]  # user 2's second send left out
    assert late["after_reply_p99"] == pytest.approx(np.percentile([0.5, 1, 1, 2], 99))
    assert late["p99"] > 2000 > late["after_reply_p99"]


def test_a_run_states_its_own_cpu_per_message(tmp_path):
    run = aura_lab.run(users=3, turns=(4, 6), think_time="0.001", **ONE, trace_dir=str(tmp_path))
    client = run.manifest.client
    sent = int((run.traces["phase"] == "main").sum())
    assert client is not None and client["messages"] == sent
    assert 0 < client["cpu_us_per_message"] <= client["wall_us_per_message"] * 2  # a thread may add a little
    assert run.summary["client"] == client
    assert client["event_loop"] == event_loop_name()  # uvloop when installed (aura-lab[fast])
    assert run.manifest.versions["orjson"] and "uvloop" in run.manifest.versions
    assert f"client CPU per message: {client['cpu_us_per_message']:,.0f} µs" in format_summary(run.summary)
    assert "send lateness" not in format_summary(run.summary)  # a closed loop has no schedule to keep


def test_an_offline_run_is_not_called_saturated(tmp_path):
    """Offline the codecs run in this process without pauses: its core is busy by design,
    and its CPU is the codecs' too, so no warning blames the client."""
    run = aura_lab.run(offline=True, users=3, turns=(4, 6), think_time="0", **ONE, trace_dir=str(tmp_path))
    assert run.manifest.client["cpu_share"] > 0 and run.manifest.client["saturated"] is None
    assert not [w for w in run.manifest.warnings if "saturated" in w]


def test_open_loop_reports_lateness_and_warns_when_behind(tmp_path):
    kept = aura_lab.run(users=2, turns=(6, 6), arrival_rate=40, **ONE, trace_dir=str(tmp_path))
    late = kept.summary["send_lateness_ms"]
    assert late["count"] == 12 and 0 <= late["p50"] <= late["p99"]
    assert "send lateness (open loop, sent - scheduled): p50" in format_summary(kept.summary)
    assert 0 <= late["after_reply_p50"] <= late["after_reply_p99"] <= late["max"]
    said = " ".join(format_summary(kept.summary).split())  # the line may be wrapped at 100 columns
    assert "counted from a late previous reply: p50" in said
    # a schedule no client and server can keep: 10,000 messages a second from each user
    behind = aura_lab.run(users=2, turns=(40, 40), arrival_rate=10_000, **ONE, trace_dir=str(tmp_path))
    assert behind.summary["behind_schedule"] is True
    assert any("fell behind its schedule" in w for w in behind.manifest.warnings)
    assert "BEHIND SCHEDULE" in " ".join(format_summary(behind.summary).split())
