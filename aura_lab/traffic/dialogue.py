"""Two-sided conversations from a traffic profile: one simulated user plays a whole
conversation, human and assistant messages alternating, as in real logs and in a replay.

Each message's size (UTF-8 bytes) is drawn from the profile's model of its role and
band; its text is composed to that size from the text bank (``compose``): the
conversation has a topic (the topic of the answer that opens it, one holding code with
the profile's code share), human messages of that topic come first, and replies run
through that topic's answers before any other. Both directions therefore travel over
one connection and, with a context-takeover codec, share one compression context
(docs/traffic.md says what that means for the figures). Pure and seeded: the messages
depend on ``(seed, user_id)`` and the config alone.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from .. import paths
from .compose import TextBank
from .conversations import TRACE_ROLE, band_of
from .corpus import load_corpus
from .profile import MAX_MESSAGES_PER_CONVERSATION, Profile

SOURCES = ("answer", "paste")  # an assistant reply composed from answers; a human message cut from pastes


@lru_cache(maxsize=4)
def bundled_texts(answers: Path = paths.ANSWERS_CORPUS, human: Path = paths.HUMAN_CORPUS) -> TextBank:
    """The bundled answers and human messages as a text bank (read once per process)."""
    return TextBank.of([load_corpus(answers), load_corpus(human)])


def conversation_plan(
    profile: Profile, seed: int, user_id: int, turns: tuple[int, int] | None, fixed: int | None
) -> tuple[str, int]:
    """``(first role, number of messages)`` of a user's conversation: ``fixed`` when
    given, else uniform in ``turns`` when given, else drawn from the profile."""
    rng = random.Random(f"aura-lab:{seed}:{user_id}:profile")
    share = profile.first_role.get("human", 1.0)
    first = "human" if share >= 1 or rng.random() < share else "assistant"
    if fixed:
        return first, fixed
    if turns is not None:
        return first, rng.randint(*turns)
    model = profile.messages_per_conversation
    if model is None:
        return first, 1
    return first, min(max(1, round(model.sample(rng))), MAX_MESSAGES_PER_CONVERSATION)


def dialogue(
    profile: Profile, texts: TextBank, seed: int, user_id: int, first: str, n_messages: int
) -> Iterator[tuple[int, str, str, str, int]]:
    """``(turn, trace role, text, source, target bytes)`` of each message, in order."""
    rng = random.Random(f"aura-lab:{seed}:{user_id}")
    human_first = None
    if first == "human" and n_messages:
        human_first = max(1, round(profile.size_model("human", "first").sample(rng)))
    opening, opening_text, opening_source = texts.opening(rng, profile.code_share(), human_first)
    topic = texts.answers[opening].topic
    order = texts.answer_order(rng, opening)
    second = "assistant" if first == "human" else "human"
    used: set[str] = set()
    seen = {"human": 0, "assistant": 0}
    for turn in range(n_messages):
        role = first if turn % 2 == 0 else second
        seen[role] += 1
        if turn == 0 and opening_text is not None:
            assert human_first is not None
            used.add(opening_text)
            yield turn, TRACE_ROLE[role], opening_text, opening_source, human_first
            continue
        target = max(1, round(profile.size_model(role, band_of(seen[role])).sample(rng)))
        if role == "assistant":
            text, source = texts.reply(target, order, rng), "answer"
        else:
            text, source, _ = texts.human(target, topic, rng, used)
        yield turn, TRACE_ROLE[role], text, source, target
