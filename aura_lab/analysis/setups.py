"""What two runs' set-ups differ in, read from their manifests.

A comparison of two runs means something only when the runs were set up alike: 5 users
against 10, or no think time against the default, changes latency and ratios by
itself. ``setup_differences`` lists every option, input file hash, codec setting,
package version and host fact in which two manifests differ, so a comparison can say
so (and ``aura-lab compare --strict`` can refuse the pair).
"""

from __future__ import annotations

from typing import Any

from ..traces.folder import Manifest

# options that say where output goes or how it is shown, not what was measured
OUTPUT_ONLY = frozenset(
    {"run_id", "trace_dir", "export", "peer_traces", "debug", "quiet", "progress", "report", "json"}
)
# settings of a server that depend on where it ran, not on what it does
_PLACE = frozenset({"workdir", "uptime_s", "messages_served", "roundtrip_failures", "error_replies", "status"})
# the process that ran a run (manifest.host): which one, not how it was set up
_PROCESS = frozenset({"pid", "process_started"})


def setup_of(manifest: Manifest) -> dict[str, Any]:
    """The flat set-up of a run: ``{"users": 10, "files.corpus.sha256": ..., ...}``."""
    flat: dict[str, Any] = {}
    for name, value in sorted(manifest.options.items()):
        if name not in OUTPUT_ONLY:
            flat[name] = value
    flat["seed"] = manifest.seed if manifest.seed is not None else manifest.options.get("seed")
    for kind in ("corpus", "metadata"):
        info = manifest.files.get(kind)
        flat[f"files.{kind}.sha256"] = info.get("sha256") if isinstance(info, dict) else None
    flat["codecs"] = [s.codec for s in manifest.servers]
    for server in manifest.servers:
        health = server.health or {}
        info = health.get("codec_info") or {}
        for key, value in sorted(info.items()):
            if key not in _PLACE:
                flat[f"codec.{server.codec}.{key}"] = value
        if "min_compression_size" in health:
            flat[f"codec.{server.codec}.server_min_compression_size"] = health["min_compression_size"]
    for package, version in sorted(manifest.versions.items()):
        flat[f"version.{package}"] = version
    for key, value in sorted(manifest.host.items()):
        if key not in _PROCESS:
            flat[f"host.{key}"] = value
    warmup = manifest.warmup or {}
    for key in ("corpus_weight_after", "explore_after"):
        if key in warmup:
            flat[f"warmup.{key}"] = warmup[key]
    return flat


def setup_differences(a: Manifest | None, b: Manifest | None) -> list[dict]:
    """``[{"setting", "a", "b"}]`` for every set-up key whose values differ (a key one run
    lacks counts as different). A missing manifest gives one entry saying the set-up of
    that run is unknown."""
    if a is None or b is None:
        note = (
            "runs A and B have no manifest.json: their set-ups are unknown"
            if a is None and b is None
            else f"run {'A' if a is None else 'B'} has no manifest.json: its set-up is unknown"
        )
        return [{"setting": "manifest", "a": None if a is None else "present", "b": None if b is None else "present",
                 "note": note}]  # fmt: skip
    setup_a, setup_b = setup_of(a), setup_of(b)
    out = []
    for key in sorted(set(setup_a) | set(setup_b)):
        value_a, value_b = setup_a.get(key), setup_b.get(key)
        if value_a != value_b:
            out.append({"setting": key, "a": value_a, "b": value_b})
    return out
