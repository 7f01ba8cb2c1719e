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
from ..analysis.profiles import sizes_frame
from ..analysis.realism import realism
from ..analysis.run import Run
from ..analysis.summary import summarise
from ..codecs import codec_class
from ..config import CHARS_PER_TOKEN, DEFAULT_USERS, RunConfig, RunOptions, with_run_options
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder, ServerInfo, write_json
from ..traces.logs import LogReport, read_logs
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratorConfig, config_from_files
from ..traffic.metadata import load_metadata
from ..traffic.profile import Profile
from ..traffic.templates import PatternLibrary, load_templates
from .bridge import run_blocking
from .console import Printer
from .links import Group
from .phases import run_phases
from .probes import http_json, installed_templates, served_templates, unreachable
from .replay import read_replay, replay_traffic


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
    config.validate()
    say = Printer(config.quiet)
    check_codecs(config.codecs if not config.urls else ())
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
        say(f"warning: nothing is listening at {url}; its users will fail over to the next URL")
    given_templates = load_templates(config.templates) if config.templates else None  # a bad file fails now
    gen_config = config_from_files(
        config.corpus, config.metadata, library=given_templates, **config.generator_options()
    )
    traffic, extras = _read_traffic_inputs(config)
    config = extras.pop("config")
    run_id = config.run_id or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = RunFolder.create(config.trace_dir, run_id)
    manifest = new_manifest(config, run_id, gen_config)
    manifest.files.update(extras["files"])
    manifest.notes.extend(extras["notes"])
    with contextlib.ExitStack() as stack:
        groups = _start_servers(config, stack, manifest)
        _use_templates(config, groups, manifest, gen_config, given_templates)
        for warning in manifest.files["metadata_warnings"]:
            say(f"warning: {warning}")
        folder.write_manifest(manifest)
        writer = TraceWriter(folder.traces_dir, shard=0)
        status = "complete"
        try:
            status = await run_phases(config, gen_config, groups, writer, manifest, say, _stop_flag, traffic)
        except BaseException:
            status = "failed"
            raise
        finally:
            writer.close()
            manifest.status = status
            manifest.ended_at = utc_now()
            folder.write_manifest(manifest)
    traces = load_traces(folder.path)
    summary = summarise(traces, primary_codec=manifest.primary_codec)
    summary["warmup"] = manifest.warmup
    summary["traffic"] = manifest.traffic
    summary["profile"] = gen_config.profile.name
    if extras["reference"] is not None:
        summary["realism"] = realism(extras["reference"], read_logs(folder.path), label=f"run {run_id}")
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


def _read_traffic_inputs(config: RunConfig) -> tuple[Any, dict]:
    """Read what the traffic comes from before anything starts: the replay's logs and the
    realism reference. Returns the replay's traffic function (or None) and the config with
    its users settled, the manifest's extra files and notes, the reference's sizes."""
    extras: dict[str, Any] = {"files": {}, "notes": [], "reference": None}
    traffic = None
    if config.replay:
        replay = tuple(str(Path(p).resolve()) for p in config.replay)  # worker processes read them too
        config = dataclasses.replace(config, replay=replay)
        conversations, report, more = read_replay(config)
        traffic = replay_traffic(conversations)
        extras["files"]["replay"] = report.to_dict()
        if more:
            extras["notes"].append(
                f"replayed the first {len(conversations)} conversations of the logs; more were left out (--users)"
            )
        config = dataclasses.replace(config, users=len(conversations))
    elif config.users is None:
        config = dataclasses.replace(config, users=DEFAULT_USERS)
    if config.reference:
        report = LogReport()
        extras["reference"] = sizes_frame(read_logs(config.reference, report))
        extras["files"]["reference"] = report.to_dict()
    extras["config"] = config
    return traffic, extras


def traffic_line(config: RunConfig, profile: Profile) -> str:
    """One line saying what the traffic was: its profile or replay, and how replies travel."""
    if config.replay:
        timing = "the logs' own pauses" if config.replay_timing == "logged" else f"think time {config.think_time}"
        what = f"replay of {config.users} logged conversations ({timing})"
    else:
        what = f"profile {profile.name}" + (" (one side per user)" if not profile.two_sided else "")
    if config.framing == "stream":
        how = (
            f"assistant replies streamed in frames of {config.chunk_tokens} tokens "
            f"(~{config.chunk_tokens * CHARS_PER_TOKEN} characters)"
            + (", JSON envelope" if config.envelope == "json" else "")
            + (", each frame the whole text so far" if config.resend_whole else "")
        )
    else:
        how = "every message whole"
    return f"{what}; {how}"


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
        host={"platform": platform.platform(), "cpus": os.cpu_count()},
        profile=gen_config.profile.describe(),
        traffic=traffic_line(config, gen_config.profile),
    )
    if gen_config.profile.two_sided:
        manifest.files["corpus"] = None
        manifest.files["texts"] = gen_config.texts.corpora if gen_config.texts else []
        if "deflate-stream" in config.codecs and not config.urls:
            manifest.notes.append(
                "both sides of a conversation travel over one connection: deflate-stream keeps one compression "
                "context for both directions (real permessage-deflate keeps one per direction)"
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


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _start_servers(config: RunConfig, stack: contextlib.ExitStack, manifest: Manifest) -> list[Group]:
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

    if config.export:
        write_json(Path(config.export), peer_export(result))
    if config.peer_traces:
        write_peer_traces(result.traces, Path(config.peer_traces), codec=result.primary_codec)
