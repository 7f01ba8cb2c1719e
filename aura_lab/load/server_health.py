"""Which servers of a group are still worth trying: connection failures per URL, shared
by every user of the group, and the servers given up on (``DeadServer``), with when and
why, for the manifest's notes."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class DeadServer:
    """A server given up on: when (UTC epoch seconds), after how many failed
    connections over how long (seconds), and the last error."""

    url: str
    at: float
    failures: int
    seconds: float
    error: str

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.gmtime(self.at))
        return (
            f"server {self.url} marked dead at {when} UTC after {self.failures} failed connections "
            f"over {self.seconds:.1f} s ({self.error}); its later messages were not sent (connect errors)"
        )


class ServerHealth:
    """Connection failures per URL, shared by every user of a group. A URL that failed
    ``dead_after`` connections in a row over at least ``dead_after_s`` seconds (the
    back-off has run its course) is dead: no user tries it again, so a dead server does
    not hold up the messages of the others (each exchange would wait out a back-off)."""

    def __init__(self, dead_after: int = 6, dead_after_s: float = 5.0):
        self.dead_after = dead_after
        self.dead_after_s = dead_after_s
        self.dead: dict[str, DeadServer] = {}
        self._streaks: dict[str, tuple[int, float]] = {}  # url -> (failures in a row, first at, monotonic)

    def failed(self, url: str, error: str) -> None:
        count, first = self._streaks.get(url, (0, time.monotonic()))
        count += 1
        self._streaks[url] = (count, first)
        lasted = time.monotonic() - first
        if url not in self.dead and count >= self.dead_after and lasted >= self.dead_after_s:
            self.dead[url] = DeadServer(url, time.time(), count, lasted, error)

    def succeeded(self, url: str) -> None:
        self._streaks.pop(url, None)

    def is_dead(self, url: str) -> bool:
        return url in self.dead
