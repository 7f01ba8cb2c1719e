"""A run's phases: the warmup (its own connection, no think time, the peer's checks)
and the main phase (every user, in this process or sharded on Dask). A stop (Ctrl-C,
SIGTERM, a failed trace write: ``stopping.Stopper``) ends sending cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..analysis import metrics
from ..config import LOGGED_GAP_CAP_S, RunConfig
from ..traces.folder import Manifest
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratedMessage, GeneratorConfig, TemplatePools, user_messages, user_profile
from ..traffic.selection import Selector, make_selector
from .console import Printer, ProgressBar, debug_printer
from .drive import drive_main
from .engine import Engine, EngineSettings, writer_listener
from .links import Group
from .stopping import Stopper
from .verify import Verifier

if TYPE_CHECKING:
    from .distributed import EarlyCluster

WARMUP_USER = 1_000_000  # outside the main users' ids: the warmup has its own random streams


async def run_phases(
    config: RunConfig,
    gen_config: GeneratorConfig,
    groups: list[Group],
    writer: TraceWriter,
    manifest: Manifest,
    say: Printer,
    stopper: Stopper,
    traffic: Callable[[int], list[GeneratedMessage]] | None = None,
    verifier: Verifier | None = None,
    cluster: EarlyCluster | None = None,
) -> str:
    """Warmup (when asked) and main phase; returns the run's status: ``complete``,
    ``interrupted``, or ``failed`` when the trace writer could not write. ``traffic``
    gives each user's messages in a replay (else they are generated). ``verifier``: the
    client checks the primary messages the server did not (``--verify``). ``cluster``:
    the ``--workers`` run's local cluster, started with the run."""
    selector = make_selector(config.selection, config.explore)
    settings = EngineSettings.of(config, manifest.run_id)
    users = list(range(config.users or 0))
    planned = manifest.planned_messages
    if planned is None:
        planned = manifest.planned_messages = planned_messages(config, gen_config, traffic)
    if stopper.reason is None and config.warmup_messages:
        engine = Engine(settings, gen_config, groups, selector, 1, [writer_listener(writer)], verifier=verifier)
        stopper.attach(engine)
        await warmup(config, gen_config, engine, writer, manifest, say)
        if config.selection == "epsilon-greedy" and manifest.warmup:
            selector.explore = manifest.warmup["explore_after"]  # type: ignore[attr-defined]
    if stopper.reason is not None:
        return _status(stopper.reason)
    if config.workers > 1 or config.scheduler:
        from .distributed import run_distributed

        assert stopper.requested is not None
        reason = await run_distributed(
            config, gen_config, groups, writer.folder, manifest, say, stopper.requested, cluster
        )
        return _status(stopper.reason or reason)
    engine = Engine(settings, gen_config, groups, selector, len(users), [writer_listener(writer)], traffic, verifier)
    stopper.attach(engine)
    if config.debug:
        engine.listen(debug_printer(config, say))
    progress = None
    if not config.quiet and config.progress:
        progress = ProgressBar(planned, groups[0].label, engine.tally)
        engine.listen(progress)
    deadline = config.main_deadline
    client: dict = {}
    try:
        await drive_main(engine, writer, users, client, deadline, progress)
    finally:
        manifest.client = {
            **client,
            "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],  # asyncio | uvloop
            "json": "orjson (json.loads for what it refuses)",
            # servers on this process's threads, or an offline run's codecs in it: its CPU is
            # theirs too, so who set the pace is not known
            **({"in_process_servers": True, "saturated": None} if config.in_process_servers else {}),
            **({"offline": True, "saturated": None} if config.offline else {}),
        }
    if engine.stop_reason == "interrupted":
        say(
            f"interrupted: stopped sending after {engine.tally.messages} of {planned} messages; "
            "every record so far is kept"
        )
    elif engine.stop_reason == "write_failed":
        say(f"trace write failed: stopped sending after {engine.tally.messages} of {planned} messages")
    elif engine.stop_reason == "duration":
        manifest.notes.append(
            f"stopped by the duration limit ({deadline:g} s) after "
            f"{engine.tally.messages} of {planned} planned messages"
        )
    if settings.logged_timing:
        gaps = engine.logged_gaps
        manifest.notes.append(
            f"logged timing: {gaps['used']} pauses from the logs' timestamps ({gaps['cut']} cut to "
            f"{LOGGED_GAP_CAP_S:g} s), {gaps['missing']} without timestamps took the think time"
        )
    return _status(engine.stop_reason)


