"""The run folder, its one owner: file and part names, and the typed manifest.

A run folder ``<trace_dir>/<run_id>/`` holds ``manifest.json`` (what the run was and
what happened to it), ``summary.json`` (its figures), ``traces/part-<shard>-<seq>.parquet``
(its records), ``servers.log`` (what its embedded servers said) and, with
``--auto-update``, ``mined_templates.json`` (templates mined from its traffic). Files are
replaced atomically, so a reader never sees half of one.

A manifest records the process that runs it (pid, host, start time). One that still
says ``running`` after that process is gone (killed hard) reads as ``incomplete``,
wherever it is read; ``aura-lab doctor`` writes the repair.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import RunConfig
from ..errors import InputError
from ..inputs import read_json_file
from ..paths import file_name_part, write_atomic
from ..system import process_alive

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
TRACES = "traces"
MINED_TEMPLATES = "mined_templates.json"  # templates mined from the run's traffic (--auto-update)
SERVERS_LOG = "servers.log"
_PART = re.compile(r"part-(\d{4,})-(\d{6,})\.parquet")
_UNSAVED = re.compile(r"unsaved-\d+-part-\d{4,}-\d{6,}\.parquet")
# incomplete: the manifest said running, but the process that ran it is gone
STATUSES = ("running", "complete", "interrupted", "failed", "incomplete")
# an option a manifest of an earlier version lacks, and the value its run had (every run
# played the peer's traffic before there were profiles): not today's default
_BEFORE_OPTION = {"profile": "peer"}


def part_name(shard: int, seq: int) -> str:
    """The file name of part ``seq`` of shard ``shard`` (shard 0 is the main process)."""
    return f"part-{shard:04d}-{seq:06d}.parquet"


def parse_part_name(name: str) -> tuple[int, int] | None:
    """``(shard, seq)`` of a part file name; None for any other name."""
    m = _PART.fullmatch(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def unsaved_dir(run_id: str) -> Path:
    """Where a run puts what its folder would not take (a full or read-only disk): its
    fallback parts and its last manifest, in the system temp dir under the run's id, so
    ``aura-lab doctor`` finds them for that run."""
    return Path(tempfile.gettempdir()) / "aura-lab-unsaved" / file_name_part(run_id)


def unsaved_name(shard: int, seq: int) -> str:
    """The name of a fallback part: records a run could not write into ``traces/``."""
    return f"unsaved-{os.getpid()}-{part_name(shard, seq)}"


@dataclass
class ServerInfo:
    """One server a run talked to. For a server aura-lab did not start, ``label_from``
    says how its codec label was found (its ``GET /health``, or its replies), and
    ``recorded_as`` the label its records were written with when the label was learnt
    from its replies during the run (``load_traces`` reads them as ``codec``)."""

    url: str
    codec: str
    embedded: bool
    health: dict | None = None
    label_from: str | None = None
    recorded_as: str | None = None
    dead: str | None = None  # when and why the run gave up on it (it stopped answering)


@dataclass
class Manifest:
    """What a run was (options, seed, versions, input files, servers) and what happened
    to it (status, times in UTC ISO 8601, warmup, notes, warnings). ``status`` is
    ``running`` while it goes, then ``complete``, ``interrupted`` or ``failed`` (read as
    ``incomplete`` when its process is gone while it says ``running``);
    ``warnings`` are every warning the run printed (on stderr, even with ``--quiet``)."""

    run_id: str
    status: str = "running"
    started_at: str | None = None
    ended_at: str | None = None
    options: dict = field(default_factory=dict)
    seed: int | None = None
    versions: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    servers: list[ServerInfo] = field(default_factory=list)
    templates_from: str | None = None
    planned_messages: int | None = None
    warmup: dict | None = None
    workers: dict | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    host: dict = field(default_factory=dict)  # platform, cpus, and the process: pid, hostname, process_started
    error: str | None = None  # why the run failed (status failed), in one line
    profile: dict | None = None  # the traffic profile: name, kind, description, source
    traffic: str | None = None  # one line: profile or replay, and how replies travel
    # the client's own cost over the main phase (analysis.metrics.client_load: CPU and wall
    # per message, share of a core, saturated) and how it ran (event loop, JSON parser)
    client: dict | None = None

    @property
    def primary_codec(self) -> str | None:
        """The codec of the first server: the one every run's headline figures are for."""
        return self.servers[0].codec if self.servers else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "manifest") -> Manifest:
        """A manifest from its JSON form; keys it does not know are ignored, keys it
        lacks take their defaults (an older or hand-made manifest still loads)."""
        if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
            raise InputError("a manifest must be a JSON object with a 'run_id' string", where=where)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        servers = values.get("servers") or []
        values["servers"] = [
            ServerInfo(
                str(s.get("url")),
                str(s.get("codec")),
                bool(s.get("embedded")),
                s.get("health") if isinstance(s.get("health"), dict) else None,
                s.get("label_from") if isinstance(s.get("label_from"), str) else None,
                s.get("recorded_as") if isinstance(s.get("recorded_as"), str) else None,
                str(s["dead"]) if s.get("dead") is not None else None,
            )
            for s in servers
            if isinstance(s, dict)
        ]
        for name, kind in (
            ("options", dict),
            ("versions", dict),
            ("files", dict),
            ("host", dict),
            ("notes", list),
            ("warnings", list),
        ):
            if not isinstance(values.get(name, kind()), kind):
                values[name] = kind()
        for name in ("status", "started_at", "ended_at", "templates_from", "error"):
            if values.get(name) is not None and not isinstance(values[name], str):
                values[name] = str(values[name])
        if values.get("status") not in STATUSES:
            values.pop("status", None)
        manifest = cls(**values)
        defaults = default_options()
        missing = sorted(set(defaults) - set(manifest.options))
        if missing and manifest.options != {}:
            # written before these options existed: the traffic then was what they now choose
            defaults.update({k: v for k, v in _BEFORE_OPTION.items() if k in missing})
            assumed = [f"{k} {_BEFORE_OPTION[k]} (before {k} existed)" if k in _BEFORE_OPTION else k for k in missing]
            manifest.notes.append(f"options missing from the manifest, defaults assumed: {', '.join(assumed)}")
        elif missing:
            manifest.notes.append("the manifest records no options: every option reads as its default")
        manifest.options = {**defaults, **manifest.options}
        return manifest


