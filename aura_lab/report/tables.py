"""The report's and notebooks' tables and text blocks, rounded and labelled: the run's
header, the verdict, loss per codec, churn, losses by method, and what a run without
templates shows instead. Figures nobody measured read "not checked" (or "n/a"), never
0; lossy codecs are labelled LOSSY."""

from __future__ import annotations

import pandas as pd

from ..analysis import metrics
from ..analysis.churn import CHURN_RULE
from ..analysis.run import Run
from ..analysis.templates import template_table
from ..analysis.text import code, codec_label, md, shards_note


def header_markdown(run: Run) -> str:
    """Title and set-up of a run: status, times, seed, users, think time, servers, the
    traffic (its profile or replay, and how replies travelled), and how loss was checked;
    for the peer's files (no manifest) what they are and what they lack instead."""
    m = run.manifest
    options = m.options
    if run.missing:
        servers = ", ".join(f"{md(s.codec)} ({md(s.url)})" for s in m.servers)
        return "\n".join(
            [
                f"# aura-lab report: {md(run.kind)} {code(run.run_id)}",
                "",
                f"Read from {code(run.path)}: {md(run.kind)}, {md(options.get('users', 'unknown'))} users, "
                f"from {md(m.started_at or 'unknown')} to {md(m.ended_at or 'unknown')} UTC; server: {servers}.",
                "",
                *(f"- {md(note)}" for note in m.notes),
                "",
                run.missing_markdown(),
            ]
        )
    adjust = "on" if options.get("auto_adjust") else "off"
    lines = [
        f"# aura-lab report: run {code(run.run_id)}",
        "",
        f"Status **{md(m.status)}**, started {md(m.started_at)} UTC, ended {md(m.ended_at)} UTC; seed {md(m.seed)}, "
        f"{md(options.get('users'))} users, think time {code(options.get('think_time'))} s, "
        f"warmup {md(options.get('warmup_messages', 0))} messages (auto-adjust {adjust}); "
        "servers: " + ", ".join(f"{md(s.codec)} ({md(s.url)})" for s in m.servers) + ".",
    ]
    traffic = md(m.traffic or "not recorded (a run made before traffic profiles)")
    profile = f" The {code(m.profile.get('name'))} profile: {md(m.profile.get('description'))}." if m.profile else ""
    lines.append(f"\nTraffic: {traffic}.{profile}")
    client = m.client or {}
    if client.get("cpu_us_per_message") is not None:
        lines.append(
            f"\nClient: {client['cpu_us_per_message']:,.0f} µs of its own CPU per message "
            f"({client['cpu_share']:.0%} of a core over the main phase{shards_note(client)})"
            + (
                "; **saturated: the client set the pace, and its latencies include its own queueing**."
                if client.get("saturated")
                else "."
            )
        )
    else:
        lines.append(f"\nClient CPU per message: {metrics.NOT_CHECKED}.")
    if options.get("verify"):
        checker = code(options["verify"])
        lines.append(f"\nRound trips the server did not report were checked by this client with {checker}.")
    return "\n".join(lines)


NO_RECORDS = "_Not drawn: an export holds totals only, and this chart is drawn from per-message records._"
NO_TEMPLATES = "_Not drawn: no record names the template its message was built from (the peer's traces do not)._"


def verdict_markdown(summary: dict) -> str:
    """The verdict as a Markdown list, with how its intervals were made."""
    verdict = summary.get("verdict") or {}
    lines = verdict.get("lines") or ["The run is empty: there is nothing to judge."]
    text = "\n".join(f"- {md(line)}" for line in lines)
    return f"{text}\n\n_Intervals: {md(verdict['method'])}._" if verdict.get("method") else text


def notes_markdown(run: Run) -> str:
    """The manifest's warnings and notes as a Markdown list."""
    m = run.manifest
    notes = [f"- **warning**: {md(w)}" for w in m.warnings] + [f"- {md(n)}" for n in m.notes]
    return "\n".join(notes) or "No warnings."


