"""An experiment's HTML report: one self-contained file (charts are embedded PNGs with
their alt text; no script, font or style is fetched from anywhere), written beside the
experiment's tables."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..analysis.experiment import METHOD
from ..analysis.experiment_text import change_text, claim_verdict, percent, value_text
from ..paths import write_atomic
from .experiment_charts import forest_plot, pareto_chart
from .figures import alt_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; line-height: 1.4; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
pre { background: #f8f8f8; padding: 1em; overflow-x: auto; font-size: 0.8em; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
"""


def _image(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt_text(fig))}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, na_rep="not checked", float_format=lambda v: f"{v:.4g}")


def claims_table(manifest: dict, results: pd.DataFrame, divergence: dict) -> pd.DataFrame:
    """Claimed against measured, per traffic and claimed variant (the primary codec)."""
    rows = []
    for arm in manifest.get("arms", []):
        if not arm.get("claimed") and not arm.get("target"):
            continue
        metric = arm.get("claim_metric") or "overall_ratio"
        hits = results[
            (results["variant"] == arm["name"]) & (results["metric"] == metric) & (results["codec_index"] == 1)
        ]
        for row in hits.to_dict("records"):
            claimed = arm.get("claimed")
            target = arm.get("target")
            rows.append(
                {
                    "traffic": row["traffic"],
                    "variant": arm["name"],
                    "codec": row["codec"],
                    "claimed": f"{percent(claimed[0])} to {percent(claimed[1])}" if claimed else "",  # as results.txt
                    "measured": change_text(row),
                    "verdict": claim_verdict(claimed, row) if claimed else "",
                    "baseline -> variant": f"{value_text(row['baseline'], row['lossy_baseline'])} -> "
                    f"{value_text(row['value'], row['lossy_variant'])}",
                    "target": f"{target[0]:g}-{target[1]:g}:1" if target else "",
                    "traffic check": divergence.get(f"{row['traffic']} | {arm['name']}", {}).get("text", ""),
                }
            )
    return pd.DataFrame(rows)


def render_experiment(
    path: str | Path, manifest: dict, results: pd.DataFrame, costs: pd.DataFrame, divergence: dict
) -> Path:
    """Write the report; returns its path."""
    name = html.escape(str(manifest.get("name", "experiment")))
    claims = {a["name"]: tuple(a["claimed"]) for a in manifest.get("arms", []) if a.get("claimed")}
    changed = {tuple(k.split(" | ", 1)): not v.get("same", True) for k, v in divergence.items()}
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>aura-lab experiment: {name}</title>"
        f"<style>{STYLE}</style></head><body><h1>aura-lab experiment: {name}</h1>"
    ]
    if manifest.get("description"):
        parts.append(f"<p>{html.escape(str(manifest['description']))}</p>")
    traffics = ", ".join(
        f"{t['name']} ({t['replicates']} replicate(s), seeds {t['seeds'][0]}-{t['seeds'][-1]})"
        for t in manifest.get("traffics", [])
    )
    parts.append(
        f"<p class='note'>{html.escape(manifest.get('mode', ''))} runs; traffic: {html.escape(traffics)}; "
        f"started {html.escape(str(manifest.get('started_at')))}; intervals: {html.escape(METHOD)}.</p>"
    )
    table = claims_table(manifest, results, divergence)
    if len(table):
        parts.append("<h2>Claimed against measured</h2>" + _table(table))
    parts.append("<h2>What each variant changes</h2>")
    for metric in ("overall_ratio", "safe_ratio", "wire_ratio"):
        parts.append(_image(forest_plot(results, metric, claims if metric == "overall_ratio" else None, changed)))
    parts.append("<h2>The table</h2><pre>" + html.escape(str(manifest.get("text", ""))) + "</pre>")
    parts.append(
        "<h2>Ratio against cost</h2><p class='note'>CPU: the codec's compress and decompress time per "
        "message; memory: held per connection (see each row's method); lossy settings are never on the "
        "Pareto front.</p>"
    )
    for traffic in dict.fromkeys(costs["traffic"]):
        parts.append(_image(pareto_chart(costs, traffic)))
    parts.append(_table(costs))
    if divergence:
        frame = pd.DataFrame(
            [
                {"traffic": k.split(" | ")[0], "variant": k.split(" | ")[1], "check": v.get("text")}
                for k, v in divergence.items()
            ]
        )
        parts.append("<h2>Traffic: the same, or changed</h2>" + _table(frame))
    parts.append("<h2>Every figure</h2>" + _table(results))
    notes = [*manifest.get("notes", []), "offline runs: latency is the codec's time, not a network's"]
    parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(str(n))}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return write_atomic(path, "\n".join(parts))
