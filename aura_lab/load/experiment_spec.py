"""An experiment's spec: a TOML file (``tomllib``) naming the shared traffic, a baseline
and variants, each with any option of a run (docs/experiments.md).

```toml
[traffic]                 # or [[traffic]] tables, one per traffic; shared by every arm
profile = "peer"          # a name, a profile file, or a list of them
users = 20
seed = 1
replicates = 3            # seeds seed, seed + 1, ...: the same for every arm

[baseline]
codec = "aura:min_compression_size=50"

[[variant]]
name = "threshold 35"
codec = "aura:min_compression_size=35"
claimed = [0.10, 0.15]    # the gain someone claimed (relative, on claim_metric)
```

An arm's options are the traffic's, then the baseline's, then its own (a variant changes
only what it names). ``codec`` is one spec or a list (the run's codecs, the first
primary); a variant's codecs are compared with the baseline's by position. Relative
paths are read from the spec's folder. Every mistake is an ``InputError`` naming the
file, the table and the key, before anything runs.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import BOUNDS, RunConfig, split_specs
from ..errors import InputError
from ..inputs import read_input_file
from ..traffic.profile import BUILT_IN
from .runner import check_codecs

#: options the experiment sets itself, not the spec
CONTROLLED = {
    "trace_dir",
    "run_id",
    "quiet",
    "progress",
    "export",
    "peer_traces",
    "report",
    "debug",
    "workers",
    "scheduler",
    "urls",
    "in_process_servers",
    "offline",
    "auto_update",
    "codecs",
}
RUN_OPTIONS = [name for name in RunConfig.option_names() if name not in CONTROLLED]
PATH_OPTIONS = ("corpus", "metadata", "templates", "replay", "reference", "templates_from")
CODEC_PATHS = re.compile(r"(?<=[:,])(templates|training)=([^,]+)")
ARM_KEYS = ("name", "codec", "claimed", "claim_metric", "target")
TRAFFIC_KEYS = ("replicates",)
CLAIM_METRICS = ("overall_ratio", "safe_ratio", "wire_ratio", "mean_ratio")
MAX_REPLICATES = 100
BASELINE = "baseline"


@dataclass
class Arm:
    """The baseline or a variant: its name, its own options, and any claim made for it."""

    name: str
    options: dict[str, Any]
    claimed: tuple[float, float] | None = None  # relative gain on claim_metric, low..high
    claim_metric: str = "overall_ratio"
    target: tuple[float, float] | None = None  # the variant's value someone aimed at


@dataclass
class Traffic:
    """One traffic every arm is played on: a profile's (or logs') and its replicates."""

    name: str
    options: dict[str, Any]
    replicates: int = 1

    def seeds(self) -> list[int]:
        seed = int(self.options.get("seed", RunConfig.seed))
        return [seed + r for r in range(self.replicates)]


@dataclass
class ExperimentSpec:
    path: Path
    name: str
    traffics: list[Traffic]
    baseline: Arm
    variants: list[Arm]
    n_boot: int = 1000
    description: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def arms(self) -> list[Arm]:
        return [self.baseline, *self.variants]

    def options(self, traffic: Traffic, arm: Arm) -> dict[str, Any]:
        """The run options of ``arm`` on ``traffic`` (seed: the first replicate's)."""
        merged = {**traffic.options, **self.baseline.options}
        if arm is not self.baseline:
            merged.update(arm.options)
        return merged


def read_spec(path: str | Path) -> ExperimentSpec:
    """Read and check a spec file; nothing runs."""
    path = Path(path)
    raw = read_input_file(path, "experiment spec", fix="give a TOML file: aura-lab experiment SPEC.toml")
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 at byte {exc.start}", where=str(path), fix="save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", where=str(path)) from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise InputError(
            "invalid TOML: arrays or inline tables nested too deep to read",
            where=str(path),
            fix="a spec nests a few levels at most: see docs/experiments.md",
        ) from None
    return parse_spec(data, path)


