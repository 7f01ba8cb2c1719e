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
import socket
import tempfile
import threading
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any, Unpack

from .. import __version__
from ..analysis.run import Run
from ..codecs import parse_codec
from ..codecs.spec import shared_context_note
from ..config import RunConfig, scheduler_address
from ..errors import AuraLabError, InputError
from ..servers.limits import check_server_room, server_limits
from ..system import clean_stale_scratch, this_process
from ..traces.folder import Manifest, RunFolder, ServerInfo
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratorConfig, config_from_files, slot_space
from ..traffic.metadata import load_metadata
from ..traffic.templates import PatternLibrary, load_templates
from ..wire.labels import EXTERNAL, context_of, from_health
from .auto_update import adds_templates, record_libraries, with_templates_from
from .bridge import run_blocking
from .console import Printer
from .ending import conclude, finish, utc_now
from .inprocess import group_templates, in_process_groups, in_process_servers
from .links import Group
from .phases import planned_messages, run_phases
from .probes import handshake_problems, http_json, installed_templates, served_templates, unreachable
from .run_options import RunOptions, with_run_options
from .stopping import Stopper
from .traffic_sources import read_traffic_inputs, traffic_line
from .verify import Verifier


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
    config = with_templates_from(config.validate())
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
    if config.verify is not None:
        check_verify(config.verify)
    if (config.workers > 1 or config.scheduler) and importlib.util.find_spec("distributed") is None:
        raise InputError(
            "sharding users over processes needs Dask, which is not installed",
            where="workers",
            fix="pip install 'aura-lab[dask]'",
        )
    _probe_urls(config, say)
    _probe_scheduler(config)
    given_templates = load_templates(config.templates) if config.templates else None  # a bad file fails now
    gen_config = config_from_files(
        config.corpus, config.metadata, library=given_templates, **config.generator_options()
    )
    traffic, extras = read_traffic_inputs(config)
    config = extras.pop("config")
    config.check_resources()  # a replay's users are known once its logs are read
    if not (config.urls or config.offline):
        check_server_room(config)
    run_id = config.run_id or new_run_id()
    manifest = new_manifest(config, run_id, gen_config)
    manifest.files.update(extras["files"])
    manifest.notes.extend(extras["notes"])
    manifest.warnings.extend(say.warnings)  # those printed before the manifest existed
    say.warnings = manifest.warnings  # one list from here: what is printed is what is kept
    # main-phase messages planned (fixed by seed and user, or by the logs): on disk from
    # the start, so a run killed hard still says how far it got
    manifest.planned_messages = planned_messages(config, gen_config, traffic)
    status = "failed"
    folder: RunFolder | None = None
    writer: TraceWriter | None = None
    groups: list[Group] = []
    verifier: Verifier | None = None
    async with contextlib.AsyncExitStack() as stack:
        try:
            with stopper.held():  # from its first moment a run folder says what it is
                folder = RunFolder.create(config.trace_dir, run_id)
                folder.write_manifest(manifest)
            cluster = None
            if config.workers > 1 and not config.scheduler:
                from .distributed import EarlyCluster

                cluster = EarlyCluster(config.workers)  # its processes start while the servers do
                stack.push_async_callback(cluster.close)
            groups = _start_servers(config, stack, manifest, folder)
            _use_templates(config, groups, manifest, gen_config, given_templates)
            record_libraries(manifest)
            manifest.files["slot_space"] = {str(k): v for k, v in slot_space(gen_config).items()}
            for warning in manifest.files["metadata_warnings"]:
                say.warn(warning)
            verifier = await _start_verifier(config, manifest, say)
            if verifier is not None:
                stack.push_async_callback(verifier.close)
            folder.write_manifest(manifest)
            writer = TraceWriter(
                folder.traces_dir, shard=0, on_failure=lambda _: stopper.request_threadsafe("write_failed")
            )
            stopper.sending()
            status = await run_phases(
                config, gen_config, groups, writer, manifest, say, stopper, traffic, verifier, cluster
            )
        except KeyboardInterrupt:
            status = "interrupted"
            manifest.notes.append("interrupted during start-up, before any message was sent")
            raise
        except BaseException as exc:
            manifest.error = _one_line(exc)
            raise
        finally:
            stopper.sending()  # from here a signal is only noted: the files get written
            if verifier is not None and verifier.failure:
                say.warn(f"--verify: the client's check failed ({verifier.failure}); later messages are unchecked")
            if folder is not None:
                status = finish(folder, manifest, writer, groups, status, stopper, say)
    assert folder is not None  # created, or the block above raised
    return conclude(config, folder, manifest, groups[0], extras["reference"], say)


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
        say.warn(f"nothing is listening at {url}; its users will fail over to the next URL")
    problems = handshake_problems([u for u in config.urls if u not in dead])
    if problems:
        url, (problem, fix) = next(iter(problems.items()))
        raise InputError(f"{url}: {problem}", where="urls", fix=fix)


