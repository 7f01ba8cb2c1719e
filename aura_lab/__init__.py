"""aura-lab: realistic AI-chat WebSocket traffic, embedded compression servers, analysis.

    import aura_lab
    run = aura_lab.run(users=5, turns=(5, 10), think_time="0")   # blocks; also in Jupyter
    run.summary_text(); run.traces                               # figures; one record per message
    aura_lab.load_run("data/traces/<run_id>")                    # a run folder, later

The package by job (imports run one way, down this list):

- ``cli``: the ``aura-lab`` command; one module per sub-command.
- ``load``: the engine that plays users against servers, and the run around it.
- ``servers``: the embedded WebSocket compression servers and where they run.
- ``report``: charts and the HTML report.
- ``analysis``: one definition of every figure (``metrics``), summaries, comparisons,
  and the analyses behind the notebooks.
- ``traces``: the trace schema, writer and reader, the run folder, the peer's formats.
- ``wire``: the protocol both sides share, without I/O.
- ``traffic`` and ``codecs``: generated conversations; compressors behind one interface.
- ``config`` (every default and range), ``errors``, ``inputs`` (the one reader of input
  files), ``paths`` (bundled files) and ``system`` (file-descriptor limits, process
  liveness, scratch dirs of killed runs).

Public names are imported on first use, so ``import aura_lab`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    "AuraLabError": "errors",
    "InputError": "errors",
    "RunConfig": "config",
    "ThinkTime": "timing",
    "run": "load.runner",
    "replay": "load.replay",
    "run_experiment": "load.experiment",
    "load_experiment": "analysis.experiment_results",
    "arun": "load.runner",
    "Run": "analysis.run",
    "load_run": "analysis.run",
    "load_traces": "traces.reader",
    "read_logs": "traces.logs",
    "load_profile": "traffic.profile",
    "serve": "servers.hosting",
    "serve_many": "servers.hosting",
    "get_codec": "codecs",
    "codec_names": "codecs",
    "load_corpus": "traffic.corpus",
    "load_metadata": "traffic.metadata",
    "load_templates": "traffic.templates",
    "LengthTable": "traffic.lengths",
    "GeneratorConfig": "traffic.generator",
    "generate": "traffic.generator",
    "user_messages": "traffic.generator",
}
__all__ = [
    "AuraLabError",
    "GeneratorConfig",
    "InputError",
    "LengthTable",
    "Run",
    "RunConfig",
    "ThinkTime",
    "__version__",
    "arun",
    "codec_names",
    "generate",
    "get_codec",
    "load_corpus",
    "load_experiment",
    "load_metadata",
    "load_profile",
    "load_run",
    "load_templates",
    "load_traces",
    "read_logs",
    "replay",
    "run",
    "run_experiment",
    "serve",
    "serve_many",
    "user_messages",
]

if TYPE_CHECKING:  # for IDEs and type checkers; at run time the names load lazily
    from .analysis.experiment_results import load_experiment
    from .analysis.run import Run, load_run
    from .codecs import codec_names, get_codec
    from .config import RunConfig
    from .errors import AuraLabError, InputError
    from .load.experiment import run_experiment
    from .load.replay import replay
    from .load.runner import arun, run
    from .servers.hosting import serve, serve_many
    from .timing import ThinkTime
    from .traces.logs import read_logs
    from .traces.reader import load_traces
    from .traffic.corpus import load_corpus
    from .traffic.generator import GeneratorConfig, generate, user_messages
    from .traffic.lengths import LengthTable
    from .traffic.metadata import load_metadata
    from .traffic.profile import load_profile
    from .traffic.templates import load_templates


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value  # once loaded, a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
