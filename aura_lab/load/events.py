"""What the engine announces after every message (``Exchanged``), and the listeners
every run has: the tally (the progress bar's figures), the trace writer's and the
learning selector's feeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratedMessage
from ..traffic.selection import Selector
from .records import Record


@dataclass(frozen=True)
class Exchanged:
    """One message (or one frame of a streamed reply) sent to every group and what came
    back: one trace record per group, the primary group's first. ``last`` is False for
    every frame of a streamed reply but its last."""

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
        record = event.primary
        self.messages += event.last  # a streamed reply counts once, its frames' bytes all
        if record["status"] != "ok":
            self.errors += 1
        elif record["original_size"] is not None and record["compressed_size"] is not None:
            self.original += record["original_size"]
            self.compressed += record["compressed_size"]


def writer_listener(writer: TraceWriter) -> Listener:
    """Writes every record of each exchange to the trace writer."""

    def write(event: Exchanged) -> None:
        writer.write_many(event.records)

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
