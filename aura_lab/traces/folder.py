"""The run folder, its one owner: file and part names, and the typed manifest.

A run folder ``<trace_dir>/<run_id>/`` holds ``manifest.json`` (what the run was and
what happened to it), ``summary.json`` (its figures), ``mined_templates.json`` (with
``--auto-update``: templates mined from its traffic) and ``traces/part-<shard>-<seq>.parquet``
(its records). Files are replaced atomically, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputs import read_json_file

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
TRACES = "traces"
MINED_TEMPLATES = "mined_templates.json"  # templates mined from the run's traffic (--auto-update)
_PART = re.compile(r"part-(\d{4,})-(\d{6,})\.parquet")
STATUSES = ("running", "complete", "interrupted", "failed")


def part_name(shard: int, seq: int) -> str:
    """The file name of part ``seq`` of shard ``shard`` (shard 0 is the main process)."""
    return f"part-{shard:04d}-{seq:06d}.parquet"


def parse_part_name(name: str) -> tuple[int, int] | None:
    """``(shard, seq)`` of a part file name; None for any other name."""
    m = _PART.fullmatch(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass
class ServerInfo:
    """One server a run talked to."""

    url: str
    codec: str
    embedded: bool
    health: dict | None = None


@dataclass
class Manifest:
    """What a run was (options, seed, versions, input files, servers) and what happened
    to it (status, times in UTC ISO 8601, warmup, notes, warnings). ``status`` is
    ``running`` while it goes, then ``complete``, ``interrupted`` or ``failed``;
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
    host: dict = field(default_factory=dict)
    profile: dict | None = None  # the traffic profile: name, kind, description, source
    traffic: str | None = None  # one line: profile or replay, and how replies travel

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
            ServerInfo(str(s.get("url")), str(s.get("codec")), bool(s.get("embedded")), s.get("health"))
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
        return cls(**values)


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

    def parts(self) -> list[Path]:
        """The part files, in name order (shard, then sequence)."""
        if not self.traces_dir.is_dir():
            return []
        return sorted(p for p in self.traces_dir.iterdir() if parse_part_name(p.name))

    def read_manifest(self) -> Manifest:
        return Manifest.from_dict(read_json_file(self.manifest_path, "manifest"), str(self.manifest_path))

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
    """Write JSON atomically: a reader sees the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
