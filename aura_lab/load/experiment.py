"""``aura-lab experiment SPEC.toml [-o OUT] [--online] [--workers N]``: what would this
change do? Paired what-if runs of a baseline and variants, and their table.

Every arm is played on every traffic and replicate (seeds ``seed``, ``seed + 1``, ...):
offline by default (``aura_lab.run(offline=True)``: the codecs in this process through
the in-process link, no pauses), or through real servers with ``online``. Arms that do
not change the traffic send exactly the same messages (common random numbers: the same
profile, seed and users give the same conversations), so their difference is the
lever's alone; arms that do are compared all the same and reported with their
divergence (``analysis.divergence``). With ``workers`` the runs go to Dask worker
processes. The experiment folder (``traces.experiment_folder``) keeps every run and
``experiment.json`` says after each one where the experiment stands, so an interrupted
or failed experiment keeps every run it finished.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import re
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..analysis.run import load_run
from ..errors import AuraLabError, InputError
from ..traces.experiment_folder import ExperimentFolder
from .console import Printer
from .experiment_analysis import analyse, write_outputs
from .experiment_spec import ExperimentSpec, read_spec
from .runner import run as run_one
from .runner import utc_now, versions
from .stopping import Stopper


@dataclass
class Task:
    """One run of the experiment: an arm on one replicate of one traffic."""

    traffic: str
    replicate: int  # 1..
    seed: int
    arm: str
    run_id: str
    options: dict[str, Any]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "arm"


def plan(spec: ExperimentSpec, online: bool = False) -> list[Task]:
    """Every run, the baseline first within each replicate."""
    tasks = []
    for traffic in spec.traffics:
        for replicate, seed in enumerate(traffic.seeds(), 1):
            for index, arm in enumerate(spec.arms):
                options = {**spec.options(traffic, arm), "seed": seed}
                if not online:
                    options["think_time"] = "0"  # offline there is no network to pause for
                run_id = _slug(f"{traffic.name}-r{replicate}-{index:02d}-{arm.name}")
                tasks.append(Task(traffic.name, replicate, seed, arm.name, run_id, options))
    return tasks


def run_task(task: Task, runs_dir: str, online: bool) -> dict:
    """Play one run (in this process or a Dask worker); what the manifest keeps of it.
    The run's own warnings go to its manifest, not to the screen."""
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        run = run_one(
            **task.options, offline=not online, trace_dir=runs_dir, run_id=task.run_id, quiet=True, progress=False
        )
    primary = run.summary.get("codecs", {}).get(run.primary_codec or "", {})
    return {
        **asdict(task),
        "path": str(run.path),
        "status": run.status,
        "seconds": time.perf_counter() - start,
        "messages": int(primary.get("messages") or 0),
        "ratio": primary.get("overall_ratio"),
        "warnings": list(run.manifest.warnings),
    }


def _progress(done: int, total: int, record: dict) -> str:
    ratio = record.get("ratio")
    ratio_text = f"{ratio:.3f}" if isinstance(ratio, (int, float)) else "not checked"
    return (
        f"[{done}/{total}] {record['traffic']} replicate {record['replicate']} {record['arm']}: "
        f"{record['messages']} messages, primary ratio {ratio_text} ({record['seconds']:.1f} s)"
    )


def _sequential(
    tasks: list[Task], runs_dir: str, online: bool, on_done: Callable[[dict], None], stopper: Stopper
) -> None:
    for task in tasks:
        record = run_task(task, runs_dir, online)
        on_done(record)
        # Ctrl-C or SIGTERM reached the run, which stopped cleanly, or came after its last
        # message (the run is complete, the experiment stops all the same)
        if record["status"] == "interrupted" or stopper.reason == "interrupted":
            raise KeyboardInterrupt


def _on_dask(tasks: list[Task], runs_dir: str, online: bool, workers: int, on_done: Callable[[dict], None]) -> None:
    import logging

    from distributed import Client, LocalCluster, as_completed

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    client = Client(cluster)
    try:
        futures = [client.submit(run_task, task, runs_dir, online, pure=False) for task in tasks]
        for future in as_completed(futures):
            on_done(future.result())
    finally:
        client.close()
        cluster.close()


