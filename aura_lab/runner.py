"""The main job: play realistic conversations against servers and record everything.

``run(...)`` blocks (in a plain script, and inside a Jupyter cell whose event loop is
already running: there it runs the run's own loop in a worker thread rather than
patching the notebook's loop); ``await arun(...)`` is the coroutine. Both return a
:class:`Run`. The options are those of ``aura-lab run`` (:class:`RunConfig`).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import secrets
import signal
import socket
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

from . import __version__
from .engine import Engine, Group
from .errors import InputError
from .generators import config_from_files, generate, user_profile
from .selection import make_selector
from .summary import format_summary, summarise
from .inputs import read_json_file
from .metadata import load_metadata
from .templates import PatternLibrary, load_templates
from .traces import TraceWriter, load_traces
from .console import Printer, debug_printer, progress_bar
from .run_config import RunConfig

@dataclass
class Run:
    """A finished (or interrupted) run: its folder, manifest, summary and traces."""

    path: Path
    manifest: dict
    summary: dict
    _traces: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    @property
    def status(self) -> str:
        return self.manifest["status"]

    @property
    def traces(self) -> pd.DataFrame:
        if self._traces is None:
            self._traces = load_traces(self.path)
        return self._traces

    def summary_text(self) -> str:
        return format_summary(self.summary, title=f"run {self.run_id} ({self.status})")

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, status={self.status!r}, path={str(self.path)!r})"


def load_run(path: str | Path) -> Run:
    path = Path(path)
    if not (path / "manifest.json").is_file():
        raise InputError("no manifest.json: not a run folder", where=str(path), fix="give a folder under data/traces/")
    manifest = read_json_file(path / "manifest.json", "manifest")
    if (path / "summary.json").is_file():
        return Run(path, manifest, read_json_file(path / "summary.json", "summary"))
    traces = load_traces(path)  # an interrupted run may have no summary yet
    return Run(path, manifest, summarise(traces), traces)


def run(config: RunConfig | None = None, **options) -> Run:
    """Blocking run. Inside a running event loop (Jupyter) it runs in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun(config, **options))
    box: dict = {}
    stop, finished = threading.Event(), threading.Event()

    def worker():
        try:
            box["run"] = asyncio.run(arun(config, _stop_flag=stop, **options))
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=worker, name="aura-lab-run", daemon=True)
    thread.start()
    # wait on an Event, not Thread.join: a join interrupted by KeyboardInterrupt marks the
    # thread as stopped while it still runs (seen on CPython 3.11), and later joins return at once
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:  # the notebook's interrupt button
        stop.set()
        finished.wait()
    if "error" in box:
        raise box["error"]
    return box["run"]


