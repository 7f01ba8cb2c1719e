"""Where a run's traffic comes from, read before anything starts (a bad file costs
nothing): the conversations of ``--replay LOGS``, one simulated user each and at most as
many as the run has users (``--users``; else every conversation, up to the users' upper
bound); the realism reference; and the one line that says what the traffic was."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import BOUNDS, CHARS_PER_TOKEN, DEFAULT_USERS, RunConfig
from ..traces.logs import LogReport, read_logs
from ..traffic.conversations import Conversation
from ..traffic.generator import GeneratedMessage
from ..traffic.profile import Profile
from ..traffic.replay import replay_messages


def read_replay(config: RunConfig, where: str = "replay") -> tuple[list[Conversation], LogReport, bool]:
    """``(conversations, what reading found, whether more were left unread)``."""
    assert config.replay
    limit = config.users or int(BOUNDS["users"].high)
    report = LogReport()
    items = read_logs(config.replay, report)
    conversations = list(itertools.islice(items, limit))
    more = next(items, None) is not None
    if not conversations:
        raise report.nothing_read(config.replay, where)
    return conversations, report, more


def replay_traffic(conversations: list[Conversation]) -> Callable[[int], list[GeneratedMessage]]:
    """The engine's traffic function: user ``u`` replays conversation ``u``."""
    return lambda user_id: replay_messages(conversations[user_id], user_id)


def read_traffic_inputs(config: RunConfig) -> tuple[Any, dict]:
    """Read what the traffic comes from before anything starts: the replay's logs and the
    realism reference. Returns the replay's traffic function (or None) and the config with
    its users settled, the manifest's extra files and notes, the reference's sizes."""
    extras: dict[str, Any] = {"files": {}, "notes": [], "reference": None}
    traffic = None
    if config.replay:
        replay = tuple(str(Path(p).resolve()) for p in config.replay)  # worker processes read them too
        config = dataclasses.replace(config, replay=replay)
        conversations, report, more = read_replay(config)
        traffic = replay_traffic(conversations)
        extras["files"]["replay"] = report.to_dict()
        if more:
            extras["notes"].append(
                f"replayed the first {len(conversations)} conversations of the logs; more were left out (--users)"
            )
        config = dataclasses.replace(config, users=len(conversations))
    elif config.users is None:
        config = dataclasses.replace(config, users=DEFAULT_USERS)
    if config.reference:
        # here, not at the top: it imports scipy.stats (1.2 s), which a run without a
        # reference, and every Dask shard, does without
        from ..analysis.realism import realism_input

        report = LogReport()
        # every conversation's sizes, and a bounded seeded sample of whole ones for the codecs
        extras["reference"] = realism_input(read_logs(config.reference, report))
        if extras["reference"].frame.empty:  # found out now, not in the realism table after the run
            raise report.nothing_read(config.reference, "reference")
        extras["files"]["reference"] = report.to_dict()
    extras["config"] = config
    return traffic, extras


def traffic_line(config: RunConfig, profile: Profile) -> str:
    """One line saying what the traffic was: its profile or replay, and how replies travel."""
    if config.replay:
        timing = "the logs' own pauses" if config.replay_timing == "logged" else f"think time {config.think_time}"
        what = f"replay of {config.users} logged conversations ({timing})"
    else:
        what = f"profile {profile.name}" + (" (one side per user)" if not profile.two_sided else "")
    if config.framing == "stream":
        how = (
            f"assistant replies streamed in frames of {config.chunk_tokens} tokens "
            f"(~{config.chunk_tokens * CHARS_PER_TOKEN} characters)"
            + (", JSON envelope" if config.envelope == "json" else "")
            + (", each frame the whole text so far (a long reply in larger steps)" if config.resend_whole else "")
        )
    else:
        how = "every message whole"
    return f"{what}; {how}"
