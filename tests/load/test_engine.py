"""The load loop: think time, open loop against a slow server, stops with replies in flight."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

import aura_lab
from aura_lab.load.engine import Engine, EngineSettings, writer_listener
from aura_lab.load.links import Group
from aura_lab.timing import ThinkTime
from aura_lab.traces.reader import load_traces
from aura_lab.traces.writer import TraceWriter
from aura_lab.traffic.generator import config_from_files
from aura_lab.traffic.selection import make_selector
from tests.support.servers import GarbageServer, SlowServer

pytestmark = pytest.mark.timeout(30)


# -- ThinkTime ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, kind, a, b",
    [
        ("0", "none", 0.0, 0.0),
        (0, "none", 0.0, 0.0),
        ("none", "none", 0.0, 0.0),
        ("uniform:0.1,2.0", "uniform", 0.1, 2.0),
        (" Uniform:1,1 ", "uniform", 1.0, 1.0),
        ("uniform:0,0.5", "uniform", 0.0, 0.5),
        ("lognormal:-1,0.5", "lognormal", -1.0, 0.5),
        ("0.5", "constant", 0.5, 0.5),
        (0.5, "constant", 0.5, 0.5),
        ("constant:2", "constant", 2.0, 2.0),
    ],
)
def test_think_time_parse_good(spec, kind, a, b):
    think = ThinkTime.parse(spec)
    assert (think.kind, think.a, think.b) == (kind, a, b)
    assert ThinkTime.parse(str(think)) == think  # str() is a spec again


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "uniform",
        "uniform:1",
        "uniform:1,2,3",
        "uniform:2,1",
        "uniform:-1,1",
        "uniform:1,inf",
        "uniform:nan,nan",
        "lognormal:x",
        "lognormal:0,0",
        "lognormal:0,-1",
        "lognormal:nan,1",
        "gauss:1,2",
        "-1",
        "constant:",
        "constant:1,2",
        "1e9",
        "inf",
    ],
)
def test_think_time_parse_bad(spec):
    with pytest.raises(ValueError, match="uniform:A,B"):
        ThinkTime.parse(spec)


def test_think_time_samples_are_bounded_and_seeded():
    uniform = ThinkTime.parse("uniform:0.1,0.2")
    draws = [uniform.sample(random.Random(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = random.Random(1)
    assert all(0.1 <= uniform.sample(rng) <= 0.2 for _ in range(1000))
    heavy = ThinkTime.parse("lognormal:5,3")  # median e^5 s: the tail is cut at 60 s
    assert max(heavy.sample(rng) for _ in range(1000)) == 60.0
    assert ThinkTime.parse("0").sample(rng) == 0.0


# -- open loop vs closed loop -------------------------------------------------------------


def _run_against(url, tmp_path, **options):
    return aura_lab.run(
        urls=(url,), users=1, turns=(10, 10), think_time="0", trace_dir=str(tmp_path), quiet=True, seed=3, **options
    )


@pytest.mark.timeout(40)
def test_open_loop_latency_includes_queueing_behind_a_slow_server(tmp_path):
    with SlowServer(100) as slow:
        open_loop = _run_against(slow.url, tmp_path, arrival_rate=50.0, run_id="open")
        closed_loop = _run_against(slow.url, tmp_path, run_id="closed")

    closed = closed_loop.traces.sort_values("turn")
    assert (closed["status"] == "ok").all()
    # closed loop: latency is the server's 100 ms, counted from the send
    assert closed["latency_ms"].between(95, 400).all()
    service = (closed["received_at"] - closed["sent_at"]).dt.total_seconds() * 1000
    assert (closed["latency_ms"] - service).abs().max() < 1

    opened = open_loop.traces.sort_values("turn")
    assert (opened["status"] == "ok").all() and len(opened) == 10
    # open loop: messages are due every ~20 ms on average, the server takes 100 ms: they wait
    # behind the previous ones, and that wait is part of its latency
    latency = opened["latency_ms"].to_numpy()
    service = ((opened["received_at"] - opened["sent_at"]).dt.total_seconds() * 1000).to_numpy()
    assert (latency >= service - 1).all()
    assert latency[-1] > 500  # about 10 x 100 ms of service minus ~9 x 20 ms of schedule
    assert latency[-1] > 2 * closed["latency_ms"].max()
    waited = (opened["sent_at"] - opened["scheduled_at"]).dt.total_seconds().to_numpy()
    assert waited[-1] > 0.4
    assert latency[5:].mean() > latency[:5].mean()  # the queue grows (arrivals are Poisson, so not always)


# -- stopping with replies in flight --------------------------------------------------------


def _engine(tmp_path, url, users, grace):
    gen_config = config_from_files(None, None, seed=5, turns=(4, 4))
    settings = EngineSettings(run_id="stop", think_time=ThinkTime.parse("0"), timeout=30, grace=grace)
    writer = TraceWriter(tmp_path / "run" / "traces")
    engine = Engine(
        settings,
        gen_config,
        [Group("stalling", [url])],
        make_selector("uniform", 0.3),
        users,
        [writer_listener(writer)],
    )
    return engine, writer


def test_stop_with_replies_in_flight_records_each_message(tmp_path):
    async def main():
        async with GarbageServer(stall=1) as server:  # no reply, ever
            engine, writer = _engine(tmp_path, server.url, users=3, grace=0.2)
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, engine.stop, "interrupted")
            await engine.run_users([0, 1, 2])
            writer.close()
            return engine, server

    engine, server = asyncio.run(main())
    assert engine.stop_reason == "interrupted"
    assert server.messages == 3
    df = load_traces(tmp_path / "run")
    assert len(df) == 3  # one record per message sent, none for messages never sent
    assert sorted(df["user_id"]) == [0, 1, 2]
    assert (df["turn"] == 0).all()
    assert (df["error_kind"] == "interrupted").all()
    assert df["sent_at"].notna().all() and df["received_at"].isna().all()


def test_stop_waits_for_a_reply_within_the_grace(tmp_path):
    async def main():
        async with SlowServer(300) as server:
            engine, writer = _engine(tmp_path, server.url, users=2, grace=2.0)
            asyncio.get_running_loop().call_later(0.1, engine.stop, "interrupted")
            await engine.run_users([0, 1])
            writer.close()
            return engine

    engine = asyncio.run(main())
    df = load_traces(tmp_path / "run")
    assert len(df) == 2 and (df["status"] == "ok").all()  # the replies arrived in the grace
    assert engine.tally.messages == 2


def test_duration_limit_stops_the_users(tmp_path):
    async def main():
        async with SlowServer(50) as server:
            engine, writer = _engine(tmp_path, server.url, users=2, grace=1.0)
            engine.gen_config.turns = (100, 100)
            await engine.run_users([0, 1], deadline_s=0.3)
            writer.close()
            return engine

    engine = asyncio.run(main())
    df = load_traces(tmp_path / "run")
    assert engine.stop_reason == "duration"
    assert 2 <= len(df) < 40
    assert (df["status"] == "ok").all()
    assert math.isclose(len(df), engine.tally.messages)


# -- records announced after the next send ---------------------------------------------------


def test_a_reply_is_announced_after_the_next_send_and_every_one_is_recorded(tmp_path):
    """A reply's records and listeners run once the user's next message is on its way
    (while the server works on it): none is lost, each user's stay in order, and the
    tally is whole when run_users returns."""
    order = []

    async def main():
        async with SlowServer(5) as server:
            engine, writer = _engine(tmp_path, server.url, users=3, grace=1.0)
            engine.listen(lambda event: order.append((event.message.user_id, event.message.turn)))
            await engine.run_users([0, 1, 2])
            writer.close()
            return engine, server

    engine, server = asyncio.run(main())
    df = load_traces(tmp_path / "run")
    assert len(df) == server.messages == engine.tally.messages == 12 and (df["status"] == "ok").all()
    for user in range(3):
        assert [turn for u, turn in order if u == user] == [0, 1, 2, 3]


def test_a_listener_that_fails_after_the_send_stops_the_run_with_its_error(tmp_path):
    """An announcement runs as a loop callback: its error must still end the run, not
    be logged and forgotten."""

    def fails(event):
        if event.message.turn == 1:
            raise RuntimeError("listener broke")

    async def main():
        async with SlowServer(5) as server:
            engine, writer = _engine(tmp_path, server.url, users=2, grace=1.0)
            engine.listen(fails)
            try:
                await engine.run_users([0, 1])
            finally:
                writer.close()
            return engine

    with pytest.raises(RuntimeError, match="listener broke"):
        asyncio.run(main())
    assert len(load_traces(tmp_path / "run")) < 8  # it stopped sending
