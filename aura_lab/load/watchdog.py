"""Reply timeouts for a whole engine: one task instead of a timer per receive.

``asyncio.timeout`` around every receive arms and cancels a timer handle and a context
manager per message (measured: 11 µs of client CPU a message at 50 users, 1.14x the
rate when replaced). The watchdog keeps the waiting receives in arrival order (one
timeout for all, so deadlines are in that order too), wakes every ``tick`` seconds and
cancels the tasks whose deadline has passed; the link turns that cancellation into its
timeout, exactly as ``asyncio.timeout`` does (``Task.uncancel``). A timeout fires at
most ``tick`` late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class Watchdog:
    """Timeouts of ``timeout`` seconds for the receives of every link of an engine."""

    def __init__(self, timeout: float):
        self.timeout_ns = int(timeout * 1e9)
        self.tick = max(0.005, min(0.05, timeout / 10))  # seconds between checks
        self._waiting: dict[Any, tuple[int, asyncio.Task]] = {}  # key (a link) -> (deadline ns, its task)
        self._fired: set[Any] = set()
        self._task: asyncio.Task | None = None

    async def wait(self, key: Any, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` for at most the timeout; TimeoutError after it. ``key``
        names the waiter (one wait per key at a time)."""
        task = asyncio.current_task()
        assert task is not None
        before = task.cancelling()
        self._waiting[key] = (time.perf_counter_ns() + self.timeout_ns, task)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            return await awaitable
        except asyncio.CancelledError:
            if key in self._fired:
                self._fired.discard(key)
                # ours, unless the task was also cancelled from outside (a stop): that one wins
                if task.uncancel() <= before:
                    raise TimeoutError from None
            raise
        finally:
            self._waiting.pop(key, None)
            self._fired.discard(key)

    async def _run(self) -> None:
        while self._waiting or self._fired:
            await asyncio.sleep(self.tick)
            now = time.perf_counter_ns()
            expired = []
            for key, (deadline, _task) in self._waiting.items():
                if deadline > now:
                    break  # one timeout for all: later entries have later deadlines
                if key not in self._fired:  # cancelled once; its task has not run since
                    expired.append(key)
            for key in expired:
                task = self._waiting[key][1]
                self._fired.add(key)
                task.cancel()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
