"""Runs from files that have no manifest: the peer's trace folder (with its export beside
it, when there is one) and an export alone. ``analysis.run.load_run`` opens them; every
notebook, the report and ``aura-lab compare`` then take them like a run folder.

The manifest of such a run is synthesized from the files (its notes say so and say how
its codec was labelled), and the run lists what is missing, in words a notebook can
show: no manifest (options unknown), no round-trip check, no roles, no template
provenance, or, for an export, no per-message records at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..traces.folder import Manifest, ServerInfo
from ..traces.peer import Export, find_exports, load_export, load_peer_traces, peer_label
from ..traces.reader import load_traces
from ..traces.schema import empty_frame
from .export import export_label, summary_from_export

STATUS_UNKNOWN = "unknown"  # the peer's files do not say whether its run completed

NO_MANIFEST = (
    "manifest: there is no manifest.json, so the run's options, seed, package versions and input files are "
    "unknown; where a notebook needs a setting it takes aura-lab's default (the peer's) and says so"
)
NO_ROUNDTRIP = (
    "round-trip check: nobody checked decompress(compress(m)) == m for these messages; every loss figure reads "
    "'not checked'"
)
REPLAY_HINT = " (`aura-lab replay FOLDER --codec aura` compresses them again, with the round trip checked)"
NO_ROLES = (
    "roles: the peer's traces do not say whether a user is AI or human; per-role figures are empty, and size fits "
    "take every message as one group (`any`) that stands in for both roles"
)
NO_PROVENANCE = (
    "template provenance: which templates and slot values built each message is not recorded, so per-template "
    "tables, churn and selection replays have nothing to work on; a template hit shows only as method "
    "BINARY_SEMANTIC"
)
NO_WARMUP = "warmup: the peer's trace files hold the main phase only"
NO_RECORDS = (
    "per-message records: an export holds totals and point figures only; charts over messages, intervals, "
    "the verdict and comparisons with a regression test need the trace files"
)


@dataclass
class Opened:
    """What ``load_run`` builds a ``Run`` from."""

    manifest: Manifest
    traces: pd.DataFrame
    summary: dict | None
    export: Export | None
    kind: str
    missing: list[str] = field(default_factory=list)


def open_peer_folder(path: Path) -> Opened:
    """The peer's trace folder, with the export beside it when there is exactly one."""
    traces = load_peer_traces(path)
    label = peer_label(traces["method"].dropna().astype(str))
    exports = find_exports(path)
    export = load_export(exports[0]) if len(exports) == 1 else None
    manifest = _manifest(path.name, label.codec, export)
    synthesized = (
        f"no manifest.json: built from the peer's trace folder {path}; this manifest is synthesized from the "
        "files (times from the traces, users from their user ids)"
    )
    manifest.notes.insert(0, synthesized)
    manifest.notes.append(f"codec label {label.codec!r}: {label.how}")
    if len(exports) > 1:
        manifest.notes.append(f"several exports beside the traces ({', '.join(p.name for p in exports)}): none used")
    if traces.empty:
        manifest.notes.append("the trace files hold no message")
    else:
        manifest.started_at = _iso(traces["sent_at"].min())
        manifest.ended_at = _iso(traces["received_at"].max())
        manifest.options.setdefault("users", int(traces["user_id"].nunique()))
        manifest.planned_messages = len(traces)
    missing = [NO_ROUNDTRIP + REPLAY_HINT, NO_ROLES, NO_PROVENANCE, NO_WARMUP]
    if not _has_options(export):
        missing.insert(0, NO_MANIFEST)
    return Opened(manifest, traces, None, export, "peer trace folder", missing)


def open_export(path: Path) -> Opened:
    """An export alone (the peer's or aura-lab's): its figures, no records."""
    export = load_export(path)
    summary = summary_from_export(export)
    name = path.stem if path.is_file() else path.name
    manifest = _manifest(name, export_label(export), export)
    synthesized = (
        f"no manifest.json: built from the export {path} (written by {export.written_by}); "
        "this manifest is synthesized from it"
    )
    manifest.notes.insert(0, synthesized)
    if export.written_by == "peer":
        manifest.notes.append(f"codec label {export_label(export)!r}: from the export's method counts")
    missing = [NO_RECORDS]
    if not _has_options(export):
        missing.append(NO_MANIFEST)
    if summary["codecs"] and all(c["loss"]["checked"] == 0 for c in summary["codecs"].values()):
        missing.append(NO_ROUNDTRIP)
    return Opened(manifest, empty_frame(), summary, export, f"{export.written_by} export", missing)


def open_trace_parts(path: Path) -> Opened:
    """A run folder without its manifest.json (trace parts only: a run killed before it
    wrote one, or records written by hand)."""
    traces = load_traces(path)
    codecs = list(dict.fromkeys(traces["codec"].astype(str))) if len(traces) else []
    manifest = Manifest(run_id=path.name, status=STATUS_UNKNOWN)
    manifest.servers = [ServerInfo("unknown", codec, False, None) for codec in codecs]
    manifest.notes.append(
        f"no manifest.json: read from the trace parts in {path}; the first codec of the records is taken as the primary"
    )
    return Opened(manifest, traces, None, None, "trace folder", [NO_MANIFEST])


def _has_options(export: Export | None) -> bool:
    return export is not None and isinstance(export.get("config.options"), dict)


def _manifest(run_id: str, codec: str, export: Export | None) -> Manifest:
    """A manifest with what the files say: from an aura-lab export its options, seed and
    input files; from the peer's its user count and server URL."""
    manifest = Manifest(run_id=run_id, status=STATUS_UNKNOWN)
    url = None
    if export is not None:
        options = export.get("config.options")
        manifest.options = dict(options) if isinstance(options, dict) else {}
        if export.get("config.num_users") is not None:
            manifest.options.setdefault("users", export.get("config.num_users"))
        manifest.seed = export.get("config.seed")
        files = export.get("config.files")
        manifest.files = dict(files) if isinstance(files, dict) else {}
        manifest.status = str(export.get("status", STATUS_UNKNOWN))
        manifest.started_at = export.get("aura_lab.started_at")
        manifest.ended_at = export.get("aura_lab.ended_at") or _from_local(export.get("timestamp"))
        url = export.get("config.server_url")
        manifest.notes.append(
            f"export {export.path.name} (written by {export.written_by}): "
            f"{export.get('summary.total_messages', 0)} messages; its figures are in run.export"
        )
    manifest.servers = [ServerInfo(str(url) if url else "unknown", codec, False, None)]
    return manifest


def _iso(value) -> str | None:
    return None if pd.isna(value) else value.isoformat(timespec="milliseconds")


def _from_local(text) -> str | None:
    """The peer's local time without a zone (read as this machine's local time) in UTC."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
