"""From an experiment's runs to its tables: the tidy results (``analysis.experiment``),
the traffic divergence of each variant (``analysis.divergence``), the cost of each codec
(``analysis.costs``: time, memory per connection measured on a typical conversation of
the traffic, a dictionary's overlap with what it is measured on, the Pareto front), the
text table and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import metrics
from ..analysis.costs import codec_costs, connection_memory, pareto_front, training_overlap
from ..analysis.divergence import COLUMNS as DIVERGENCE_COLUMNS
from ..analysis.divergence import describe, summarise, traffic_divergence
from ..analysis.experiment import codec_rows, compare_arm, results_table
from ..analysis.experiment_text import format_experiment
from ..analysis.run import Run
from ..codecs.training import read_training_texts
from ..config import RunConfig
from ..paths import write_atomic
from ..traces.experiment_folder import COSTS, DIVERGENCE, REPORT, RESULTS, TEXT, ExperimentFolder
from .experiment_spec import ExperimentSpec, Traffic

RunKey = tuple[str, str, int]  # traffic, arm, replicate


def typical_conversation(run: Run) -> list[str]:
    """The texts, in order, of the primary codec's conversation of median total size."""
    rows = run.rows()
    if rows.empty:
        return []
    order = [c for c in ("turn", "frame_index") if c in rows]
    totals = rows.groupby("user_id")["length_bytes"].sum().sort_values(kind="stable")
    user = totals.index[(len(totals) - 1) // 2]
    return rows[rows["user_id"] == user].sort_values(order, kind="stable")["text"].astype(str).tolist()


def _training_file(run: Run, codec: str) -> str | None:
    for server in run.manifest.servers:
        if server.codec == codec:
            return ((server.health or {}).get("codec_info") or {}).get("training_file")
    return None


def traffic_costs(spec: ExperimentSpec, traffic: Traffic, runs: Mapping[RunKey, Run]) -> pd.DataFrame:
    """One row per arm and codec on this traffic: ratios, time, memory, overlap, Pareto."""
    reps = range(1, traffic.replicates + 1)
    texts = typical_conversation(runs[(traffic.name, spec.baseline.name, 1)])
    memory: dict[tuple[str, int], dict] = {}
    training: dict[str, list[str]] = {}
    rows = []
    for arm in spec.arms:
        arm_runs = [runs[(traffic.name, arm.name, r)] for r in reps]
        threshold = int(spec.options(traffic, arm).get("min_compression_size", RunConfig.min_compression_size))
        pooled = pd.concat([r.traces for r in arm_runs], ignore_index=True)
        for index, row in enumerate(codec_costs(pooled).to_dict("records"), 1):
            key = (str(row["codec"]), threshold)
            if key not in memory:
                memory[key] = connection_memory(key[0], texts, min_compression_size=threshold)
            used = memory[key]
            record: dict[str, Any] = {
                "traffic": traffic.name,
                "arm": arm.name,
                "codec_index": index,
                **row,
                "memory_bytes": used["bytes"],
                "python_bytes": used["python_bytes"],
                "native_bytes": used["native_bytes"],
                "rss_bytes": used["rss_bytes"],
                "codec_bytes": used["codec_bytes"],
                "memory_method": used["method"],
            }
            path = _training_file(arm_runs[0], str(row["codec"]))
            if path:
                if path not in training:
                    training[path] = read_training_texts(Path(path))[0]
                measured = metrics.select(pooled, phase="main", codec=str(row["codec"]))["text"].astype(str).tolist()
                overlap = training_overlap(training[path], measured)
                record.update(
                    training_file=path,
                    training_messages_overlap=overlap["messages_in_training"],
                    training_shingles_overlap=overlap["shingles_in_training"],
                )
            rows.append(record)
    table = pd.DataFrame(rows)
    # one point per codec setting: where the baseline has it, measured on the baseline's traffic
    table["setting"] = ~table["codec"].duplicated()
    eligible = table["setting"] & ~table["lossy"].astype(bool)
    table["pareto"] = False
    if eligible.any():
        table.loc[eligible, "pareto"] = pareto_front(table[eligible])
    return table


def analyse(spec: ExperimentSpec, runs: Mapping[RunKey, Run]) -> dict[str, Any]:
    """The results, divergence and cost tables and the text table of a finished experiment."""
    rows: list[dict] = []
    divergence_rows: list[dict] = []
    summaries: dict[tuple[str, str], dict] = {}
    costs = []
    for traffic in spec.traffics:
        reps = range(1, traffic.replicates + 1)
        base = [runs[(traffic.name, spec.baseline.name, r)] for r in reps]
        for arm in spec.variants:
            variant = [runs[(traffic.name, arm.name, r)] for r in reps]
            rows += compare_arm(
                [b.traces for b in base], [v.traces for v in variant], traffic.name, arm.name, n_boot=spec.n_boot
            )
            per = [
                {
                    "traffic": traffic.name,
                    "variant": arm.name,
                    "replicate": r,
                    **traffic_divergence(codec_rows(b.traces, 0), codec_rows(v.traces, 0), b.path, v.path),
                }
                for r, (b, v) in enumerate(zip(base, variant), 1)
            ]
            divergence_rows += per
            summaries[(traffic.name, arm.name)] = summarise(per)
        costs.append(traffic_costs(spec, traffic, runs))
    results = results_table(rows)
    arms = [
        {"name": a.name, "claimed": a.claimed, "claim_metric": a.claim_metric, "target": a.target} for a in spec.arms
    ]
    text = format_experiment(results, arms, summaries, header=_header(spec))
    return {
        "results": results,
        "divergence": pd.DataFrame(divergence_rows, columns=DIVERGENCE_COLUMNS),
        "divergence_summary": {f"{t} | {v}": {**s, "text": describe(s)} for (t, v), s in summaries.items()},
        "costs": pd.concat(costs, ignore_index=True),
        "text": text,
        "arms": arms,
    }


def _header(spec: ExperimentSpec) -> list[str]:
    lines = [f"experiment {spec.name}: {', '.join(a.name for a in spec.variants)} against {spec.baseline.name}"]
    for traffic in spec.traffics:
        users = traffic.options.get("users")
        seeds = traffic.seeds()
        lines.append(
            f"  traffic {traffic.name}: {traffic.replicates} replicate(s) of "
            f"{users if users is not None else 'the default'} users, seeds {seeds[0]}-{seeds[-1]}"
        )
    return lines


def write_outputs(folder: ExperimentFolder, found: dict[str, Any], manifest: dict[str, Any]) -> None:
    """The tables, the text and the HTML report into the experiment folder."""
    from ..report.experiment_html import render_experiment

    found["results"].to_csv(folder.file(RESULTS), index=False)
    found["costs"].to_csv(folder.file(COSTS), index=False)
    found["divergence"].to_csv(folder.file(DIVERGENCE), index=False)
    write_atomic(folder.file(TEXT), found["text"] + "\n")
    manifest["divergence"] = found["divergence_summary"]
    manifest["text"] = found["text"]
    render_experiment(folder.file(REPORT), manifest, found["results"], found["costs"], found["divergence_summary"])
