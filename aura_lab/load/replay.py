"""Offline replay: traffic through any codecs, in-process, with no sockets.

Each conversation goes through each codec in order with its own connection state, through
the protocol function the server calls (``load.links.InProcessLink`` and
``wire.protocol.answer``), so a codec sees exactly what it would see behind a server:
replaying a run through the codecs it used gives the same compressed size for every
message (a streamed reply's frames are replayed as the frames they were). The result is
an ordinary run folder that every loader, notebook, report and comparison reads; its
manifest says what was replayed (``options["replay_of"]``).

A source is a run folder (its main-phase messages, as the primary codec's records hold
them), a folder of the peer's trace files, conversation logs (every format
``traces.logs.read_logs`` reads; one conversation a user), or a traffic profile and a
seed (the traffic ``aura-lab run --profile`` would generate for that many users).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import metrics
from ..analysis.run import Run, summarise_run
from ..codecs import parse_codec
from ..codecs.spec import shared_context_note
from ..config import DEFAULT_CODECS, DEFAULT_USERS, MIN_COMPRESSION_SIZE, RunConfig, split_specs
from ..errors import InputError
from ..system import this_process
from ..timing import ThinkTime
from ..traces.folder import Manifest, RunFolder
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratedMessage, GeneratorConfig, config_from_files, user_messages
from ..traffic.replay import replay_messages
from ..traffic.templates import load_templates
from .bridge import run_blocking
from .console import Printer
from .ending import save_manifest_aside
from .engine import Engine, EngineSettings, writer_listener
from .inprocess import in_process_groups, in_process_servers
from .runner import new_run_id, utc_now, versions
from .stopping import Stopper
from .traffic_sources import read_replay

Conversations = dict[int, list[GeneratedMessage]]
PathLike = str | Path


@dataclass
class Source:
    """A replay's traffic and what the new run's manifest says of it."""

    conversations: Conversations
    description: str
    options: dict = field(default_factory=dict)  # the source's options, under the replay's own
    profile: dict | None = None
    traffic: str | None = None  # a source run's traffic line
    files: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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

    def given(name: str) -> Any:
        value = getattr(row, name, None)
        return None if value is None or pd.isna(value) else value

    slots = row.slot_values if getattr(row, "slot_values", None) is not None else ()
    return GeneratedMessage(
        user_id=int(row.user_id), turn=int(row.turn), n_turns=n_turns,
        role=str(row.role) if given("role") is not None else None,
        text=str(row.text), source=str(row.source) if isinstance(row.source, str) else "replay",
        template_ids=ints(getattr(row, "template_ids", None)),
        slot_values=tuple(tuple(str(v) for v in s) for s in slots),
        target_min=int(row.target_min) if given("target_min") is not None else 0,
        target_max=int(row.target_max) if given("target_max") is not None else 0,
        conversation_id=str(given("conversation_id")) if given("conversation_id") is not None else None,
        message_index=int(given("message_index")) if given("message_index") is not None else None,
    )  # fmt: skip


def load_source(source: PathLike | Sequence[PathLike] | None, *, profile: str | None = None,
                users: int | None = None, seed: int = RunConfig.seed) -> Source:  # fmt: skip
    """The conversations of ``source``: a run folder, a peer trace folder, conversation
    logs (one path or several), or, with ``source`` None, ``profile`` generated for
    ``users`` users (default 10) from ``seed``. ``users`` also caps the conversations
    taken from a run or logs."""
    if (source is None) == (profile is None):
        raise InputError("give a source or a profile, not both" if profile else "give a source or a profile",
                         where="profile" if profile else "source",
                         fix="a run folder, conversation logs, or profile='assistant'")  # fmt: skip
    if source is None:
        return _generated(str(profile), users or DEFAULT_USERS, seed)
    paths = [Path(source)] if isinstance(source, (str, Path)) else [Path(p) for p in source]
    if not paths:
        raise InputError("no source given", where="source", fix="give a run folder or conversation logs")
    for path in paths:
        if not path.exists():
            raise InputError("no such trace folder or log file", where=str(path),
                             fix="give a run folder, the peer's trace folder, or conversation logs")  # fmt: skip
    if len(paths) == 1 and paths[0].is_dir() and not _holds_runs(paths[0]):
        found = _traces_source(paths[0])  # a run folder, the peer's traces, or a clear error
    else:
        found = _logs_source(paths, users)
    if users is not None and len(found.conversations) > users:
        found.conversations = dict(itertools.islice(sorted(found.conversations.items()), users))
    return found


def _holds_runs(path: Path) -> bool:
    """A folder of run folders (read as logs: one conversation per user of each run)."""
    return not RunFolder(path).is_run() and any(RunFolder(p).is_run() for p in path.iterdir() if p.is_dir())


def _traces_source(path: Path) -> Source:
    folder = RunFolder(path)
    if not folder.is_run():
        df = load_traces(path)  # a clear error for anything that is not traces
        return Source(_nonempty(conversations_from_traces(df), path), f"trace folder {path}")
    manifest = folder.read_manifest()
    conversations = _nonempty(conversations_from_traces(load_traces(path), manifest.primary_codec), path)
    return Source(conversations, f"run folder {path}", dict(manifest.options), manifest.profile, manifest.traffic)


def _nonempty(conversations: Conversations, path: Path) -> Conversations:
    if not conversations:
        raise InputError("no main-phase messages to replay", where=str(path), fix="give a run with traffic")
    return conversations


def _logs_source(paths: list[Path], users: int | None) -> Source:
    resolved = [str(p.resolve()) for p in paths]
    logged, report, more = read_replay(RunConfig(replay=tuple(resolved), users=users, offline=True), where="source")
    conversations = {u: replay_messages(c, u) for u, c in enumerate(logged)}
    names = ", ".join(str(p) for p in paths)
    source = Source(conversations, f"{len(logged)} logged conversations of {names}", {"replay": resolved})
    source.files["replay"] = report.to_dict()
    if more:
        source.notes.append(f"replayed the first {len(logged)} conversations of the logs; more were left out (users)")
    return source


def _generated(profile: str, users: int, seed: int) -> Source:
    RunConfig(users=users, seed=seed, profile=profile, offline=True).validate()
    gen = config_from_files(None, None, profile=profile, seed=seed)
    conversations = {u: list(user_messages(gen, u)) for u in range(users)}
    options = {"profile": profile, "seed": seed}
    return Source(conversations, f"profile {gen.profile.name} (seed {seed}, {users} users)", options,
                  gen.profile.describe())  # fmt: skip


def replay(source: PathLike | Sequence[PathLike] | None = None, codecs: Sequence[str] | str = DEFAULT_CODECS, *,
           profile: str | None = None, users: int | None = None, seed: int = RunConfig.seed,
           trace_dir: str = "data/traces", run_id: str | None = None,
           min_compression_size: int = MIN_COMPRESSION_SIZE, quiet: bool = False,
           _exits_after: bool = False) -> Run:  # fmt: skip
    """Replay ``source`` (a run folder, a peer trace folder or conversation logs; or,
    without a source, ``profile``'s traffic for ``users`` users from ``seed``) through
    ``codecs`` (specs, the first primary) in-process; returns the new run (an ordinary run
    folder). Blocks, also inside Jupyter. Sizes in bytes. Stopped as a run is (Ctrl-C,
    SIGTERM, the notebook's interrupt): every record kept, the status ``interrupted``."""
    return run_blocking(lambda stop: areplay(
        source, codecs, profile=profile, users=users, seed=seed, trace_dir=trace_dir, run_id=run_id,
        min_compression_size=min_compression_size, quiet=quiet, _stop_flag=stop, _exits_after=_exits_after,
    ))  # fmt: skip


async def areplay(source: PathLike | Sequence[PathLike] | None = None, codecs: Sequence[str] | str = DEFAULT_CODECS,
                  *, profile: str | None = None, users: int | None = None, seed: int = RunConfig.seed,
                  trace_dir: str = "data/traces", run_id: str | None = None,
                  min_compression_size: int = MIN_COMPRESSION_SIZE, quiet: bool = False,
                  _stop_flag: threading.Event | None = None, _exits_after: bool = False) -> Run:  # fmt: skip
    """The coroutine behind ``replay``."""
    stopper = Stopper(_stop_flag)
    stopper.starting()
    try:
        return await _replay(source, codecs, profile, users, seed, trace_dir, run_id, min_compression_size, quiet,
                             stopper)  # fmt: skip
    finally:
        stopper.done(restore=not _exits_after)


async def _replay(source: PathLike | Sequence[PathLike] | None, codecs: Sequence[str] | str, profile: str | None,
                  users: int | None, seed: int, trace_dir: str, run_id: str | None, min_compression_size: int,
                  quiet: bool, stopper: Stopper) -> Run:  # fmt: skip
    specs = split_specs(codecs) if isinstance(codecs, str) else tuple(codecs)
    config = RunConfig(codecs=specs, trace_dir=trace_dir, run_id=run_id, quiet=quiet, users=users, seed=seed,
                       min_compression_size=min_compression_size, think_time="0", offline=True)  # fmt: skip
    config.validate()
    for spec in specs:
        parse_codec(spec)  # an unknown codec or option: a clear error before anything starts
    say = Printer(quiet)
    found = load_source(source, profile=profile, users=users, seed=seed)
    conversations = found.conversations
    run_id = config.run_id or new_run_id()
    own = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}
    # what the traffic was is the source's to say; how it was replayed is this replay's
    options = {**own, "profile": None, "seed": None, **found.options}
    options.update({k: own[k] for k in ("codecs", "trace_dir", "run_id", "min_compression_size", "think_time")})
    options.update(run_id=run_id, replay_of=found.description if source is None else _text(source),
                   users=len(conversations))  # fmt: skip
    # a run says how its replies travelled; generated and logged messages go whole
    how = f" (its traffic: {found.traffic})" if found.traffic else "; every message whole"
    traffic = f"offline replay of the {found.description}{how}"
    # host: this process, so that a replay killed hard reads as incomplete
    manifest = Manifest(run_id=run_id, started_at=utc_now(), options=options, seed=found.options.get("seed"),
                        versions=versions(), planned_messages=sum(map(len, conversations.values())),
                        profile=found.profile, traffic=traffic, files=dict(found.files),
                        host=this_process())  # fmt: skip
    manifest.notes.append(f"offline replay of the {found.description} through {', '.join(specs)}, in-process "
                          "(no sockets): latency is the codec's time, not a network's")  # fmt: skip
    manifest.notes.extend(found.notes)
    shared = shared_context_note(specs)
    if shared:
        manifest.notes.append(shared)
    say(f"replay: {manifest.planned_messages} messages of {len(conversations)} conversations "
        f"through {', '.join(specs)}")  # fmt: skip
    status, folder, writer = "failed", None, None
    with contextlib.ExitStack() as stack:
        try:
            with stopper.held():  # from its first moment a run folder says what it is
                folder = RunFolder.create(config.trace_dir, run_id)
                folder.write_manifest(manifest)
            # named after this process, so the next run removes it if this one is killed hard
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"aura-lab-replay-{os.getpid()}-"))
            groups = in_process_groups(specs, min_compression_size, scratch, stack)
            manifest.servers.extend(in_process_servers(groups))
            folder.write_manifest(manifest)
            writer = TraceWriter(folder.traces_dir, on_failure=lambda _: stopper.request_threadsafe("write_failed"))
            gen_config = GeneratorConfig(library=load_templates(None))
            settings = EngineSettings(run_id=run_id, think_time=ThinkTime.parse("0"))
            engine = Engine(settings, gen_config, groups, _NoSelector(), len(conversations),
                            [writer_listener(writer)], traffic=conversations.__getitem__)  # fmt: skip
            stopper.sending()
            stopper.attach(engine)
            await engine.run_users(sorted(conversations))
            status = {"interrupted": "interrupted", "write_failed": "failed"}.get(stopper.reason or "", "complete")
        except KeyboardInterrupt:
            status = "interrupted"
            manifest.notes.append("interrupted during start-up, before any message was sent")
            raise
        except BaseException as exc:
            manifest.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            stopper.sending()  # from here a signal is only noted: the files get written
            if writer is not None and not writer.close():  # its records are in the fallback file the error names
                status, manifest.error = "failed", f"trace write failed: {writer.failure}"
            manifest.status, manifest.ended_at = status, utc_now()
            if folder is not None:
                try:
                    folder.write_manifest(manifest)
                except OSError as exc:  # a full disk: kept aside for doctor, not a traceback
                    say.warn(f"cannot write {folder.manifest_path} ({exc.strerror}); {save_manifest_aside(manifest)}")
    assert folder is not None
    traces = load_traces(folder.path)
    summary = summarise_run(traces, manifest)
    try:
        folder.write_summary(summary)
    except OSError as exc:
        say.warn(f"cannot write {folder.summary_path} ({exc.strerror}); aura-lab doctor {folder.path} writes it later")
    result = Run(folder.path, manifest, summary, traces)
    say(result.summary_text())
    say(f"\ntraces: {folder.path}\nreport: aura-lab report {folder.path}")
    return result


def _text(source: PathLike | Sequence[PathLike]) -> str | list[str]:
    return str(source) if isinstance(source, (str, Path)) else [str(p) for p in source]


class _NoSelector:
    """A replay does not choose templates: its messages are given."""

    def choose(self, candidates: Sequence[int], rng: Any) -> int:
        raise AssertionError("a replay generates no message")  # pragma: no cover

    def update(self, template_id: int, ratio: float) -> None:
        pass
