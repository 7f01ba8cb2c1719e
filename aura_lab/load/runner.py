"""The main job: play realistic conversations against servers and record everything.

``run(...)`` blocks (in a plain script, and inside a Jupyter cell: see ``bridge``);
``await arun(...)`` is the coroutine. Both return an ``aura_lab.analysis.run.Run``.
The options are those of ``aura-lab run`` (``aura_lab.config.RunConfig``).

The steps, in order: check the options and read the input files (nothing has started
yet, so a mistake costs nothing); create the run folder and its manifest; start the
embedded servers (or probe the external ones); learn their template library; run the
phases; write the manifest, summary and any extra files.

Whatever stops a run (Ctrl-C, SIGTERM, a trace write that failed, an error), its
records are written and its manifest says what happened (``stopping.Stopper``); a run
killed hard leaves a manifest that readers see as ``incomplete``
(``traces.folder.RunFolder.read_manifest``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import platform
import secrets
import tempfile
import threading
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Unpack

from .. import __version__
from ..analysis.run import Run
from ..analysis.summary import summarise
from ..codecs import codec_class
from ..config import RunConfig, RunOptions, with_run_options
from ..errors import AuraLabError, InputError
from ..system import clean_stale_scratch, this_process
from ..traces.folder import Manifest, RunFolder, ServerInfo, note_dead_servers, write_json
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratorConfig, config_from_files, user_profile
from ..traffic.metadata import load_metadata
from ..traffic.templates import PatternLibrary, load_templates
from .bridge import run_blocking
from .console import Printer
from .links import Group
from .phases import run_phases
from .probes import handshake_problems, http_json, installed_templates, served_templates, unreachable
from .stopping import Stopper


@with_run_options
def run(config: RunConfig | None = None, *, _exits_after: bool = False, **options: Unpack[RunOptions]) -> Run:
    """Run simulated users against servers and record every message; blocks until done.

    ``options`` are ``RunConfig``'s (``users=10``, ``think_time="0"`` seconds,
    ``codecs="aura"``, ``timeout=10.0`` seconds, ...), applied over ``config`` when both
    are given; each is checked against its range before anything starts. Returns the
    ``Run`` (its folder, manifest, summary and traces); its ``status`` is ``complete``,
    ``interrupted`` (Ctrl-C, SIGTERM) or ``failed`` (trace writes that failed: the
    reason is ``run.manifest.error``, and every record written is kept). Inside a running
    event loop (Jupyter) the run goes on a worker thread; interrupting the kernel stops
    it cleanly.
    """
    return run_blocking(lambda stop: arun(config, _stop_flag=stop, _exits_after=_exits_after, **options))


@with_run_options
async def arun(
    config: RunConfig | None = None,
    *,
    _stop_flag: threading.Event | None = None,
    _exits_after: bool = False,
    **options: Unpack[RunOptions],
) -> Run:
    """The coroutine behind ``run``: the same options (seconds, bytes), the same ``Run``.
    (``_exits_after``: the caller exits when it returns, so signals stay noted.)"""
    given: dict[str, Any] = dict(options)  # strings for tuples are accepted (RunConfig converts)
    config = dataclasses.replace(config, **given) if config else RunConfig(**given)
    config.validate()
    say = Printer(config.quiet)
    stopper = Stopper(_stop_flag)
    stopper.starting()
    try:
        return await _run(config, say, stopper)
    finally:
        stopper.done(restore=not _exits_after)


async def _run(config: RunConfig, say: Printer, stopper: Stopper) -> Run:
    for path in clean_stale_scratch():
        say(f"removed {path}: the scratch dir of a run that was killed")
    check_codecs(config.codecs if not config.urls else ())
    if (config.workers > 1 or config.scheduler) and importlib.util.find_spec("distributed") is None:
        raise InputError(
            "sharding users over processes needs Dask, which is not installed",
            where="workers",
            fix="pip install 'aura-lab[dask]'",
        )
    _probe_urls(config, say)
    given_templates = load_templates(config.templates) if config.templates else None  # a bad file fails now
    gen_config = config_from_files(
        config.corpus, config.metadata, library=given_templates, **config.generator_options()
    )
    run_id = config.run_id or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = RunFolder.create(config.trace_dir, run_id)
    manifest = new_manifest(config, run_id, gen_config)
    # main-phase messages planned (fixed by seed and user): on disk from the start, so a
    # run killed hard still says how far it got
    manifest.planned_messages = sum(user_profile(gen_config, u)[1] for u in range(config.users))
    folder.write_manifest(manifest)  # from its first moment a run folder says what it is
    status = "failed"
    writer: TraceWriter | None = None
    groups: list[Group] = []
    with contextlib.ExitStack() as stack:
        try:
            groups = _start_servers(config, stack, manifest, folder)
            _use_templates(config, groups, manifest, gen_config, given_templates)
            for warning in manifest.files["metadata_warnings"]:
                say(f"warning: {warning}")
            folder.write_manifest(manifest)
            writer = TraceWriter(
                folder.traces_dir, shard=0, on_failure=lambda _: stopper.request_threadsafe("write_failed")
            )
            stopper.sending()
            status = await run_phases(config, gen_config, groups, writer, manifest, say, stopper)
        except KeyboardInterrupt:
            status = "interrupted"
            manifest.notes.append("interrupted during start-up, before any message was sent")
            raise
        except BaseException as exc:
            manifest.error = _one_line(exc)
            raise
        finally:
            stopper.sending()  # from here a signal is only noted: the files get written
            status = _finish(folder, manifest, writer, groups, status, stopper, say)
    return _conclude(config, folder, manifest, say)


def _finish(
    folder: RunFolder,
    manifest: Manifest,
    writer: TraceWriter | None,
    groups: list[Group],
    status: str,
    stopper: Stopper,
    say: Printer,
) -> str:
    """Write every record left, then the manifest with the status and why."""
    if writer is not None:
        written_all = writer.close()
        if not written_all or (status == "failed" and writer.failure):
            status = "failed"
            manifest.error = f"trace write failed: {writer.failure}" + (
                "; sending stopped, every record of a message sent is written" if written_all else ""
            )
        elif writer.failure:
            manifest.notes.append(f"a trace write failed ({writer.failure}); written again: every record is kept")
    for group in groups:
        note_dead_servers(manifest, group.dead_servers())
    if stopper.later_signals:
        manifest.notes.append(f"{stopper.later_signals} more stop signal(s) came while the run was finishing")
    if stopper.reason == "interrupted" and status == "complete":
        manifest.notes.append("a stop signal came after the last message: it changed nothing, the run is complete")
    manifest.status = status
    manifest.ended_at = utc_now()
    try:
        folder.write_manifest(manifest)
    except OSError as exc:
        say(f"warning: cannot write {folder.manifest_path} ({exc.strerror}): readers will see the run as incomplete")
    return status


def _conclude(config: RunConfig, folder: RunFolder, manifest: Manifest, say: Printer) -> Run:
    """The summary and the extra files of a run whose records and manifest are written."""
    traces = load_traces(folder.path)
    summary = summarise(traces, primary_codec=manifest.primary_codec)
    summary["warmup"] = manifest.warmup
    summary["dead_servers"] = {s.url: s.dead for s in manifest.servers if s.dead}
    try:
        folder.write_summary(summary)
    except OSError as exc:
        say(f"warning: cannot write {folder.summary_path} ({exc.strerror}); `aura-lab doctor` writes it later")
    result = Run(folder.path, manifest, summary, traces)
    say(result.summary_text())
    for note in manifest.notes:
        say(f"note: {note}")
    say(f"\ntraces: {folder.path}")
    _write_extras(config, result)
    if config.report and manifest.status != "failed":
        from ..report.render import render_report

        say(f"report: {render_report(folder.path)}")
    else:
        say(f"report: aura-lab report {folder.path}")
    return result


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500] if not isinstance(exc, AuraLabError) else str(exc)


def _probe_urls(config: RunConfig, say: Printer) -> None:
    """External URLs: a URL that can never connect (TLS to a plain server, not a
    WebSocket endpoint) fails the run now; one nobody listens on is refused when all
    are, else warned about (its users fail over to the next URL)."""
    if not config.urls:
        return
    dead = unreachable(config.urls)
    if len(dead) == len(config.urls):
        raise InputError(
            f"nothing is listening at {', '.join(dead)}",
            where="urls",
            fix="start the server, check the address, or leave out --url for embedded servers",
        )
    for url in dead:
        say(f"warning: nothing is listening at {url}; its users will fail over to the next URL")
    problems = handshake_problems([u for u in config.urls if u not in dead])
    if problems:
        url, (problem, fix) = next(iter(problems.items()))
        raise InputError(f"{url}: {problem}", where="urls", fix=fix)


def check_codecs(names, where: str = "codecs") -> None:
    """Every codec name is known and its package installed (a clear error, now)."""
    for name in names:
        try:
            codec_class(name)
        except InputError as exc:
            raise InputError(exc.message, where=where, fix=exc.fix) from None


def new_manifest(config: RunConfig, run_id: str, gen_config: GeneratorConfig) -> Manifest:
    """The manifest of a run about to start: every option, seed, versions, input files."""
    manifest = Manifest(
        run_id=run_id,
        started_at=utc_now(),
        options={k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
        seed=config.seed,
        versions=versions(),
        files={
            "corpus": gen_config.corpus.summary() if gen_config.corpus else None,
            "metadata": gen_config.metadata.summary() if gen_config.metadata else None,
            "metadata_warnings": gen_config.metadata.warnings if gen_config.metadata else [],
        },
        host={"platform": platform.platform(), "cpus": os.cpu_count(), **this_process()},
    )
    if config.selection == "epsilon-greedy":
        manifest.notes.append(
            "epsilon-greedy selection learns from replies: its template choices, "
            "and so the traffic, depend on the order replies arrive"
        )
    return manifest


def versions() -> dict:
    out: dict[str, str | None] = {"aura-lab": __version__, "python": platform.python_version()}
    for package in ("aura-compression", "websockets", "zstandard", "brotli", "pandas", "pyarrow"):
        try:
            out[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            out[package] = None
    return out


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _start_servers(
    config: RunConfig, stack: contextlib.ExitStack, manifest: Manifest, folder: RunFolder
) -> list[Group]:
    if config.urls:
        health = http_json(config.urls[0], "/health") or {}
        label = str(health.get("codec") or "external")
        manifest.servers = [ServerInfo(url, label, False) for url in config.urls]
        return [Group(label, list(config.urls))]
    from ..servers.hosting import serve_many
    from ..servers.limits import ServerLimits

    # named after this process, so the next run removes it if this one is killed hard
    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"aura-lab-servers-{os.getpid()}-"))
    # room for every user's connection; no idle close while a user thinks or waits
    limits = ServerLimits(
        max_connections=config.users + 64,
        idle_timeout=min(86_400.0, max(ServerLimits.idle_timeout, config.think().longest + config.timeout + 10)),
    )
    handles = stack.enter_context(
        serve_many(
            list(config.codecs),
            min_compression_size=config.min_compression_size,
            in_process=config.in_process_servers,
            workdir=scratch,
            limits=limits,
            log=folder.servers_log,
        )
    )
    for handle in handles:
        manifest.servers.append(ServerInfo(handle.url, handle.codec, True, http_json(handle.url, "/health")))
    return [Group(h.codec, [h.url]) for h in handles]


def _use_templates(
    config: RunConfig,
    groups: list[Group],
    manifest: Manifest,
    gen_config: GeneratorConfig,
    given: PatternLibrary | None,
) -> None:
    """The template library the traffic is generated from: ``--templates FILE`` when
    given, else the primary server's ``GET /templates``, else AURA's installed library;
    the metadata is validated against the library in use."""
    library, note = (given, None) if given is not None else served_templates(groups[0].urls[0])
    if note:
        manifest.notes.append(note)
    if library is None:
        library = installed_templates()
        manifest.templates_from = f"{library.source} (installed)"
    else:
        manifest.templates_from = config.templates if given is not None else library.source
    if library.same_patterns(gen_config.library):
        return
    gen_config.library = library
    if gen_config.metadata is not None:
        gen_config.metadata = load_metadata(gen_config.metadata.path, library)
        manifest.files["metadata"] = gen_config.metadata.summary()
        manifest.files["metadata_warnings"] = gen_config.metadata.warnings


def _write_extras(config: RunConfig, result: Run) -> None:
    from ..traces.peer import peer_export, write_peer_traces

    try:
        if config.export:
            write_json(Path(config.export), peer_export(result))
        if config.peer_traces:
            write_peer_traces(result.traces, Path(config.peer_traces), codec=result.primary_codec)
    except OSError as exc:
        where = config.export if config.export and not Path(config.export).exists() else config.peer_traces
        raise InputError(
            f"cannot write it ({exc.strerror or exc}); the run itself is complete in {result.path}",
            where=str(exc.filename or where),
            fix="check the path and its permissions",
        ) from None
