"""A replay's traffic: the conversations of ``--replay LOGS``, one simulated user each,
read before the run starts (a bad file costs nothing) and at most as many as the run
has users (``--users``; else every conversation, up to the users' upper bound)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from ..config import BOUNDS, RunConfig
from ..errors import InputError
from ..traces.logs import LogReport, read_logs
from ..traffic.conversations import Conversation
from ..traffic.generator import GeneratedMessage
from ..traffic.replay import replay_messages


def read_replay(config: RunConfig) -> tuple[list[Conversation], LogReport, bool]:
    """``(conversations, what reading found, whether more were left unread)``."""
    assert config.replay
    limit = config.users or int(BOUNDS["users"].high)
    report = LogReport()
    items = read_logs(config.replay, report)
    conversations = list(itertools.islice(items, limit))
    more = next(items, None) is not None
    if not conversations:
        raise InputError(
            "no conversation with a chat message in the logs", where="replay", fix="check the files (see the counts)"
        )
    return conversations, report, more


def replay_traffic(conversations: list[Conversation]) -> Callable[[int], list[GeneratedMessage]]:
    """The engine's traffic function: user ``u`` replays conversation ``u``."""
    return lambda user_id: replay_messages(conversations[user_id], user_id)