def parse_spec(data: dict, path: Path) -> ExperimentSpec:
    where = str(path)
    _known(data, ("experiment", "traffic", "baseline", "variant"), where, "tables")
    head = _table(data.get("experiment", {}), f"{where}: [experiment]")
    _known(head, ("name", "description", "n_boot"), f"{where}: [experiment]", "keys")
    if "traffic" not in data or "baseline" not in data:
        raise InputError(
            "a spec needs a [traffic] table and a [baseline] table",
            where=where,
            fix="see docs/experiments.md for the smallest spec",
        )
    _short(head.get("name", ""), f"{where}: [experiment] name")
    n_boot = head.get("n_boot", 1000)
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or not 100 <= n_boot <= 100_000:
        raise InputError(f"n_boot must be a whole number 100..100000, got {n_boot!r}", where=f"{where}: [experiment]")
    base = path.resolve().parent
    traffics = _traffics(data["traffic"], where, base)
    baseline = _arm(_table(data["baseline"], f"{where}: [baseline]"), f"{where}: [baseline]", base, BASELINE)
    raw_variants = data.get("variant", [])
    if not isinstance(raw_variants, list) or not raw_variants:
        raise InputError(
            "no [[variant]] table: an experiment compares variants with the baseline",
            where=where,
            fix='add [[variant]] with a name and the options it changes, e.g. codec = "deflate"',
        )
    variants = []
    for i, table in enumerate(raw_variants, 1):
        label = f"{where}: [[variant]] {i}"
        table = _table(table, label)
        if not isinstance(table.get("name"), str) or not table["name"].strip():
            raise InputError("a variant needs a name", where=label, fix='name = "threshold 35"')
        _short(table["name"], f"{label}: name")
        variants.append(_arm(table, f"{where}: [[variant]] {table['name']!r}", base, table["name"].strip()))
    names = [a.name for a in [baseline, *variants]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"arm names must differ; given twice: {', '.join(twice)}", where=where)
    spec = ExperimentSpec(
        path, str(head.get("name") or path.stem), traffics, baseline, variants, n_boot, str(head.get("description", ""))
    )
    _check_runs(spec)
    return spec


# A name goes into run ids, folder names, table rows and chart labels: a name of 100,000
# characters or more (once accepted) made every one of them that long.
MAX_NAME_CHARS = 100


def _short(name: Any, where: str) -> None:
    if isinstance(name, str) and len(name) > MAX_NAME_CHARS:
        raise InputError(f"a name is at most {MAX_NAME_CHARS} characters, got {len(name):,}", where=where,
                         fix="give a short name; say more in description")  # fmt: skip


def _table(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputError("expected a table", where=where)
    return value


def _known(table: dict, allowed, where: str, what: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown {what} {', '.join(map(repr, unknown))}", where=where, fix=f"use some of: {', '.join(allowed)}"
        )


def _traffics(value: Any, where: str, base: Path) -> list[Traffic]:
    tables = value if isinstance(value, list) else [value]
    out: list[Traffic] = []
    for i, table in enumerate(tables, 1):
        label = f"{where}: [traffic]" if not isinstance(value, list) else f"{where}: [[traffic]] {i}"
        table = dict(_table(table, label))
        _known(table, (*RUN_OPTIONS, *TRAFFIC_KEYS), label, "keys")
        replicates = table.pop("replicates", 1)
        if not isinstance(replicates, int) or isinstance(replicates, bool) or not 1 <= replicates <= MAX_REPLICATES:
            raise InputError(f"replicates must be a whole number 1..{MAX_REPLICATES}, got {replicates!r}", where=label)
        if table.get("replay") and replicates > 1:
            raise InputError(
                "logs replay the same conversations every time: replicates must be 1",
                where=label,
                fix="leave out replicates, or use a profile (each replicate a seed)",
            )
        profiles = table.pop("profile", None)
        for profile in profiles if isinstance(profiles, list) else [profiles]:
            options = _options({**table, **({"profile": profile} if profile is not None else {})}, label, base)
            name = "logs" if options.get("replay") else str(options.get("profile", RunConfig.profile))
            out.append(Traffic(Path(name).stem if name.endswith(".json") else name, options, replicates))
    names = [t.name for t in out]
    if len(set(names)) < len(names):
        raise InputError(
            f"two traffics have one name ({', '.join(names)})", where=where, fix="one [[traffic]] table per profile"
        )
    return out


def _arm(table: dict, where: str, base: Path, name: str) -> Arm:
    _known(table, (*RUN_OPTIONS, *ARM_KEYS), where, "keys")
    options = {k: v for k, v in table.items() if k not in ARM_KEYS}
    if "codec" in table:
        codec = table["codec"]
        specs = split_specs(codec) if isinstance(codec, str) else codec
        if not isinstance(specs, (list, tuple)) or not specs or not all(isinstance(s, str) for s in specs):
            raise InputError(
                "codec must be a spec or a list of specs",
                where=f"{where}: codec",
                fix='codec = "aura" or codec = ["aura", "deflate-stream"]',
            )
        options["codecs"] = tuple(CODEC_PATHS.sub(lambda m: f"{m[1]}={_resolve(m[2], base)}", s) for s in specs)
    metric = table.get("claim_metric", "overall_ratio")
    if metric not in CLAIM_METRICS:
        raise InputError(f"claim_metric must be one of {', '.join(CLAIM_METRICS)}, got {metric!r}", where=where)
    return Arm(
        name, _options(options, where, base), _pair(table, "claimed", where), metric, _pair(table, "target", where)
    )


def _pair(table: dict, key: str, where: str) -> tuple[float, float] | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) for v in value)
        and value[0] <= value[1]
    ):
        raise InputError(
            f"{key} must be a number or [low, high], got {value!r}",
            where=f"{where}: {key}",
            fix=f"{key} = [0.10, 0.15] (a gain of +10% to +15%)" if key == "claimed" else None,
        )
    return float(value[0]), float(value[1])


