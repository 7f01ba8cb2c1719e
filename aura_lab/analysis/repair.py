"""``aura-lab doctor RUN``: make a run folder whole again after a hard kill or a failed
write, from what its parts hold.

- a folder without ``manifest.json`` (killed during start-up) gets a minimal one;
- leftover ``*.tmp`` files (a write cut short) are removed;
- fallback parts the run wrote beside ``traces/`` or in the temp dir under its id
  (``unsaved-*.parquet``, ``traces.folder.unsaved_dir``) move in, and the final manifest
  a run saved there when its folder would not take it replaces a manifest still
  ``running``;
- parts that cannot be read are renamed ``*.parquet.corrupt`` (named in the report);
- a manifest still ``running`` whose process is gone becomes ``incomplete``, with
  ``ended_at`` from its last record and a note of planned against recorded messages;
- the summary is computed from the records and written (the one it had, if any, is kept
  as ``summary.before-doctor.json``); a run whose ``traces/`` is gone is refused.

A run whose process is still alive is left alone.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from ..inputs import read_json_file
from ..system import process_alive
from ..traces.folder import Manifest, RunFolder, parse_part_name, part_name, unsaved_dir
from ..traces.reader import load_traces
from . import metrics
from .run import summarise_run


def repair_run(path: str | os.PathLike, force: bool = False) -> list[str]:
    """Repair the run folder ``path``; returns what was done, one line each.
    ``force`` repairs a run that says ``running`` when this machine cannot tell whether
    its process lives (another host, or a manifest without a pid)."""
    folder = RunFolder(path)
    if not folder.path.is_dir():
        raise InputError("no such run folder", where=str(folder.path), fix="give a folder under data/traces/")
    misplaced = (
        (folder.manifest_path, folder.manifest_path.is_dir(), "a folder"),
        (folder.traces_dir, folder.traces_dir.exists() and not folder.traces_dir.is_dir(), "a file"),
    )
    for odd, wrong, kind in misplaced:
        if wrong:
            raise InputError(
                f"{odd.name} is {kind}: this is not a run folder as aura-lab writes it",
                where=str(folder.path),
                fix=f"move {odd.name} out of the way if it is not the run's, then run doctor again",
            )
    done: list[str] = []
    saved = unsaved_dir(folder.path.name) / "manifest.json"
    if folder.is_run():
        manifest = folder.read_manifest()
        if manifest.status in ("running", "incomplete") and saved.is_file():  # its folder took no last manifest
            manifest = Manifest.from_dict(read_json_file(saved, "manifest"), str(saved))
            done.append(f"the run's final manifest was in {saved}: restored (status {manifest.status})")
    elif folder.traces_dir.is_dir():
        manifest = Manifest(run_id=folder.path.name, status="incomplete")
        manifest.notes.append("the run was stopped before it wrote a manifest; this one was made by aura-lab doctor")
        done.append("no manifest.json: wrote a minimal one (status incomplete)")
    else:
        raise InputError(
            "no manifest.json and no traces/: not a run folder", where=str(folder.path), fix="give a run folder"
        )
    if manifest.status == "running":
        alive = process_alive(manifest.host)
        if alive:
            raise InputError(
                f"the run is still going (pid {manifest.host.get('pid')})",
                where=str(folder.path),
                fix="wait for it to end, or stop it with Ctrl-C or SIGTERM",
            )
        if not force:
            raise InputError(
                "the manifest says running and this machine cannot tell whether its process lives "
                f"(host {manifest.host.get('hostname', 'unknown')}, pid {manifest.host.get('pid', 'unknown')})",
                where=str(folder.path),
                fix="make sure it has ended, then pass --force",
            )
        manifest.status = "incomplete"
        manifest.ended_at = manifest.ended_at or folder.last_record_at()
        manifest.notes.append("marked incomplete by aura-lab doctor --force: its process could not be checked")
    if not folder.traces_dir.is_dir() and folder.summary_path.is_file() and not list(folder.path.glob("unsaved-*")):
        raise InputError(
            "traces/ is gone: there are no records to rebuild the summary from (the summary is kept as it is)",
            where=str(folder.path),
            fix="put the run's traces/ folder back, or read the run from its summary",
        )
    folder.traces_dir.mkdir(exist_ok=True)
    done += _remove_leftovers(folder)
    done += _adopt_unsaved(folder)
    aside = _set_aside_corrupt(folder)
    done += aside
    if aside:
        manifest.notes.append(
            f"aura-lab doctor set {len(aside)} trace part(s) aside (*.parquet.corrupt): they cannot be read, "
            "so their records are not in the summary"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unreadable parts are set aside already
        traces = load_traces(folder.path)
    if manifest.status == "incomplete":
        if manifest.ended_at is None:
            manifest.ended_at = folder.last_record_at()
        recorded = len(metrics.select(traces, phase="main", codec=manifest.primary_codec))
        planned = manifest.planned_messages
        line = f"recorded {recorded} main-phase messages" + (f" of {planned} planned" if planned is not None else "")
        if line not in manifest.notes:
            manifest.notes.append(line)
        done.append(f"status incomplete, ended_at {manifest.ended_at} (the last record); {line}")
    if folder.summary_path.is_file():  # the summary it had is kept: the records may say less than it did
        before = folder.path / "summary.before-doctor.json"
        folder.summary_path.replace(before)
        done.append(f"kept the summary it had as {before.name}")
    folder.write_manifest(manifest)
    folder.write_summary(summarise_run(traces, manifest))
    done.append(f"wrote {folder.manifest_path.name} and {folder.summary_path.name} ({len(traces)} records)")
    if saved.parent.is_dir() and not any(p.suffix == ".parquet" for p in saved.parent.iterdir()):
        shutil.rmtree(saved.parent, ignore_errors=True)  # all of it is back in the folder
    return done


def _remove_leftovers(folder: RunFolder) -> list[str]:
    done = []
    for place in (folder.path, folder.traces_dir):
        for tmp in sorted(place.glob("*.tmp")):
            tmp.unlink()
            done.append(f"removed {tmp.name}: a write cut short")
    return done


def _adopt_unsaved(folder: RunFolder) -> list[str]:
    done = []
    for unsaved in folder.unsaved_parts():
        shard_seq = parse_part_name(unsaved.name.split("-", 2)[2])
        shard = shard_seq[0] if shard_seq else 0
        taken = {parse_part_name(p.name) for p in folder.parts()}
        seq = max((s for sh, s in filter(None, taken) if sh == shard), default=-1) + 1
        target = folder.traces_dir / part_name(shard, seq)
        if unsaved.parent == folder.path:
            unsaved.replace(target)
        else:  # from the temp dir, perhaps another disk: copied in whole, then removed
            copy = target.with_name(target.name + ".tmp")
            shutil.copyfile(unsaved, copy)
            copy.replace(target)
            unsaved.unlink()
        done.append(f"moved {unsaved.name} into traces/ as {target.name}")
    return done


def _set_aside_corrupt(folder: RunFolder) -> list[str]:
    done = []
    for part in folder.parts():
        try:
            pq.read_table(part)
        except (OSError, pa.ArrowException) as exc:
            aside = part.with_name(part.name + ".corrupt")
            part.replace(aside)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            done.append(f"set {part.name} aside as {aside.name}: it cannot be read ({reason})")
    return done