def _versions() -> dict:
    out = {"aura-lab": __version__, "python": platform.python_version()}
    for package in ("aura-compression", "websockets", "zstandard", "brotli", "pandas", "pyarrow"):
        try:
            out[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            out[package] = None
    return out


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _http_json(ws_url: str, route: str, timeout: float = 5.0):
    url = ws_url.replace("wss://", "https://").replace("ws://", "http://").rstrip("/") + route
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except Exception:  # a server without the route (the peer's) simply has no answer
        return None


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


async def arun(config: RunConfig | None = None, *, _stop_flag: threading.Event | None = None, **options) -> Run:
    config = dataclasses.replace(config, **options) if config else RunConfig(**options)
    config.validate()
    say = Printer(config.quiet)
    unreachable = _unreachable(config.urls or ())
    if config.urls and len(unreachable) == len(config.urls):
        raise InputError(f"nothing is listening at {', '.join(unreachable)}", where="--url",
                         fix="start the server, check the address, or leave out --url for embedded servers")
    for url in unreachable:
        say(f"warning: nothing is listening at {url}; its users will fail over to the next URL")
    try:
        given_templates = load_templates(config.templates) if config.templates else None  # bad file: fail now
        gen_config = config_from_files(config.corpus, config.metadata, library=given_templates,
                                       **config.generator_options())
    except ValueError as exc:
        raise InputError(str(exc)) from None
    run_id = config.run_id or f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = Path(config.trace_dir) / run_id
    if (folder / "manifest.json").exists():
        raise InputError("a run with this id exists already", where=str(folder), fix="choose another --run-id")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "run_id": run_id,
        "status": "running",
        "started_at": _utc_now(),
        "ended_at": None,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
        "seed": config.seed,
        "versions": _versions(),
        "files": {
            "corpus": gen_config.corpus.summary() if gen_config.corpus else None,
            "metadata": gen_config.metadata.summary() if gen_config.metadata else None,
            "metadata_warnings": gen_config.metadata.warnings if gen_config.metadata else [],
        },
        "servers": [],
        "warmup": None,
        "notes": [],
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    if config.selection == "epsilon-greedy":
        manifest["notes"].append("epsilon-greedy selection learns from replies: its template choices, "
                                 "and so the traffic, depend on the order replies arrive")
    with contextlib.ExitStack() as stack:
        groups = _start_servers(config, stack, manifest)
        library = _learn_templates(config, groups, manifest, given_templates)
        if not library.same_patterns(gen_config.library):
            gen_config.library = library
            if gen_config.metadata is not None:  # validate it against the library in use
                gen_config.metadata = load_metadata(gen_config.metadata.path, library)
                manifest["files"]["metadata"] = gen_config.metadata.summary()
                manifest["files"]["metadata_warnings"] = gen_config.metadata.warnings
        for warning in manifest["files"]["metadata_warnings"]:
            say(f"warning: {warning}")
        _write_json(folder / "manifest.json", manifest)
        writer = TraceWriter(folder / "traces", shard=0)
        status = "complete"
        try:
            status = await _run_phases(config, gen_config, groups, writer, manifest, run_id, say, _stop_flag)
        except BaseException:
            status = "failed"
            raise
        finally:
            writer.close()
            manifest["status"] = status
            manifest["ended_at"] = _utc_now()
            _write_json(folder / "manifest.json", manifest)
    traces = load_traces(folder)
    summary = summarise(traces)
    summary["warmup"] = manifest.get("warmup")
    _write_json(folder / "summary.json", summary)
    result = Run(folder, manifest, summary, traces)
    _write_extras(config, result)
    say(result.summary_text())
    say(f"\ntraces: {folder}")
    if config.report:
        from .report import render_report

        html = render_report(folder)
        say(f"report: {html}")
    return result


def _unreachable(urls, timeout: float = 2.0) -> list[str]:
    """The URLs whose host and port refuse a TCP connection (checked before a run starts)."""
    from urllib.parse import urlsplit

    dead = []
    for url in urls:
        parts = urlsplit(url)
        try:
            socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "wss" else 80)),
                                     timeout=timeout).close()
        except OSError:
            dead.append(url)
    return dead


def _start_servers(config: RunConfig, stack: contextlib.ExitStack, manifest: dict) -> list[Group]:
    if config.urls:
        health = _http_json(config.urls[0], "/health") or {}
        label = str(health.get("codec") or "external")
        manifest["servers"] = [{"url": u, "codec": label, "embedded": False} for u in config.urls]
        return [Group(label, list(config.urls))]
    from .server import serve_many

    scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="aura-lab-servers-"))
    handles = stack.enter_context(serve_many(list(config.codecs), min_compression_size=config.min_compression_size,
                                             in_process=config.in_process_servers, workdir=scratch))
    for handle in handles:
        manifest["servers"].append({"url": handle.url, "codec": handle.codec, "embedded": True,
                                    "health": _http_json(handle.url, "/health")})
    return [Group(h.codec, [h.url]) for h in handles]


def _learn_templates(config: RunConfig, groups: list[Group], manifest: dict,
                     given: PatternLibrary | None = None) -> PatternLibrary:
    """--templates FILE when given (loaded already); else the primary server's GET
    /templates; else the installed aura-compression library."""
    if given is not None:
        manifest["templates_from"] = config.templates
        return given
    served = _http_json(groups[0].urls[0], "/templates")
    if isinstance(served, list) and served:
        try:
            library = PatternLibrary({int(t["id"]): str(t["pattern"]) for t in served},
                                     source=f"{groups[0].urls[0]}/templates")
            manifest["templates_from"] = library.source
            return library
        except (KeyError, TypeError, ValueError, OverflowError, InputError) as exc:
            manifest["notes"].append(f"the server's /templates answer was malformed ({exc}); "
                                     "used the installed library")
    manifest["templates_from"] = "aura_compression.TemplateLibrary (installed)"
    return load_templates(None)