def _resolve(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _options(options: dict, where: str, base: Path) -> dict:
    out = dict(options)
    for key in PATH_OPTIONS:
        value = out.get(key)
        if isinstance(value, str) and value not in ("none", "aura"):
            out[key] = _resolve(value, base)
        elif isinstance(value, list):
            out[key] = [_resolve(str(v), base) for v in value]
    profile = out.get("profile")
    if isinstance(profile, str) and profile not in BUILT_IN:  # a profile JSON file, from the spec's folder too
        out["profile"] = _resolve(profile, base)
    if isinstance(out.get("turns"), list):
        out["turns"] = tuple(out["turns"])
    return out


def _check_runs(spec: ExperimentSpec) -> None:
    """Every arm's run on every traffic is a valid run: checked as ``aura_lab.run`` would
    check it, with the error naming the arm."""
    n_codecs = None
    for traffic in spec.traffics:
        for arm in spec.arms:
            where = f"{spec.path}: {'[baseline]' if arm is spec.baseline else f'[[variant]] {arm.name!r}'}"
            options = spec.options(traffic, arm)
            for key in ("corpus", "metadata", "templates"):
                value = options.get(key)
                if isinstance(value, str) and value not in ("none", "aura") and not Path(value).is_file():
                    raise InputError(
                        f"{key} file {value} not found",
                        where=f"{where}: {key}",
                        fix="relative paths are read from the spec's folder",
                    )
            try:
                config = RunConfig(**{**options, "offline": True}).validate()  # a think time given is checked too
                check_codecs(config.codecs)
            except InputError as exc:
                raise InputError(exc.message, where=f"{where}: {exc.where or 'codec'}", fix=exc.fix) from None
            except TypeError as exc:  # a value of the wrong kind (a table for a number)
                raise InputError(f"a value of the wrong kind: {exc}", where=where) from None
            if n_codecs is not None and len(config.codecs) != n_codecs:
                raise InputError(
                    f"{len(config.codecs)} codecs where the baseline has {n_codecs}",
                    where=where,
                    fix="give every arm as many codecs as the baseline: they are compared by position",
                )
            n_codecs = len(config.codecs)
            users = options.get("users")
            if users is not None:
                BOUNDS["users"].check(users, f"{where}: users")


def with_options(spec: ExperimentSpec, **changes: Any) -> ExperimentSpec:
    """The spec with options changed for every traffic (``users=2`` for a quick look)."""
    traffics = [dataclasses.replace(t, options={**t.options, **changes}) for t in spec.traffics]
    return dataclasses.replace(spec, traffics=traffics)
