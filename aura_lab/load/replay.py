"""Offline replay: a run's traffic through any codecs, in-process, with no sockets.

Each conversation goes through each codec in order with its own connection state, through
the protocol function the server calls (``load.links.InProcessLink`` and
``wire.protocol.answer``), so a codec sees exactly what it would see behind a server:
replaying a run through the codecs it used gives the same compressed size for every
message. The result is an ordinary run folder that every loader, notebook, report and
comparison reads; its manifest says what was replayed (``options["replay_of"]``).

A source is a run folder (its main-phase messages, as the primary codec's records hold
them) or a folder of the peer's trace files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import metrics
from ..analysis.run import Run, summarise_run
from ..codecs import parse_codec
from ..config import MIN_COMPRESSION_SIZE, RunConfig, split_specs
from ..errors import InputError
from ..timing import ThinkTime
from ..traces.folder import Manifest, RunFolder, ServerInfo
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratedMessage, GeneratorConfig
from ..traffic.templates import load_templates
from .bridge import run_blocking
from .console import Printer
from .engine import Engine, EngineSettings, writer_listener
from .links import Group
from .runner import new_run_id, utc_now, versions

Conversations = dict[int, list[GeneratedMessage]]


def conversations_from_traces(df: pd.DataFrame, codec: str | None = None) -> Conversations:
    """The messages of each user, in order, from one codec's main-phase records (the
    first codec seen when ``codec`` is None: every codec saw the same messages)."""
    main = metrics.select(df, phase="main") if "phase" in df else df
    if main.empty:
        return {}
    codec = codec or str(main["codec"].iloc[0])
    rows = metrics.select(main, phase=None, codec=codec).sort_values(["user_id", "turn"], kind="stable")
    out: Conversations = {}
    for user_id, part in rows.groupby("user_id", sort=True):
        n_turns = int(part["turn"].max()) + 1
        out[int(user_id)] = [_message(row, n_turns) for row in part.itertuples(index=False)]
    return out


def _message(row: Any, n_turns: int) -> GeneratedMessage:
    def ints(values) -> tuple[int, ...]:
        return tuple(int(v) for v in values) if values is not None and len(values) else ()

    slots = row.slot_values if getattr(row, "slot_values", None) is not None else ()
    return GeneratedMessage(
        user_id=int(row.user_id), turn=int(row.turn), n_turns=n_turns,
        role=row.role if isinstance(row.role, str) else "",  # the peer's traces have none: recorded as null
        text=str(row.text), source=str(row.source) if isinstance(row.source, str) else "replay",
        template_ids=ints(getattr(row, "template_ids", None)),
        slot_values=tuple(tuple(str(v) for v in s) for s in slots),
        target_min=int(row.target_min) if pd.notna(getattr(row, "target_min", None)) else 0,
        target_max=int(row.target_max) if pd.notna(getattr(row, "target_max", None)) else 0,
    )  # fmt: skip


def load_source(source: str | Path) -> tuple[Conversations, dict, str]:
    """``(conversations, the source's options, a description)`` of a run folder or a
    peer trace folder."""
    path = Path(source)
    folder = RunFolder(path)
    options: dict = {}
    primary = None
    if folder.is_run():
        manifest = folder.read_manifest()
        options, primary = dict(manifest.options), manifest.primary_codec
    df = load_traces(path)  # a clear error for anything that is not traces
    conversations = conversations_from_traces(df, primary)
    if not conversations:
        raise InputError("no main-phase messages to replay", where=str(path), fix="give a run with traffic")
    return conversations, options, f"run folder {path}" if folder.is_run() else f"trace folder {path}"


def replay(source: str | Path, codecs: Sequence[str] | str = ("aura", "deflate-stream", "zstd-dict"), *,
           trace_dir: str = "data/traces", run_id: str | None = None,
           min_compression_size: int = MIN_COMPRESSION_SIZE, quiet: bool = False) -> Run:  # fmt: skip
    """Replay ``source`` (a run folder or a peer trace folder) through ``codecs`` (specs,
    the first primary) in-process; returns the new run (an ordinary run folder). Blocks,
    also inside Jupyter. Sizes in bytes."""
    return run_blocking(lambda stop: areplay(source, codecs, trace_dir=trace_dir, run_id=run_id,
                                             min_compression_size=min_compression_size, quiet=quiet))  # fmt: skip


async def areplay(source: str | Path, codecs: Sequence[str] | str = ("aura", "deflate-stream", "zstd-dict"), *,
                  trace_dir: str = "data/traces", run_id: str | None = None,
                  min_compression_size: int = MIN_COMPRESSION_SIZE, quiet: bool = False) -> Run:  # fmt: skip
    """The coroutine behind ``replay``."""
    specs = split_specs(codecs) if isinstance(codecs, str) else tuple(codecs)
    config = RunConfig(codecs=specs, trace_dir=trace_dir, run_id=run_id, quiet=quiet,
                       min_compression_size=min_compression_size, think_time="0")  # fmt: skip
    config.validate()
    for spec in specs:
        parse_codec(spec)  # an unknown codec or option: a clear error before anything starts
    say = Printer(quiet)
    conversations, source_options, description = load_source(source)
    run_id = config.run_id or new_run_id()
    folder = RunFolder.create(config.trace_dir, run_id)
    options = {**source_options, **{k: (list(v) if isinstance(v, tuple) else v)
                                    for k, v in dataclasses.asdict(config).items()}}  # fmt: skip
    options.update(replay_of=str(source), users=len(conversations))
    manifest = Manifest(run_id=run_id, started_at=utc_now(), options=options, seed=source_options.get("seed"),
                        versions=versions(), planned_messages=sum(map(len, conversations.values())))  # fmt: skip
    manifest.notes.append(f"offline replay of the {description} through {', '.join(specs)}, in-process "
                          "(no sockets): latency is the codec's time, not a network's")  # fmt: skip
    say(f"replay: {manifest.planned_messages} messages of {len(conversations)} conversations "
        f"through {', '.join(specs)}")  # fmt: skip
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="aura-lab-replay-"))
        groups = []
        for index, spec in enumerate(specs):
            parsed = parse_codec(spec)
            codec = parsed.build(**parsed.defaults(min_compression_size=min_compression_size,
                                                   workdir=f"{scratch}/codec-{index}"))  # fmt: skip
            stack.callback(codec.close)
            groups.append(Group(spec, codec=codec, min_compression_size=min_compression_size))
            health = {"codec": spec, "templates": len(codec.templates()), "codec_info": codec.info()}
            manifest.servers.append(ServerInfo(f"inprocess://{spec}", spec, True, health))
        folder.write_manifest(manifest)
        writer = TraceWriter(folder.traces_dir)
        gen_config = GeneratorConfig(library=load_templates(None))
        settings = EngineSettings(run_id=run_id, think_time=ThinkTime.parse("0"))
        engine = Engine(settings, gen_config, groups, _NoSelector(), len(conversations), [writer_listener(writer)])
        status = "failed"
        try:
            await engine.run_users(sorted(conversations), conversations=conversations)
            status = "complete"
        finally:
            writer.close()
            manifest.status, manifest.ended_at = status, utc_now()
            folder.write_manifest(manifest)
    traces = load_traces(folder.path)
    summary = summarise_run(traces, manifest)
    folder.write_summary(summary)
    result = Run(folder.path, manifest, summary, traces)
    say(result.summary_text())
    say(f"\ntraces: {folder.path}\nreport: aura-lab report {folder.path}")
    return result


class _NoSelector:
    """A replay does not choose templates: its messages are given."""

    def choose(self, candidates: Sequence[int], rng: Any) -> int:
        raise AssertionError("a replay generates no message")  # pragma: no cover

    def update(self, template_id: int, ratio: float) -> None:
        pass