def templates_heading(run: Run) -> str:
    return f"## Templates (primary codec, {md(run.primary_codec)})"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def loss_table(summary: dict) -> pd.DataFrame:
    """One row per codec (labelled LOSSY or "not checked"): delivered, lossless, lossy,
    not checked, who checked, and the ratio as measured beside the safe ratio."""
    rows = []
    for name, c in summary.get("codecs", {}).items():
        loss = c["loss"]
        unchecked = loss["checked"] == 0
        rows.append(
            {
                "codec": codec_label(name, c),
                "messages": c["messages"],
                "delivered": loss["delivered"],
                "delivered %": _share(loss["delivered_share"]),
                "lossless": metrics.NOT_CHECKED if unchecked else loss["lossless"],
                "lossy": metrics.NOT_CHECKED if unchecked else loss["lossy"],
                "not checked": loss["unchecked"],
                "checked by": "+".join(sorted(loss["checked_by"])) or "nobody",
                "lossless % of checked": metrics.NOT_CHECKED if unchecked else _share(loss["lossless_share"]),
                "ratio as measured": _ratio(c["overall_ratio"]),
                "safe ratio": metrics.NOT_CHECKED if c["safe_ratio"] is None and unchecked else _ratio(c["safe_ratio"]),
            }
        )
    return pd.DataFrame(rows).set_index("codec") if rows else pd.DataFrame()


def losses_by_method(df: pd.DataFrame) -> pd.DataFrame:
    """Lossy messages per codec and method (main phase), with who checked them."""
    main = metrics.select(df, phase="main", ok=True)
    lossy = main[metrics.roundtrip(main).eq(False).fillna(False).to_numpy(bool)]
    if lossy.empty:
        return pd.DataFrame(columns=["lossy messages"])
    by = lossy["roundtrip_by"].astype("string").fillna("server") if "roundtrip_by" in lossy else "server"
    frame = pd.DataFrame({"codec": lossy["codec"].astype(str), "method": lossy["method"].astype(str), "checked by": by})
    return frame.value_counts().rename("lossy messages").to_frame()


def no_templates_markdown(run: Run) -> str | None:
    """Why the template figures have nothing to show, as Markdown: an export holds no
    records, the peer's traces name no template, or no message of the run was built from
    one; None when some record names the template its message was built from."""
    if not run.has_records:
        return NO_RECORDS
    if run.has_template_records:
        return None
    if not run.rows()["source"].notna().any():  # the records say nothing of where a message came from
        return NO_TEMPLATES
    profile = (run.manifest.profile or {}).get("name")
    made = f"the {code(profile)} profile composes its texts from the corpus" if profile else "its texts were given"
    return (
        f"No message of this run was built from a template ({made}), so there are no template figures "
        "and no churn to judge. The template studies want a run with `--profile peer`."
    )


def churn_table(rows: pd.DataFrame, slot_space: dict[int, int] | None) -> pd.DataFrame | str:
    """Every churn template of one codec's rows, worst first, rounded; or a sentence
    saying there is none, or that churn was not checked."""
    if not rows["template_id"].notna().any():
        if rows["source"].notna().any():  # the records say where each message came from: none from a template
            return "Churn does not apply: no message was built from a template."
        return "Churn not checked: no record names the template its message was built from."
    if slot_space is None:
        return "Churn not checked: the run did not record how many slot values each template had."
    table = template_table(rows, n_boot=0, slot_space=slot_space)  # the churn figures only, no intervals
    flagged = table[table["low_diversity"].fillna(False).astype(bool)]
    if flagged.empty:
        return f"No churn ({CHURN_RULE})."
    shown = flagged.sort_values(["diversity_vs_uniform", "uses"], ascending=[True, False])
    return pd.DataFrame(
        {
            "template": [f"#{t}" for t in shown["template_id"]],
            "uses": shown["uses"].to_numpy(),
            "distinct fillings": shown["unique_fillings"].to_numpy(),
            "expected (uniform draw)": shown["expected_fillings"].round(1).to_numpy(),
            "available": shown["fillings_available"].to_numpy(),
            "distinct / expected": shown["diversity_vs_uniform"].round(2).to_numpy(),
            "most used fillings": [", ".join(v) for v in shown["top_slot_values"]],
        }
    ).set_index("template")
