"""How a run is stopped: one ``Stopper`` for the whole run, so a stop never costs a record.

- Start-up (inputs, run folder, servers): nothing has been sent, so the first Ctrl-C or
  SIGTERM raises ``KeyboardInterrupt`` at once; the runner marks the manifest
  ``interrupted`` and the servers and scratch dirs are cleaned up on the way out. Later
  signals are only noted, so they cannot cut the way out short; inside ``held`` (the run
  folder and its first manifest) the first one waits until the block ends.
- From the first message to the last file: the first Ctrl-C or SIGTERM (or the
  notebook's interrupt button, or a trace write that failed) stops sending; replies in
  flight get their grace, then every record is written and the manifest says why it
  stopped. Later signals are noted on the console and change nothing: they cannot
  interrupt the final writes. The handlers are Python's own (``signal.signal``), not
  the event loop's, so a signal is noted even while the loop is busy writing files.
- After the run: the handlers of before are back, unless the caller is about to exit
  (the command line), which keeps noting signals until it does.

Signals can only be caught in the main thread; a run on a worker thread (inside
Jupyter) is stopped through ``stop_flag`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_ACTIVE: list[Stopper] = []  # the stoppers holding the main thread's signals, outermost first


class Stopper:
    """The run's stop: its reason (``interrupted``, ``write_failed``), the engines it
    stops, and the signal handlers of each stage. An experiment holds one too, in its
    start-up stage only, so that SIGTERM between its runs stops it as Ctrl-C does."""

    def __init__(self, stop_flag: threading.Event | None = None):
        # a run inside an experiment: a signal its own stop takes (even one that only
        # comes after its last message) stops the experiment too
        self.outer: Stopper | None = None
        self.stop_flag = stop_flag
        self.reason: str | None = None
        self.requested: asyncio.Event | None = None
        self.later_signals = 0
        self._engines: list[Any] = []
        self._main = threading.current_thread() is threading.main_thread()
        self._previous: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Future | None = None
        self._holding = False
        self._held: str | None = None

    # -- start-up: a signal interrupts at once --------------------------------------------

    def starting(self) -> None:
        """Until ``sending``: the first Ctrl-C or SIGTERM raises KeyboardInterrupt."""
        if not self._main:
            return
        if self not in _ACTIVE:
            self.outer = _ACTIVE[-1] if _ACTIVE else None
            _ACTIVE.append(self)
        for sig in SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                self._previous.setdefault(sig, signal.getsignal(sig))
                signal.signal(sig, self._on_start_signal)

    def _tell_outer(self) -> None:
        """Mark the stoppers this one runs inside (flags only: called from a handler)."""
        outer = self.outer
        while outer is not None:
            outer.reason = outer.reason or "interrupted"
            outer = outer.outer

    def _on_start_signal(self, signum: int, frame: Any) -> None:
        self._tell_outer()
        name = signal.Signals(signum).name
        if self.reason is not None:  # the run is on its way out: nothing may cut that short
            self.later_signals += 1
            _note(f"aura-lab: {name} noted: already stopping ({self.reason}); cleaning up\n")
            return
        self.reason = "interrupted"
        if self._holding:
            self._held = name
            return
        raise KeyboardInterrupt(name)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A start-up step a signal must not cut in two (the run folder and its first
        manifest): a signal in it raises KeyboardInterrupt when the block ends."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held is not None:
            name, self._held = self._held, None
            raise KeyboardInterrupt(name)

    # -- sending and the final writes: a signal stops sending, later ones are noted -------

    def sending(self) -> None:
        """From now until ``done``: signals stop the run cleanly (call on the run's loop;
        calling it again changes nothing)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.requested = asyncio.Event()
        if self.reason is not None:
            self.requested.set()
        if self._main:
            for sig in SIGNALS:
                with contextlib.suppress(ValueError, OSError):
                    self._previous.setdefault(sig, signal.getsignal(sig))
                    signal.signal(sig, self._on_signal)
        if self.stop_flag is not None:
            self._watcher = asyncio.ensure_future(self._watch(self.stop_flag))

    async def _watch(self, flag: threading.Event) -> None:
        while not flag.is_set():
            await asyncio.sleep(0.1)
        if self.reason is None:
            self.request("interrupted")

    def _on_signal(self, signum: int, frame: Any) -> None:
        """A Python signal handler: it runs between two bytecodes of the main thread,
        which may be in the middle of anything, so it only sets flags, schedules the stop
        on the loop, and writes its note with one ``os.write`` (no buffer, no lock)."""
        self._tell_outer()
        name = signal.Signals(signum).name
        if self._loop is None or self._loop.is_closed():
            self.later_signals += 1
            _note(f"aura-lab: {name} noted: the run has ended; its files are written\n")
        elif self.reason is None:
            self.reason = "interrupted"
            self._loop.call_soon_threadsafe(self.request, "interrupted")
        else:
            self.later_signals += 1
            _note(f"aura-lab: {name} noted: already stopping ({self.reason}); finishing the writes and the manifest\n")

    def request(self, reason: str) -> None:
        """Stop sending, for ``reason`` (the first reason given is the one kept)."""
        if self.reason is None:
            self.reason = reason
        if self.requested is not None:
            self.requested.set()
        for engine in self._engines:
            engine.stop(self.reason)

    def request_threadsafe(self, reason: str) -> None:
        """``request`` from any thread (a trace writer's flusher thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.reason = self.reason or reason
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # on the loop's own thread: stop now, not on its next turn
            self.request(reason)
            return
        try:
            loop.call_soon_threadsafe(self.request, reason)
        except RuntimeError:  # the loop closed meanwhile
            self.reason = self.reason or reason

    def attach(self, engine: Any) -> None:
        """An engine this stop must stop (at once, if the run is stopping already)."""
        self._engines.append(engine)
        if self.reason is not None:
            engine.stop(self.reason)

    def done(self, restore: bool = True) -> None:
        """The run's files are all written: give the signals back, or with ``restore``
        False (the caller exits next) keep noting them."""
        if self._watcher is not None:
            self._watcher.cancel()
        self._loop = None
        if not restore:
            return
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()


def _note(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, text.encode("utf-8", "replace"))
