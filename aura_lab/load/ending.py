"""How a run ends, whatever stopped it: every record left is written, the manifest says
the status and why (``finish``); then the summary, the warnings a reader must not miss,
and the extra files (``conclude``). A file that cannot be written is a warning, not a
lost run: ``aura-lab doctor`` writes the summary later, and a manifest left ``running``
reads as ``incomplete``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..analysis import metrics
from ..analysis.run import Run, summarise_run
from ..analysis.text import codec_label

if TYPE_CHECKING:
    from ..analysis.realism import RealismInput
from ..config import RunConfig
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder, note_dead_servers, unsaved_dir, write_json
from ..traces.logs import read_logs
from ..traces.reader import load_traces
from ..traces.writer import TraceWriter
from ..wire.labels import from_methods
from .auto_update import mine_run
from .console import Printer
from .links import Group
from .stopping import Stopper


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def finish(
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
        say.warn(f"cannot write {folder.manifest_path} ({exc.strerror}); {save_manifest_aside(manifest)}")
    return status


def save_manifest_aside(manifest: Manifest) -> str:
    """The final manifest, where the run's folder would not take it (``unsaved_dir``), so
    ``aura-lab doctor`` restores it with the records; what happened, for the warning."""
    aside = unsaved_dir(manifest.run_id) / "manifest.json"
    try:
        aside.parent.mkdir(parents=True, exist_ok=True)
        write_json(aside, manifest.to_dict())
    except OSError as exc:
        return f"nor in {aside} ({exc.strerror}): readers will see the run as incomplete"
    return f"saved in {aside} instead: `aura-lab doctor` puts it back with the records once the folder can be written"


def conclude(
    config: RunConfig,
    folder: RunFolder,
    manifest: Manifest,
    primary: Group,
    reference: RealismInput | None,
    say: Printer,
) -> Run:
    """The summary and the extra files of a run whose records and manifest are written:
    the primary group's label learnt from its replies, the realism table against
    ``reference`` (the ``--reference`` logs' sizes and measured sample), the run's warnings."""
    traces = load_traces(folder.path)
    if learn_label(primary, manifest, traces):
        _write(folder.write_manifest, manifest, folder.manifest_path, say)
        traces = load_traces(folder.path)  # read as the manifest now labels them
    unsent = never_sent(traces)
    if unsent:
        say.warn(unsent)
    summary = summarise_run(traces, manifest)
    if reference is not None:
        from ..analysis.realism import realism  # scipy.stats: 1 s to import, for this table only

        summary["realism"] = realism(reference, read_logs(folder.path), label=f"run {manifest.run_id}")
    for warning in run_warnings(summary):
        say.warn(warning)
    if config.auto_update and manifest.status != "failed":
        mined = mine_run(folder, traces, manifest)
        left_out = mined["left_out_literal_slots"]
        said = f" ({left_out} left out: their text holds {{n}}, which reads as a slot)" if left_out else ""
        say(f"auto-update: {mined['templates']} templates mined from the run's traffic{said}; next run: {mined['use']}")
    _write(folder.write_manifest, manifest, folder.manifest_path, say)  # with the warnings
    _write(
        folder.write_summary, summary, folder.summary_path, say, f"; `aura-lab doctor {folder.path}` writes it later"
    )
    result = Run(folder.path, manifest, summary, traces)
    say(result.summary_text())
    for note in manifest.notes:
        say(f"note: {note}")
    say(f"\ntraces: {folder.path}")
    write_extras(config, result)
    if config.report and manifest.status != "failed":
        from ..report.render import render_report

        say(f"report: {render_report(folder.path)}")
    else:
        say(f"report: aura-lab report {folder.path}")
    return result


def _write(write, data, path: Path, say: Printer, then: str = "") -> None:
    try:
        write(data)
    except OSError as exc:
        if isinstance(data, Manifest):  # kept where doctor finds it, as the final write does
            then = f"; {save_manifest_aside(data)}"
        say.warn(f"cannot write {path} ({exc.strerror}){then}")


def learn_label(group: Group, manifest: Manifest, traces) -> bool:
    """An external server that did not say what it runs is labelled by what its replies
    said (AURA's compressor: its metadata, else its method names in the records, which
    the shards of a distributed run leave as the only sign). The records keep the label
    they were written with; the manifest maps it (``recorded_as``), and ``load_traces``
    reads them under the new one. True when the label changed."""
    if not group.learns_label:
        return False
    methods = metrics.select(traces, phase=None, codec=group.label)["method"].dropna().astype(str)
    learnt = group.learnt or from_methods(methods)
    if learnt is None:
        for server in manifest.servers:
            server.label_from = "nothing said which codec it runs (no GET /health; no reply was AURA's)"
        return False
    for server in manifest.servers:
        server.recorded_as, server.codec, server.label_from = server.codec, learnt.codec, learnt.how
    manifest.notes.append(
        f"codec label {learnt.codec!r} for {', '.join(s.url for s in manifest.servers)}: it has no GET /health, and "
        f"{learnt.how}; its records were written as {group.label!r} and are read as {learnt.codec!r}"
    )
    return True


def never_sent(traces: pd.DataFrame) -> str | None:
    """What the run could not measure: messages never sent because no connection could
    be made (refused, a server given up on, out of file descriptors), per codec; None
    when every message went out."""
    if traces.empty or "error_kind" not in traces:
        return None
    unsent = traces[traces["error_kind"].astype("string").eq("connect").fillna(False).to_numpy(bool)]
    if unsent.empty:
        return None
    counts = unsent.groupby(unsent["codec"].astype(str), observed=True).size()
    totals = traces.groupby(traces["codec"].astype(str), observed=True).size()
    parts = [f"{codec} {count:,} of {totals[codec]:,}" for codec, count in counts.items()]
    example = str(unsent["error"].dropna().astype(str).iloc[0]) if unsent["error"].notna().any() else "no error text"
    return (
        f"messages never sent, so never measured (connect errors): {', '.join(parts)} (first: {example[:200]}); "
        "their codecs' figures are over fewer messages: check the servers and the file-descriptor limit (ulimit -n)"
    )


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
    client = summary.get("client") or {}
    if client.get("saturated"):
        out.append(
            f"the client was saturated: {client['cpu_us_per_message']:,.0f} µs of its CPU per message against "
            f"{client['wall_us_per_message']:,.0f} µs of wall time ({client['cpu_share']:.0%} of a core): the client, "
            "not the server, set the pace, and latencies include replies waiting in its own event loop; do not "
            "trust them (fewer users, think time, --arrival-rate below capacity, or --workers on spare cores)"
        )
    if summary.get("behind_schedule"):
        late = summary["send_lateness_ms"]
        out.append(
            f"the open loop fell behind its schedule: sends were late by {late['p50']:.1f} ms at the median and "
            f"{late['p99']:.1f} ms at p99 (sends queued behind each other); latencies count from the schedule and "
            "include that wait: lower --arrival-rate"
        )
    return out


def write_extras(config: RunConfig, result: Run) -> None:
    """``--export`` and ``--peer-traces``: a write error names the file, and says the run
    itself is kept."""
    from ..analysis.export import peer_export
    from ..traces.peer import write_peer_traces

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
