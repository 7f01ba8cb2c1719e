"""``RunConfig``'s options as keyword arguments of ``aura_lab.run()`` and ``arun()``:
their types for type checkers (``RunOptions``) and a signature listing each with its
default (``with_run_options``). The defaults and ranges themselves are ``config``'s;
a test keeps ``RunOptions`` in step with ``RunConfig``'s fields."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from ..config import RunConfig


class RunOptions(TypedDict, total=False):
    """``RunConfig``'s options as keyword arguments (``aura_lab.run(**options)``)."""

    users: int | None
    ramp_up: float
    turns: tuple[int, int] | str | None
    messages_per_user: int | None
    duration: float | None
    think_time: str | float
    arrival_rate: float | None
    seed: int
    corpus: str | None
    metadata: str | None
    templates: str | None
    corpus_weight: float
    ai_ratio: float
    warmup_messages: int
    auto_adjust: bool
    selection: str
    explore: float
    codecs: tuple[str, ...] | str
    urls: tuple[str, ...] | str | None
    verify: str | None
    min_compression_size: int
    trace_dir: str
    export: str | None
    peer_traces: str | None
    debug: bool
    quiet: bool
    workers: int
    scheduler: str | None
    report: bool
    timeout: float
    max_reply_size: int
    max_duration: float
    run_id: str | None
    in_process_servers: bool
    progress: bool
    profile: str
    replay: tuple[str, ...] | str | None
    replay_timing: str
    framing: str
    chunk_tokens: int
    envelope: str
    resend_whole: bool
    reference: tuple[str, ...] | str | None
    offline: bool
    auto_update: bool
    templates_from: str | None


F = TypeVar("F", bound=Callable[..., Any])


def with_run_options(func: F) -> F:
    """Give ``func(config=None, **options)`` a signature that lists every option of
    ``RunConfig`` with its default, for ``help()``, ``inspect`` and notebooks' tooltips."""
    signature = inspect.signature(func)
    kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD and not p.name.startswith("_")]
    defaults = RunConfig()
    options = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, f.name), annotation=f.type)
        for f in dataclasses.fields(RunConfig)
    ]
    func.__signature__ = signature.replace(parameters=[*kept, *options])  # type: ignore[attr-defined]
    return func
