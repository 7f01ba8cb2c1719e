"""The main job: play realistic conversations against servers and record everything.

``run(...)`` blocks (in a plain script, and inside a Jupyter cell: see ``bridge``);
``await arun(...)`` is the coroutine. Both return an ``aura_lab.analysis.run.Run``.
The options are those of ``aura-lab run`` (``aura_lab.config.RunConfig``).

The steps, in order: check the options and read the input files (nothing has started
yet, so a mistake costs nothing); create the run folder; start the embedded servers
(or probe the external ones); learn their template library; run the phases; write the
manifest, summary and any extra files.
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
from ..analysis.realism import realism
from ..analysis.run import Run, summarise_run
from ..analysis.text import codec_label
from ..codecs import parse_codec
from ..config import RunConfig
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder, ServerInfo, write_json
from ..traces.logs import read_logs
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratorConfig, config_from_files, slot_space
from ..traffic.metadata import load_metadata
from ..traffic.templates import PatternLibrary, load_templates
from .auto_update import adds_templates, mine_run, record_libraries, with_templates_from
from .bridge import run_blocking
from .console import Printer
from .inprocess import group_templates, in_process_groups, in_process_servers
from .links import Group
from .options import RunOptions, with_run_options
from .phases import run_phases
from .probes import http_json, installed_templates, served_templates, unreachable
from .sources import read_traffic_inputs, traffic_line
from .verify import Verifier


@with_run_options
def run(config: RunConfig | None = None, **options: Unpack[RunOptions]) -> Run:
    """Run simulated users against servers and record every message; blocks until done.

    ``options`` are ``RunConfig``'s (``users=10``, ``think_time="0"`` seconds,
    ``codecs="aura"``, ``timeout=10.0`` seconds, ...), applied over ``config`` when both
    are given; each is checked against its range before anything starts. Returns the
    ``Run`` (its folder, manifest, summary and traces). Inside a running event loop
    (Jupyter) the run goes on a worker thread; interrupting the kernel stops it cleanly.
    """
    return run_blocking(lambda stop: arun(config, _stop_flag=stop, **options))


@with_run_options
async def arun(
    config: RunConfig | None = None, *, _stop_flag: threading.Event | None = None, **options: Unpack[RunOptions]
) -> Run:
    """The coroutine behind ``run``: the same options (seconds, bytes), the same ``Run``."""
    given: dict[str, Any] = dict(options)  # strings for tuples are accepted (RunConfig converts)
    config = dataclasses.replace(config, **given) if config else RunConfig(**given)
    config = with_templates_from(config.validate())
    say = Printer(config.quiet)
    check_codecs(config.codecs if not config.urls else ())
    if config.verify is not None:
        check_verify(config.verify)
    if (config.workers > 1 or config.scheduler) and importlib.util.find_spec("distributed") is None:
        raise InputError(
            "sharding users over processes needs Dask, which is not installed",
            where="workers",
            fix="pip install 'aura-lab[dask]'",
        )
    dead = unreachable(config.urls or ())
    if config.urls and len(dead) == len(config.urls):
        raise InputError(
            f"nothing is listening at {', '.join(dead)}",
            where="urls",
            fix="start the server, check the address, or leave out --url for embedded servers",
        )
    for url in dead:
        say.warn(f"nothing is listening at {url}; its users will fail over to the next URL")
    given_templates = load_templates(config.templates) if config.templates else None  # a bad file fails now
    gen_config = config_from_files(
        config.corpus, config.metadata, library=given_templates, **config.generator_options()
    )
    traffic, extras = read_traffic_inputs(config)
    config = extras.pop("config")
    run_id = config.run_id or new_run_id()
    folder = RunFolder.create(config.trace_dir, run_id)
    manifest = new_manifest(config, run_id, gen_config)
    manifest.files.update(extras["files"])
    manifest.notes.extend(extras["notes"])
    manifest.warnings.extend(say.warnings)  # those printed before the manifest existed
    say.warnings = manifest.warnings  # one list from here: what is printed is what is kept
    async with contextlib.AsyncExitStack() as stack:
        groups = _start_servers(config, stack, manifest)
        _use_templates(config, groups, manifest, gen_config, given_templates)
        record_libraries(manifest)
        manifest.files["slot_space"] = {str(k): v for k, v in slot_space(gen_config).items()}
        for warning in manifest.files["metadata_warnings"]:
            say.warn(warning)
        verifier = await _start_verifier(config, manifest, say)
        if verifier is not None:
            stack.push_async_callback(verifier.close)
        folder.write_manifest(manifest)
        writer = TraceWriter(folder.traces_dir, shard=0)
        status = "complete"
        try:
            status = await run_phases(config, gen_config, groups, writer, manifest, say, _stop_flag, traffic, verifier)
        except BaseException:
            status = "failed"
            raise
        finally:
            writer.close()
            if verifier is not None and verifier.failure:
                say.warn(f"--verify: the client's check failed ({verifier.failure}); later messages are unchecked")
            manifest.status = status
            manifest.ended_at = utc_now()
            folder.write_manifest(manifest)
    traces = load_traces(folder.path)
    summary = summarise_run(traces, manifest)
    if extras["reference"] is not None:
        summary["realism"] = realism(extras["reference"], read_logs(folder.path), label=f"run {run_id}")
    for warning in run_warnings(summary):
        say.warn(warning)
    if config.auto_update and status != "failed":
        mined = mine_run(folder, traces, manifest)
        say(f"auto-update: {mined['templates']} templates mined from the run's traffic; next run: {mined['use']}")
    folder.write_manifest(manifest)
    folder.write_summary(summary)
    result = Run(folder.path, manifest, summary, traces)
    _write_extras(config, result)
    say(result.summary_text())
    say(f"\ntraces: {folder.path}")
    if config.report:
        from ..report.render import render_report

        say(f"report: {render_report(folder.path)}")
    else:
        say(f"report: aura-lab report {folder.path}")
    return result


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


def run_warnings(summary: dict) -> list[str]:
    """What a reader must not miss: codecs that lost messages, codecs nobody checked,
    and churn (one line; the summary lists the worst templates)."""
    out = []
    for name, c in summary.get("codecs", {}).items():
        loss = c["loss"]
        if c["lossy"]:
            out.append(
                f"{codec_label(name, c)}: {loss['lossy']} of {loss['checked']} checked messages did not survive "
                "decompress(compress(m)) == m"
            )
        if loss["status"] != "checked" and loss["delivered"]:
            out.append(
                f"{name}: round trips {loss['status']} ({loss['unchecked']} of {loss['delivered']} delivered "
                "messages): its losses are unknown; --verify CODEC checks them on this client"
            )
    primary = summary.get("codecs", {}).get(summary.get("primary_codec"), {})
    churn = primary.get("templates", {}).get("low_diversity", [])
    if churn:
        out.append(
            f"churn: {len(churn)} template(s) showed fewer distinct slot fillings than a uniform draw would "
            "(the summary lists the worst; the report every one)"
        )
    return out


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
        host={"platform": platform.platform(), "cpus": os.cpu_count()},
        profile=gen_config.profile.describe(),
        traffic=traffic_line(config, gen_config.profile),
    )
    if gen_config.profile.two_sided:
        manifest.files["corpus"] = None
        manifest.files["texts"] = gen_config.texts.corpora if gen_config.texts else []
        streams = [c for c in config.codecs if parse_codec(c).name in ("deflate-stream", "zstd-stream")]
        if streams:
            manifest.notes.append(
                f"both sides of a conversation travel over one connection: {', '.join(streams)} "
                f"{'keeps' if len(streams) == 1 else 'keep'} one compression context for both directions "
                "(real permessage-deflate keeps one per direction)"
            )
        if (config.ai_ratio, config.corpus_weight) != (RunConfig.ai_ratio, RunConfig.corpus_weight):
            manifest.notes.append(
                f"ai_ratio and corpus_weight shape the peer profile only; the {gen_config.profile.name} profile "
                "plays both sides and composes every message from the corpus"
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


def new_run_id() -> str:
    """UTC time and a random suffix: sorts by time, never collides in practice."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _start_servers(config: RunConfig, stack: contextlib.AsyncExitStack, manifest: Manifest) -> list[Group]:
    if config.offline:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="aura-lab-offline-"))
        groups = in_process_groups(config.codecs, config.min_compression_size, scratch, stack)
        manifest.servers = in_process_servers(groups)
        manifest.notes.append("offline: the codecs ran in this process, no sockets (the replay's in-process link): "
                              "latency is the codec's time, not a network's")  # fmt: skip
        return groups
    if config.urls:
        health = http_json(config.urls[0], "/health") or {}
        label = str(health.get("codec") or "external")
        manifest.servers = [ServerInfo(url, label, False) for url in config.urls]
        return [Group(label, list(config.urls))]
    from ..servers.hosting import serve_many

    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="aura-lab-servers-"))
    handles = stack.enter_context(
        serve_many(
            list(config.codecs),
            min_compression_size=config.min_compression_size,
            in_process=config.in_process_servers,
            workdir=scratch,
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


def _write_extras(config: RunConfig, result: Run) -> None:
    from ..traces.peer import peer_export, write_peer_traces

    if config.export:
        write_json(Path(config.export), peer_export(result))
    if config.peer_traces:
        write_peer_traces(result.traces, Path(config.peer_traces), codec=result.primary_codec)
