"""aura-lab: realistic AI-chat WebSocket traffic, embedded compression servers, analysis.

The public names are imported lazily so that ``import aura_lab`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "AuraLabError": "errors",
    "InputError": "errors",
    "load_corpus": "corpus",
    "load_metadata": "metadata",
    "load_templates": "templates",
    "LengthTable": "lengths",
    "GeneratorConfig": "generators",
    "user_messages": "generators",
    "serve": "server",
    "run": "runner",
    "arun": "runner",
    "load_traces": "traces",
    "load_run": "runner",
    "RunConfig": "run_config",
    "Run": "runner",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"aura_lab.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'aura_lab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
