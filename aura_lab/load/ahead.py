"""A user's messages made ahead of need (``Engine.prepare``): traffic that does not
depend on replies is made in bulk before the first send (interleaved with I/O,
generation cost twice as much), bounded in memory for long runs."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

from ..traffic.generator import GeneratedMessage

AHEAD_MESSAGES = 20_000  # messages made ahead for all users together (~40 MB): bounds the memory
AHEAD_REFILL = 64  # later batches are small: an open loop's send waits for the batch made before it


class Ahead:
    """A user's messages made ahead of need: ``first`` at once (before the user's first
    send), then ``AHEAD_REFILL`` at a time; never more than ``first`` held."""

    def __init__(self, messages: Iterable[GeneratedMessage], first: int):
        self._source = iter(messages)
        self._batch = deque(itertools.islice(self._source, first))

    def __iter__(self) -> Ahead:
        return self

    def __next__(self) -> GeneratedMessage:
        if not self._batch:
            self._batch.extend(itertools.islice(self._source, AHEAD_REFILL))
            if not self._batch:
                raise StopIteration
        return self._batch.popleft()