def _probe_scheduler(config: RunConfig) -> None:
    """A ``--scheduler`` nobody listens on fails the run now, not after Dask's 30 s."""
    address = scheduler_address(config.scheduler) if config.scheduler else None
    if address is None:
        return
    try:
        socket.create_connection(address, timeout=5).close()
    except OSError as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {config.scheduler} ({exc.strerror or exc})",
            where="scheduler",
            fix="start it with dask scheduler, or leave out --scheduler to use a LocalCluster",
        ) from None


def check_verify(spec: str, where: str = "verify") -> None:
    """``--verify CODEC[:options]`` names a known codec whose package is installed."""
    check_codecs([spec], where=where)


async def _start_verifier(config: RunConfig, manifest: Manifest, say: Printer) -> Verifier | None:
    """The client's own round-trip check (``--verify``), started before the run; said in
    the manifest. Servers that report round trips keep theirs (``roundtrip_by``)."""
    if config.verify is None:
        return None
    verifier = await Verifier(config.verify, config.min_compression_size).start()
    manifest.notes.append(
        f"--verify {config.verify}: primary messages whose server did not report a round trip were checked by "
        f"this client with {verifier.codec} ({verifier.mode}, min_compression_size {config.min_compression_size} "
        "bytes, a fresh connection state per user); their records say roundtrip_by: client. The checks take "
        "CPU beside the run's: compare latencies only with runs made with the same --verify"
    )
    say(f"verify: the client checks round trips with {verifier.codec} where the server does not")
    return verifier


def check_codecs(names, where: str = "codecs") -> None:
    """Every codec name is known and its package installed (a clear error, now)."""
    for name in names:
        try:
            parse_codec(name)
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
        profile=gen_config.profile.describe(),
        traffic=traffic_line(config, gen_config.profile),
    )
    if gen_config.profile.two_sided:
        manifest.files["corpus"] = None
        manifest.files["texts"] = gen_config.texts.corpora if gen_config.texts else []
        if (config.ai_ratio, config.corpus_weight) != (RunConfig.ai_ratio, RunConfig.corpus_weight):
            manifest.notes.append(
                f"ai_ratio and corpus_weight shape the peer profile only; the {gen_config.profile.name} profile "
                "plays both sides and composes every message from the corpus"
            )
    shared = shared_context_note(config.codecs)
    if shared:
        manifest.notes.append(shared)
    if config.selection == "epsilon-greedy":
        manifest.notes.append(
            "epsilon-greedy selection learns from replies: its template choices, "
            "and so the traffic, depend on the order replies arrive"
        )
    return manifest


def versions() -> dict:
    out: dict[str, str | None] = {"aura-lab": __version__, "python": platform.python_version()}
    for package in ("aura-compression", "websockets", "zstandard", "brotli", "pandas", "pyarrow", "orjson", "uvloop"):
        try:
            out[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            out[package] = None
    return out


def new_run_id() -> str:
    """UTC time and a random suffix: sorts by time, never collides in practice."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _start_servers(
    config: RunConfig, stack: contextlib.AsyncExitStack, manifest: Manifest, folder: RunFolder
) -> list[Group]:
    if config.offline:
        # named after this process, so the next run removes it if this one is killed hard
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"aura-lab-offline-{os.getpid()}-"))
        groups = in_process_groups(config.codecs, config.min_compression_size, scratch, stack)
        manifest.servers = in_process_servers(groups)
        manifest.notes.append("offline: the codecs ran in this process, no sockets (the replay's in-process link): "
                              "latency is the codec's time, not a network's")  # fmt: skip
        return groups
    if config.urls:
        health = http_json(config.urls[0], "/health")
        said = from_health(health)
        label = said.codec if said else EXTERNAL
        manifest.servers = [
            ServerInfo(url, label, False, health if i == 0 and isinstance(health, dict) else None,
                       said.how if said else None)
            for i, url in enumerate(config.urls)
        ]  # fmt: skip
        return [Group(label, list(config.urls), learns_label=said is None, context=context_of(health))]
    from ..servers.hosting import serve_many

    # named after this process, so the next run removes it if this one is killed hard
    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"aura-lab-servers-{os.getpid()}-"))
    limits = server_limits(config)
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
    groups = []
    for handle in handles:
        health = http_json(handle.url, "/health")
        manifest.servers.append(ServerInfo(handle.url, handle.codec, True, health))
        groups.append(Group(handle.codec, [handle.url], context=context_of(health)))
    return groups


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
    library: PatternLibrary | None
    if given is not None:
        library, note = given, None
    elif groups[0].codec is not None:
        library, note = group_templates(groups[0]), None
    else:
        library, note = served_templates(groups[0].urls[0])
    if given is None and not config.urls and adds_templates(config.codecs[0]):
        # the templates a codec is given are the codec's: the traffic stays what it was
        library, note = None, "the traffic is made from AURA's installed library, not the templates its codec adds"
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
