"""The peer's ``--auto-update``, done in the open: after a run, templates are mined from
its traffic and saved beside it; a later run loads them into its aura codecs with
``--templates-from RUN`` (or ``aura:templates=FILE``); every run's manifest says which
template library each codec used.

Mining (``analysis.discovery.mine_templates``, Drain3) reads the distinct main-phase
texts of the primary codec's records; templates whose pattern AURA's installed library
holds already are left out (a second id gains nothing), and the rest keep the miner's
ids (from 1000, outside AURA's built-in ids); clusters whose text holds ``{n}`` (code,
format strings: it would read as a slot) are left out and counted. The file is ``mined_templates.json`` in the
run folder (``traces.folder``), ``{id: pattern}`` as ``aura:templates=FILE`` reads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pandas as pd

from ..analysis import metrics
from ..analysis.discovery import mine_templates, save_template_file
from ..codecs import parse_codec
from ..config import RunConfig, where
from ..errors import InputError
from ..traces.folder import Manifest, RunFolder
from ..traffic.templates import aura_library

AURA = "aura"


def templates_file(source: str | Path, cli: bool = False) -> Path:
    """The mined template file of ``source``: a run folder (its ``mined_templates.json``)
    or the file itself."""
    path = Path(source)
    if path.is_dir():
        mined = RunFolder(path).mined_templates_path
        if not mined.is_file():
            raise InputError(
                f"run {path} has no mined templates ({mined.name})",
                where=where("templates_from", cli),
                fix="make that run with --auto-update, or give a template file",
            )
        return mined
    return path


def with_templates_from(config: RunConfig, cli: bool = False) -> RunConfig:
    """``config`` with every aura codec given ``templates=FILE`` from ``templates_from``
    (applying it twice changes nothing)."""
    if not config.templates_from:
        return config
    path = templates_file(config.templates_from, cli).resolve()
    if "," in str(path):
        raise InputError(
            f"{path}: a path with a comma cannot go in a codec spec",
            where=where("templates_from", cli),
            fix="move the file to a path without commas",
        )
    specs, changed = [], False
    for spec in config.codecs:
        parsed = parse_codec(spec)
        if parsed.name == AURA:
            given = parsed.options.get("templates")
            if given is not None and Path(str(given)).resolve() == path:  # applied already (the CLI, then run)
                specs.append(spec)
                changed = True
                continue
            if given is not None:
                raise InputError(
                    f"codec {spec!r} names its templates already",
                    where=where("templates_from", cli),
                    fix="give the templates once: in the spec or with --templates-from",
                )
            spec = f"{spec}{',' if ':' in spec else ':'}templates={path}"
            changed = True
        specs.append(spec)
    if not changed:
        raise InputError(
            "no aura codec to load the templates into", where=where("templates_from", cli), fix="add aura to --codec"
        )
    return dataclasses.replace(config, codecs=tuple(specs))


def adds_templates(spec: str | None) -> bool:
    """True for a codec spec that adds templates to its codec's own library."""
    return spec is not None and "templates" in parse_codec(spec).options


def record_libraries(manifest: Manifest) -> None:
    """Say in the manifest which template library each codec used: AURA's own, or its
    own plus a file's (path, SHA-256, templates added), from the servers' health."""
    libraries = {}
    for server in manifest.servers:
        info = (server.health or {}).get("codec_info") or {}
        if "templates_file" in info:
            libraries[server.codec] = {
                k: info.get(k)
                for k in ("templates_file", "templates_sha256", "templates_added", "templates_skipped", "templates")
            }
        elif server.embedded and _is_aura(server.codec):
            libraries[server.codec] = {"templates_file": None, "templates": info.get("templates")}
    if libraries:
        manifest.files["codec_templates"] = libraries


def _is_aura(label: str) -> bool:
    try:
        return parse_codec(label).name == AURA
    except InputError:  # a server's own label (an external server, a plug-in gone since)
        return False


def mine_run(folder: RunFolder, traces: pd.DataFrame, manifest: Manifest, min_frequency: int = 3) -> dict:
    """Mine templates from a finished run's main-phase texts (the primary codec's
    records), save them beside it and record what was done in ``manifest.files``."""
    rows = metrics.select(traces, phase="main", codec=manifest.primary_codec)
    texts = list(dict.fromkeys(rows["text"].dropna().astype(str)))
    mined = mine_templates(texts, min_frequency=min_frequency)
    library = aura_library()
    known = {library.pattern(t) for t in library.ids()}
    kept = [m for m in mined if m.pattern not in known]
    path = save_template_file(kept, folder.mined_templates_path)
    record = {
        "file": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "templates": len(kept),
        "already_in_aura": len(mined) - len(kept),
        "rejected": len(mined.rejected),
        "left_out_literal_slots": mined.literal_slots,
        "mined_from_texts": len(texts),
        "min_frequency": min_frequency,
        "use": f"--templates-from {folder.path} (or aura:templates={path})",
    }
    manifest.files["mined_templates"] = record
    return record
