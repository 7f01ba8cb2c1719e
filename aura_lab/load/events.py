"""What the engine announces after every message (``Exchanged``), and the listeners
every run has: the tally (the progress bar's figures), the trace writer's and the
learning selector's feeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ..traces.schema import COLUMNS
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratedMessage
from ..traffic.selection import Selector
from .records import Record


class Exchanged(NamedTuple):
    """One message (or one frame of a streamed reply) sent to every group and what came
    back: one trace record per group, the primary group's first. ``last`` is False for
    every frame of a streamed reply but its last. (A named tuple: one is made per
    message, and a frozen dataclass took 0.9 µs to make against 0.7.)"""

    message: GeneratedMessage
    phase: str
    records: list[Record]
    last: bool = True

    @property
    def primary(self) -> Record:
        return self.records[0]


Listener = Callable[[Exchanged], None]


@dataclass
class Tally:
    """Running figures of the primary group (the progress bar's)."""

    messages: int = 0
    errors: int = 0
    original: int = 0
    compressed: int = 0

    def ratio(self) -> float | None:
        return self.original / self.compressed if self.compressed else None

    def __call__(self, event: Exchanged) -> None:
        record = event.records[0]
        self.messages += event.last  # a streamed reply counts once, its frames' bytes all
        if _at(record, _STATUS) != "ok":  # by position, at C speed: once per message
            self.errors += 1
        else:
            original, compressed = _at(record, _ORIGINAL), _at(record, _COMPRESSED)
            if original is not None and compressed is not None:
                self.original += original
                self.compressed += compressed


_at = tuple.__getitem__
_STATUS, _ORIGINAL, _COMPRESSED = (COLUMNS.index(c) for c in ("status", "original_size", "compressed_size"))


def writer_listener(writer: TraceWriter) -> Listener:
    """Writes every record of each exchange to the trace writer."""

    def write(event: Exchanged) -> None:
        # plain tuples: the garbage collector stops tracking a plain tuple of atomic values
        # at its first pass, but walks a Record (a subclass) at every pass until its part
        # is written (thousands of them: 15-20 ms pauses at 50 users)
        writer.write_many(map(tuple, event.records))

    return write


def selector_feed(selector: Selector) -> Listener:
    """Feeds a learning selector the primary codec's ratio for each message generated
    from a template, in the warmup too (the warmup is where it learns first)."""

    def feed(event: Exchanged) -> None:
        record = event.primary
        if (
            record.get("frame_index") is None  # a frame's ratio is not its template's
            and record["status"] == "ok"
            and record["ratio"] is not None
            and event.message.template_id is not None
        ):
            selector.update(event.message.template_id, record["ratio"])

    return feed