def note_dead_servers(manifest: Manifest, dead: list[dict]) -> None:
    """Record servers given up on (``{url, codec, note}``): on their manifest entry and
    as a note (once each, however many shards saw it)."""
    for entry in dead:
        for server in manifest.servers:
            if server.url == entry["url"] and server.dead is None:
                server.dead = entry["note"]
                manifest.notes.append(f"{entry['codec']}: {entry['note']}")


def default_options() -> dict:
    """Every option of a run with its default, as a manifest records it (lists, not tuples)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(RunConfig()).items()}


class RunFolder:
    """The files of one run."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def create(cls, trace_dir: str | os.PathLike, run_id: str) -> RunFolder:
        """A new, empty run folder; a run id in use already is refused (two runs never
        write into one folder)."""
        root = Path(trace_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError("the trace dir is a file", where=str(root), fix="give a folder") from None
        except OSError as exc:
            raise InputError(f"cannot create the trace dir: {exc.strerror}", where=str(root)) from None
        folder = cls(root / run_id)
        try:
            folder.path.mkdir()  # atomic and exclusive: the run id is ours from here
        except FileExistsError:
            raise InputError(
                "a run with this id exists already", where=str(folder.path), fix="choose another --run-id"
            ) from None
        except OSError as exc:
            raise InputError(
                f"cannot create the run folder: {exc.strerror}",
                where=str(folder.path),
                fix="check that the trace dir is writable",
            ) from None
        folder.traces_dir.mkdir()
        return folder

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    @property
    def traces_dir(self) -> Path:
        return self.path / TRACES

    @property
    def mined_templates_path(self) -> Path:
        return self.path / MINED_TEMPLATES

    def is_run(self) -> bool:
        return self.manifest_path.is_file()

    @property
    def servers_log(self) -> Path:
        return self.path / SERVERS_LOG

    def parts(self) -> list[Path]:
        """The part files, in name order (shard, then sequence)."""
        if not self.traces_dir.is_dir():
            return []
        return sorted(p for p in self.traces_dir.iterdir() if parse_part_name(p.name) and p.is_file())

    def unsaved_parts(self) -> list[Path]:
        """Fallback parts the run wrote beside ``traces/`` (or in ``unsaved_dir``) when it
        could not write there."""
        places = [self.path, unsaved_dir(self.path.name)]
        return sorted(
            p
            for place in places
            if place.is_dir()
            for p in place.iterdir()
            if _UNSAVED.fullmatch(p.name) and p.is_file()
        )

    def codec_labels(self) -> dict[str, str]:
        """``{label in the records: label to read them as}`` from the manifest (servers
        whose label was learnt during the run); empty without a manifest."""
        if not self.is_run():
            return {}
        try:
            servers = self.read_manifest().servers
        except InputError:
            return {}  # a broken manifest: the records keep their labels
        return {s.recorded_as: s.codec for s in servers if s.recorded_as and s.recorded_as != s.codec}

    def read_manifest(self) -> Manifest:
        """The manifest; one that says ``running`` while its process is gone reads as
        ``incomplete``, with ``ended_at`` from the last record and a note saying so."""
        manifest = Manifest.from_dict(read_json_file(self.manifest_path, "manifest"), str(self.manifest_path))
        if manifest.status == "running" and process_alive(manifest.host) is False:
            manifest.status = "incomplete"
            if manifest.ended_at is None:
                manifest.ended_at = self.last_record_at()
            manifest.notes.append(
                f"the process that ran it (pid {manifest.host.get('pid')}) is gone: it was killed before it "
                f"finished; the records written until then are kept (ended_at is its last record); "
                f"`aura-lab doctor {self.path}` writes this repair into the folder"
            )
        return manifest

    def last_record_at(self) -> str | None:
        """When the last record was sent or received (UTC ISO 8601), from the parts'
        column statistics (no data read); None without a readable part."""
        latest = None
        for part in self.parts():
            try:
                meta = pq.read_metadata(part)
            except (OSError, pa.ArrowException):
                continue
            names = [meta.schema.column(i).name for i in range(meta.num_columns)]
            for group in range(meta.num_row_groups):
                row_group = meta.row_group(group)
                for name in ("received_at", "sent_at", "scheduled_at"):
                    if name not in names:
                        continue
                    stats = row_group.column(names.index(name)).statistics
                    if stats is not None and stats.has_min_max:
                        value = _utc(stats.max)
                        latest = value if latest is None or (value is not None and value > latest) else latest
        return latest.isoformat(timespec="milliseconds") if latest is not None else None

    def write_manifest(self, manifest: Manifest) -> None:
        write_json(self.manifest_path, manifest.to_dict())

    def read_summary(self) -> dict | None:
        """The summary written at the end of the run; None when there is none yet."""
        if not self.summary_path.is_file():
            return None
        summary = read_json_file(self.summary_path, "summary")
        return summary if isinstance(summary, dict) else None

    def write_summary(self, summary: dict) -> None:
        write_json(self.summary_path, summary)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (``paths.write_atomic``). Text JSON's UTF-8 cannot hold (a
    lone surrogate) is written as its escape."""
    write_atomic(path, json.dumps(data, indent=2, default=str, ensure_ascii=False), errors="backslashreplace")


def _utc(value) -> datetime | None:
    """A Parquet timestamp statistic as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1e9, UTC)
    return None