async def _run_phases(config, gen_config, groups, writer, manifest, run_id, say, stop_flag) -> str:
    selector = make_selector(config.selection, config.explore)
    settings = config.engine_settings(run_id)
    loop = asyncio.get_running_loop()
    engines: list[Engine] = []
    stop_requested = asyncio.Event()

    def interrupt(reason="interrupted"):
        stop_requested.set()
        for engine in engines:
            engine.stop(reason)

    installed = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, interrupt)
                installed.append(sig)
    watcher = None
    if stop_flag is not None:
        async def watch():
            while not stop_flag.is_set():
                await asyncio.sleep(0.1)
            interrupt()
        watcher = asyncio.ensure_future(watch())
    try:
        if config.warmup_messages:
            engine = Engine(settings, gen_config, groups, writer, selector, 1)
            engines.append(engine)
            await _warmup(config, gen_config, engine, manifest, say)
            if engine.stop_reason == "interrupted":
                return "interrupted"
            if config.selection == "epsilon-greedy":
                selector.explore = manifest["warmup"]["explore_after"]
        users = list(range(config.users))
        planned = manifest["planned_messages"] = sum(user_profile(gen_config, u)[1] for u in users)
        if config.workers > 1 or config.scheduler:
            from .distributed import run_distributed

            interrupted = await run_distributed(config, gen_config, groups, writer.folder, manifest, run_id, say,
                                                stop_requested)
            return "interrupted" if interrupted else "complete"
        engine = Engine(settings, gen_config, groups, writer, selector, config.users,
                        debug=debug_printer(config, say) if config.debug else None)
        engines.append(engine)
        progress = progress_bar(config, planned, engine)
        flusher = asyncio.ensure_future(writer.flush_periodically())
        deadline = config.main_deadline
        try:
            await engine.run_users(users, deadline_s=deadline)
        finally:
            flusher.cancel()
            if progress is not None:
                progress.close()
        if engine.stop_reason == "interrupted":
            say(f"interrupted: stopped sending after {engine.tally.messages} of {planned} messages; "
                "every record so far is kept")
            return "interrupted"
        if engine.stop_reason == "duration":
            manifest["notes"].append(f"stopped by the duration limit ({deadline:g} s) after "
                                     f"{engine.tally.messages} of {planned} planned messages")
        return "complete"
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if watcher is not None:
            watcher.cancel()


async def _warmup(config, gen_config, engine: Engine, manifest: dict, say) -> None:
    """N messages on their own connection, no think time; then the peer's checks."""
    from .analysis.warmup import analyse_warmup, recommend_adjustments

    warmup_user = 1_000_000  # outside the main users' ids: its own random streams
    messages = [dataclasses.replace(m, user_id=warmup_user)
                for m in generate(gen_config, config.warmup_messages, first_user=warmup_user)]
    say(f"warmup: {len(messages)} messages on {engine.groups[0].label}")
    try:
        await engine.run_user(warmup_user, phase="warmup", messages=messages, think=False)
    finally:
        await engine.close_links()
    engine.writer.flush()
    traces = load_traces(engine.writer.folder.parent)
    primary = traces[traces["codec"].astype(str) == engine.groups[0].label]
    report = analyse_warmup(primary, corpus_weight=config.corpus_weight, explore=config.explore,
                            min_compression_size=config.min_compression_size)
    for warning in report.warnings:
        say(f"warmup warning: {warning}")
    weight, explore, reasons = config.corpus_weight, config.explore, []
    if config.auto_adjust:
        weight, explore, reasons = recommend_adjustments(report, config.corpus_weight, config.explore)
        gen_config.corpus_weight = weight
        for reason in reasons:
            say(f"warmup adjustment: {reason}")
    record = {"report": dataclasses.asdict(report),
              "corpus_weight_before": config.corpus_weight, "explore_before": config.explore,
              "corpus_weight_after": weight, "explore_after": explore, "reasons": list(reasons),
              "adjusted": weight != config.corpus_weight or explore != config.explore}
    manifest["warmup"] = json.loads(json.dumps(record, default=str))  # as manifest.json will hold it


def _write_extras(config: RunConfig, result: Run) -> None:
    from .export import peer_export, write_peer_traces

    if config.export:
        _write_json(Path(config.export), peer_export(result))
    if config.peer_traces:
        write_peer_traces(result.traces, Path(config.peer_traces))
