"""Blocking calls of async runs, also inside Jupyter.

A Jupyter cell already runs inside an event loop, where ``asyncio.run`` refuses to
start another. There the run's own loop goes to a worker thread and the caller waits;
nothing is patched (we chose this over nest-asyncio: the notebook's loop and the run's
stay independent, and the run's timing is not disturbed by the notebook's work).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable, Coroutine
from typing import Any


def event_loop_name() -> str:
    """The event loop a run uses: ``uvloop`` when installed (``aura-lab[fast]``:
    1.03x the runner's rate measured), else ``asyncio``'s own."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def run_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` on the loop ``event_loop_name`` says."""
    if event_loop_name() == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


def run_blocking(make: Callable[[threading.Event | None], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``make(stop_flag)`` to completion and return its result. Outside a running
    loop ``stop_flag`` is None (signals stop the run); inside one (Jupyter) it is an
    Event set when the caller is interrupted (the notebook's interrupt button)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_loop(make(None))
    box: dict = {}
    stop, finished = threading.Event(), threading.Event()

    def worker() -> None:
        try:
            box["result"] = run_loop(make(stop))
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=worker, name="aura-lab-run", daemon=True)
    thread.start()
    # wait on an Event, not Thread.join: a join interrupted by KeyboardInterrupt marks the
    # thread as stopped while it still runs (seen on CPython 3.11), and later joins return at once
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        stop.set()
        finished.wait()
    if "error" in box:
        raise box["error"]
    return box["result"]
