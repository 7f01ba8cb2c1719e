"""Reliability: whole runs (``aura_lab.run``) against real misbehaving servers on
127.0.0.1. Whatever the server does, the run ends by itself, every message sent gets
exactly one trace record, each error record names the right kind, and the summary
counts agree with the records and with the server's own count."""

from __future__ import annotations

import collections
import json
import os
import signal
import threading
import time
import urllib.request

import pytest

import aura_lab
from aura_lab.servers.hosting import serve
from aura_lab.wire.judge import ERROR_KINDS
from tests.support.servers import FAULT_KINDS, ChaosServer, LoggingGarbageServer

RUN = dict(users=8, turns=(4, 7), think_time="0", quiet=True, progress=False, seed=23, timeout=0.5)
RUN_BOUND_S = 30  # a run against a faulty server must end by itself well within this

# One server per fault, each fault frequent enough to happen several times in a run.
FAULTS = {
    "stall": lambda: LoggingGarbageServer(stall=4),
    "close_every_third_connection": lambda: LoggingGarbageServer(close_connection=3),
    "status_error": lambda: LoggingGarbageServer(status_error=3),
    "non_json": lambda: LoggingGarbageServer(non_json=3),
    "missing_fields": lambda: LoggingGarbageServer(missing_fields=3),
    "wrong_echo": lambda: LoggingGarbageServer(wrong_echo=3),
    "previous_reply": lambda: ChaosServer(seed=5, weights={"ok": 2, "previous_reply": 1}),
    "mixed": lambda: ChaosServer(seed=9, weights={"ok": 4, **{name: 1 for name in FAULT_KINDS}}),
}
EXPECTED_KINDS = {
    "stall": {"timeout"},
    "close_every_third_connection": {"closed"},
    "status_error": {"server_error"},
    "non_json": {"bad_reply"},
    "missing_fields": {"bad_reply"},
    "wrong_echo": {"mismatched_reply"},
    "previous_reply": {"mismatched_reply"},
    "mixed": {"timeout", "closed", "server_error", "bad_reply", "mismatched_reply"},
}
FAULT_CASES_RUN = collections.Counter()  # for the report: cases that ran to their end


def check_records_and_summary(run) -> dict:
    """What holds for every run, faulty server or not; returns the error kinds counted."""
    df = run.traces
    assert run.status == "complete"
    assert len(df) == run.manifest.planned_messages > 0
    assert not df.duplicated(["user_id", "turn", "codec"]).any()
    for _, part in df.groupby("user_id"):
        assert sorted(part["turn"]) == list(range(len(part)))  # no turn skipped or repeated
    assert set(df["error_kind"].dropna().astype(str)) <= set(ERROR_KINDS)
    ok = df["status"] == "ok"
    assert df.loc[ok, "error_kind"].isna().all() and df.loc[~ok, "error_kind"].notna().all()
    assert df.loc[ok, "latency_ms"].notna().all()
    kinds = df["error_kind"].dropna().astype(str).value_counts().to_dict()
    (codec,) = run.summary["codecs"]
    summary = run.summary["codecs"][codec]
    assert summary["messages"] == len(df)
    assert summary["sent"] == int(df["sent_at"].notna().sum())
    assert summary["ok"] == int(ok.sum())
    assert summary["errors"] == int((~ok).sum()) == sum(kinds.values())
    assert summary["ok"] + summary["errors"] == summary["messages"]
    assert summary["errors_by_kind"] == kinds
    return kinds


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_server_costs_records_nothing(tmp_path, fault):
    started = time.monotonic()
    with FAULTS[fault]() as server:
        run = aura_lab.run(**RUN, urls=(server.url,), trace_dir=str(tmp_path), run_id=fault)
    elapsed = time.monotonic() - started
    assert elapsed < RUN_BOUND_S
    df = run.traces
    kinds = check_records_and_summary(run)

    # every message was sent and reached the server, which counted it once
    assert df["sent_at"].notna().all()
    assert len(df) == server.messages == len(server.log)
    # each record carries what the server did to that very message
    done_by_text = collections.Counter((text, FAULT_KINDS.get(name)) for text, name in server.log)
    seen_by_text = collections.Counter(
        (text, None if kind is None or kind != kind else str(kind))
        for text, kind in zip(df["text"], df["error_kind"].astype(object))
    )
    assert seen_by_text == done_by_text
    assert kinds == server.expected_kinds()
    assert set(kinds) == EXPECTED_KINDS[fault]
    assert all(n >= 2 for n in kinds.values()), kinds  # the fault really happened, repeatedly
    assert run.summary["codecs"]["external"]["ok"] == sum(name == "ok" for _, name in server.log)
    # a reply that never came has no latency; one that came (even garbage) has
    no_reply = df["error_kind"].isin(["timeout", "closed"])
    assert df.loc[no_reply, "received_at"].isna().all()
    assert df.loc[~no_reply, "received_at"].notna().all()
    if {"timeout", "closed", "mismatched_reply"} & set(kinds):
        assert run.summary["codecs"]["external"]["reconnects"] > 0  # a broken stream is replaced
    FAULT_CASES_RUN[fault] += 1


def _kill_after(port: int, pid: int, messages: int, seen: dict, killed: threading.Event) -> None:
    """SIGKILL the server once its /health says it served ``messages`` messages; keep
    the last count it gave in ``seen["served"]``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                seen["served"] = json.loads(response.read())["messages_served"]
        except OSError:
            pass
        if seen.get("served", 0) >= messages:
            break
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    killed.set()


@pytest.mark.timeout(90)
def test_a_server_killed_mid_run_costs_records_nothing(tmp_path):
    """One child-process server, SIGKILLed after 12 of 30 messages; no replica to go to."""
    users = 3
    started = time.monotonic()
    with serve("deflate", workdir=tmp_path / "scratch") as handle:
        seen, killed = {}, threading.Event()
        killer = threading.Thread(target=_kill_after, args=(handle.port, handle.pid, 12, seen, killed), daemon=True)
        killer.start()
        run = aura_lab.run(
            **{**RUN, "users": users, "turns": (10, 10), "think_time": "uniform:0.05,0.1"},
            urls=(handle.url,),
            trace_dir=str(tmp_path),
            run_id="killed",
        )
        killer.join(5)
        assert killed.is_set()
    assert time.monotonic() - started < RUN_BOUND_S + 10
    df = run.traces
    kinds = check_records_and_summary(run)
    assert len(df) == users * 10
    assert "connect" in kinds and set(kinds) <= {"closed", "connect"}
    # Each user: good replies until the kill; a message in flight then dies with its
    # connection ("closed", it was sent); a user who was thinking finds its connection
    # closed and tries a new one before sending. Every later message fails to connect
    # (never sent).
    for _, part in df.sort_values("turn").groupby("user_id"):
        statuses = list(part["status"])
        first_error = statuses.index("error")
        assert first_error > 0 and all(s == "ok" for s in statuses[:first_error])
        errors = list(part["error_kind"].astype(str))[first_error:]
        assert errors[0] in ("closed", "connect") and set(errors[1:]) <= {"connect"}, errors
    connect = df["error_kind"] == "connect"
    assert df.loc[connect, "sent_at"].isna().all() and df.loc[~connect, "sent_at"].notna().all()
    # The server's own count when it was killed: replies counted then but lost in the kill,
    # or messages answered between that count and the kill, are at most one per user.
    ok = int((df["status"] == "ok").sum())
    assert seen["served"] >= 12
    assert abs(ok - seen["served"]) <= users
    FAULT_CASES_RUN["killed"] += 1
