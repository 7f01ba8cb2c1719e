"""Blocking calls of async runs, also inside Jupyter.

A Jupyter cell already runs inside an event loop, where ``asyncio.run`` refuses to
start another. There the run's own loop goes to a worker thread and the caller waits;
nothing is patched (we chose this over nest-asyncio: the notebook's loop and the run's
stay independent, and the run's timing is not disturbed by the notebook's work).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any


def run_blocking(make: Callable[[threading.Event | None], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``make(stop_flag)`` to completion and return its result. Outside a running
    loop ``stop_flag`` is None (signals stop the run); inside one (Jupyter) it is an
    Event set when the caller is interrupted (the notebook's interrupt button)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make(None))
    box: dict = {}
    stop, finished = threading.Event(), threading.Event()

    def worker() -> None:
        try:
            box["result"] = asyncio.run(make(stop))
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