def run_experiment(
    spec: ExperimentSpec | str | Path,
    out: str | Path | None = None,
    *,
    online: bool = False,
    workers: int = 1,
    quiet: bool = False,
    users: int | None = None,
    root: str | Path | None = None,
) -> dict:
    """Run every arm on every traffic and replicate, then write the tables and the report
    into the experiment folder; returns what ``analyse`` found (``results``, ``costs``,
    ``divergence``, ``text``) and the folder. ``users`` overrides every traffic's (a
    quick look at a large spec); ``root``: where the folder goes when ``out`` is not given
    (default data/experiments)."""
    if not isinstance(spec, ExperimentSpec):
        spec = read_spec(spec)
    if users is not None:
        from .experiment_spec import with_options

        spec = with_options(spec, users=users)
    if workers > 1 and importlib.util.find_spec("distributed") is None:
        raise InputError(
            "fanning variants out needs Dask, which is not installed",
            where="workers",
            fix="pip install 'aura-lab[dask]'",
        )
    stopper = Stopper()  # SIGTERM stops an experiment as Ctrl-C does; each run has its own stop
    stopper.starting()
    try:
        return _run_experiment(spec, out, root, online, workers, Printer(quiet), stopper)
    finally:
        stopper.done()


def _run_experiment(
    spec: ExperimentSpec,
    out: str | Path | None,
    root: str | Path | None,
    online: bool,
    workers: int,
    say: Printer,
    stopper: Stopper,
) -> dict:
    tasks = plan(spec, online)
    manifest: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "spec": str(spec.path),
        "status": "running",
        "started_at": utc_now(),
        "ended_at": None,
        "mode": "online" if online else "offline",
        "workers": workers,
        "n_boot": spec.n_boot,
        "versions": versions(),
        "planned_runs": len(tasks),
        "runs": [],
        "notes": list(spec.notes),
        "arms": [
            {
                "name": a.name,
                "options": {k: list(v) if isinstance(v, tuple) else v for k, v in a.options.items()},
                "claimed": a.claimed,
                "claim_metric": a.claim_metric,
                "target": a.target,
            }
            for a in spec.arms
        ],
        "traffics": [
            {"name": t.name, "replicates": t.replicates, "seeds": t.seeds(), "options": t.options}
            for t in spec.traffics
        ],
    }
    if not online and any(
        "think_time" in a.options or "think_time" in t.options for a in spec.arms for t in spec.traffics
    ):
        manifest["notes"].append("think time applies online only: offline runs send without pauses")
    folder: ExperimentFolder | None = None
    try:
        with stopper.held():  # a signal waits until the folder says what it is
            folder = ExperimentFolder.create(out, _slug(spec.name), root)
            shutil.copyfile(spec.path, folder.file("spec.toml"))
            folder.write_manifest(manifest)
        say(
            f"experiment {spec.name}: {len(tasks)} runs ({len(spec.traffics)} traffics x replicates x "
            f"{len(spec.arms)} arms), {manifest['mode']}{f' on {workers} Dask workers' if workers > 1 else ''}; "
            f"folder {folder.path}"
        )
        done = functools.partial(_record_run, folder, manifest, say, len(tasks))
        if workers > 1:
            _on_dask(tasks, str(folder.runs_dir), online, workers, done)
        else:
            _sequential(tasks, str(folder.runs_dir), online, done, stopper)
        say("analysing: intervals by conversation, costs per codec, traffic divergence")
        runs = {(r["traffic"], r["arm"], r["replicate"]): load_run(r["path"]) for r in manifest["runs"]}
        found = analyse(spec, runs)
        write_outputs(folder, found, manifest)
    except KeyboardInterrupt:
        stopper.request("interrupted")  # a run's own stop may have caught it: later signals are only noted
        if folder is not None:
            ran = len(manifest["runs"])
            when = "while analysing, after every run" if ran == len(tasks) else f"after {ran} of {len(tasks)} runs"
            _finish(folder, manifest, "interrupted", f"interrupted {when}")
        raise
    except BaseException as exc:
        if folder is None:  # nothing was written (a bad output folder)
            raise
        manifest["traceback"] = traceback.format_exc()  # for a bug report: the message alone is printed
        _finish(folder, manifest, "failed", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, AuraLabError):
            raise
        raise AuraLabError(f"the experiment failed: {exc}", where=str(folder.path)) from exc
    _finish(folder, manifest, "complete", None)
    say("")
    say(found["text"])
    say(f"\nexperiment folder: {folder.path}\nreport: {folder.file('report.html')}")
    return {**found, "folder": folder.path, "manifest": manifest}


def _record_run(folder: ExperimentFolder, manifest: dict, say: Printer, total: int, record: dict) -> None:
    """One run is done: into the manifest on disk, and one progress line."""
    manifest["runs"].append(record)
    folder.write_manifest(manifest)
    say(_progress(len(manifest["runs"]), total, record))


def _finish(folder: ExperimentFolder, manifest: dict, status: str, error: str | None) -> None:
    manifest.update(status=status, ended_at=utc_now())
    if error:
        manifest["error"] = error
    folder.write_manifest(manifest)
