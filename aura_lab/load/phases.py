"""A run's phases: the warmup (its own connection, no think time, the peer's checks)
and the main phase (every user, in this process or sharded on Dask). A stop (Ctrl-C,
SIGTERM, a failed trace write: ``stopping.Stopper``) ends sending cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable

from ..analysis import metrics
from ..config import RunConfig
from ..traces.folder import Manifest
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratorConfig, generate, user_profile
from ..traffic.selection import make_selector
from .console import ProgressBar, debug_printer
from .engine import Engine, EngineSettings, writer_listener
from .links import Group
from .stopping import Stopper

WARMUP_USER = 1_000_000  # outside the main users' ids: the warmup has its own random streams


async def run_phases(
    config: RunConfig,
    gen_config: GeneratorConfig,
    groups: list[Group],
    writer: TraceWriter,
    manifest: Manifest,
    say: Callable[[str], None],
    stopper: Stopper,
) -> str:
    """Warmup (when asked) and main phase; returns the run's status: ``complete``,
    ``interrupted``, or ``failed`` when the trace writer could not write."""
    selector = make_selector(config.selection, config.explore)
    settings = EngineSettings.of(config, manifest.run_id)
    users = list(range(config.users))
    planned = manifest.planned_messages
    if planned is None:
        planned = manifest.planned_messages = sum(user_profile(gen_config, u)[1] for u in users)
    if stopper.reason is None and config.warmup_messages:
        engine = Engine(settings, gen_config, groups, selector, 1, [writer_listener(writer)])
        stopper.attach(engine)
        await warmup(config, gen_config, engine, writer, manifest, say)
        if config.selection == "epsilon-greedy" and manifest.warmup:
            selector.explore = manifest.warmup["explore_after"]  # type: ignore[attr-defined]
    if stopper.reason is not None:
        return _status(stopper.reason)
    if config.workers > 1 or config.scheduler:
        from .distributed import run_distributed

        assert stopper.requested is not None
        reason = await run_distributed(config, gen_config, groups, writer.folder, manifest, say, stopper.requested)
        return _status(stopper.reason or reason)
    engine = Engine(settings, gen_config, groups, selector, config.users, [writer_listener(writer)])
    stopper.attach(engine)
    if config.debug:
        engine.listen(debug_printer(config, say))
    progress = None
    if not config.quiet and config.progress:
        progress = ProgressBar(planned, groups[0].label, engine.tally)
        engine.listen(progress)
    flusher = asyncio.ensure_future(writer.flush_periodically())
    deadline = config.main_deadline
    try:
        await engine.run_users(users, deadline_s=deadline)
    finally:
        flusher.cancel()
        if progress is not None:
            progress.close()
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
    return _status(engine.stop_reason)


def _status(stop_reason: str | None) -> str:
    """The run's status for the reason it stopped sending."""
    return {"interrupted": "interrupted", "write_failed": "failed"}.get(stop_reason or "", "complete")


async def warmup(
    config: RunConfig,
    gen_config: GeneratorConfig,
    engine: Engine,
    writer: TraceWriter,
    manifest: Manifest,
    say: Callable[[str], None],
) -> None:
    """N messages on their own connection, no think time; then the peer's checks."""
    from ..analysis.warmup import analyse_warmup, recommend_adjustments

    messages = [
        dataclasses.replace(m, user_id=WARMUP_USER)
        for m in generate(gen_config, config.warmup_messages, first_user=WARMUP_USER)
    ]
    say(f"warmup: {len(messages)} messages on {engine.groups[0].label}")
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
        say(f"warmup warning: {warning}")
    weight, explore = config.corpus_weight, config.explore
    reasons: list[str] = []
    if config.auto_adjust:
        weight, explore, reasons = recommend_adjustments(report, config.corpus_weight, config.explore)
        gen_config.corpus_weight = weight
        for reason in reasons:
            say(f"warmup adjustment: {reason}")
    record = {
        "report": dataclasses.asdict(report),
        "corpus_weight_before": config.corpus_weight,
        "explore_before": config.explore,
        "corpus_weight_after": weight,
        "explore_after": explore,
        "reasons": list(reasons),
        "adjusted": weight != config.corpus_weight or explore != config.explore,
    }
    manifest.warmup = json.loads(json.dumps(record, default=str))  # as manifest.json will hold it