def planned_messages(
    config: RunConfig, gen_config: GeneratorConfig, traffic: Callable[[int], list[GeneratedMessage]] | None
) -> int:
    """The main phase's messages, fixed before it starts: each logged conversation's in a
    replay, else each user's conversation length (fixed by seed and user)."""
    users = range(config.users or 0)
    if traffic is not None:
        return sum(len(traffic(u)) for u in users)
    return sum(user_profile(gen_config, u)[1] for u in users)


def _status(stop_reason: str | None) -> str:
    """The run's status for the reason it stopped sending."""
    return {"interrupted": "interrupted", "write_failed": "failed", "worker_died": "failed"}.get(
        stop_reason or "", "complete"
    )


def warmup_messages(gen_config: GeneratorConfig, n: int, selector: Selector) -> Iterator[GeneratedMessage]:
    """The warmup's ``n`` messages, generated one at a time through the run's selector
    (which learns from each reply before the next is made): whole conversations of
    users ``WARMUP_USER``, ``WARMUP_USER + 1``, ... all sent as user ``WARMUP_USER``."""
    pools = TemplatePools(gen_config.library)
    sent, user = 0, WARMUP_USER
    while sent < n:
        for message in user_messages(gen_config, user, selector, pools):
            yield dataclasses.replace(message, user_id=WARMUP_USER)
            sent += 1
            if sent == n:
                return
        user += 1


async def warmup(
    config: RunConfig,
    gen_config: GeneratorConfig,
    engine: Engine,
    writer: TraceWriter,
    manifest: Manifest,
    say: Printer,
) -> None:
    """N messages on their own connection, no think time; then the peer's checks. A
    learning selector learns from the warmup's replies (the post-warmup explore rate
    assumes it did); the findings change the main phase only with ``auto_adjust``."""
    from ..analysis.warmup import analyse_warmup, recommend_adjustments

    messages = warmup_messages(gen_config, config.warmup_messages, engine.selector)
    say(f"warmup: {config.warmup_messages} messages on {engine.groups[0].label}")
    try:
        await engine.run_user(WARMUP_USER, phase="warmup", messages=messages, think=False)
    finally:
        await engine.close_links()
    if not writer.flush():
        return  # the run is failing (the stopper has the reason): no analysis of half a warmup
    primary = metrics.select(load_traces(writer.folder.parent), phase=None, codec=manifest.primary_codec)
    report = analyse_warmup(
        primary,
        corpus_weight=config.corpus_weight,
        explore=config.explore,
        min_compression_size=config.min_compression_size,
    )
    for warning in report.warnings:
        say.warn(f"warmup: {warning}")
    weight, explore = config.corpus_weight, config.explore
    reasons: list[str] = []
    suggested: list[str] = []
    if gen_config.profile.two_sided:  # corpus weight and exploration shape only the peer profile's traffic
        suggested_weight, suggested_explore = config.corpus_weight, config.explore
        if config.auto_adjust:
            say(
                f"warmup: nothing adjusted: corpus weight and template exploration shape the peer profile's "
                f"traffic, not the {gen_config.profile.name} profile's"
            )
    else:
        suggested_weight, suggested_explore, suggested = recommend_adjustments(
            report, config.corpus_weight, config.explore
        )
    if config.auto_adjust:
        weight, explore, reasons = suggested_weight, suggested_explore, suggested
        gen_config.corpus_weight = weight
        for reason in reasons:
            say(f"warmup adjustment: {reason}")
    else:
        for reason in suggested:
            say(f"warmup finding (not applied; --auto-adjust applies it): {reason}")
    record = {
        "report": dataclasses.asdict(report),
        "corpus_weight_before": config.corpus_weight,
        "explore_before": config.explore,
        "corpus_weight_after": weight,
        "explore_after": explore,
        "reasons": list(reasons),
        "auto_adjust": config.auto_adjust,
        "suggested": {"corpus_weight": suggested_weight, "explore": suggested_explore, "reasons": list(suggested)},
        "adjusted": weight != config.corpus_weight or explore != config.explore,
    }
    manifest.warmup = json.loads(json.dumps(record, default=str))  # as manifest.json will hold it
