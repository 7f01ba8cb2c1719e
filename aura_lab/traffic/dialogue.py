"""Two-sided conversations from a traffic profile: one simulated user plays a whole
conversation, human and assistant messages alternating, as in real logs and in a replay.

Each message's size (UTF-8 bytes) is drawn from the profile's model of its role and
band; its text is composed to that size from the text bank (``compose``): the
conversation has a topic (the topic of the answer that opens it, one holding code with
the profile's code share, drawn by density as the profile's ``alone`` figures say:
``density``), human messages of that topic come first, and a reply goes on where the
previous one stopped in its answer, then through that topic's answers before any
other. Each message after the first reuses a share of earlier text drawn from the
profile's content figures (``reuse``): code sent back with a fix, a quote of the other
side, a repeat of its own. The human's messages travel from the client and the replies
from the server: a context-takeover codec keeps one context per direction
(docs/traffic.md). Pure and seeded: the messages
depend on ``(seed, user_id)`` and the config alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

from .. import paths
from .compose import Document, TextBank
from .conversations import TRACE_ROLE, band_of
from .corpus import load_corpus
from .profile import MAX_MESSAGES_PER_CONVERSATION, Profile
from .reuse import RUN, choose_kind, code_blocks, draw_share, edits, pick_span, reuse_points, revise, span_bytes

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
    used: set[str] = set()
    # answers drawn so that replies are as dense (compressed alone) as the profile's
    weights = texts.weights(profile.content_figures("assistant").get("alone"))
    opening, opening_text, opening_source = texts.opening(rng, profile.code_share(), human_first, used, weights)
    topic = texts.answers[opening].topic
    order = texts.answer_order(rng, opening, weights)
    second = "assistant" if first == "human" else "human"
    seen = {"human": 0, "assistant": 0}
    history: list[tuple[str, str]] = []  # (role, text) of the messages so far
    code: list[str] = []  # their code blocks long enough to send back, in order (found once each)
    left: list[Document | None] = [None]  # what the last reply left of its answer: the next goes on
    reuse = {role: reuse_points(profile.content_figures(role)) for role in seen}
    kinds = {role: profile.content_figures(role).get("reuse_kinds") for role in seen}
    for turn in range(n_messages):
        role = first if turn % 2 == 0 else second
        seen[role] += 1
        if turn == 0 and opening_text is not None:
            assert human_first is not None
            used.add(opening_text)
            history.append((role, opening_text))
            code.extend(block for block in code_blocks(opening_text) if len(block) >= 64)
            yield turn, TRACE_ROLE[role], opening_text, opening_source, human_first
            continue
        target = max(1, round(profile.size_model(role, band_of(seen[role])).sample(rng)))
        sources: list[str] = []  # of the fresh text: answer, corpus or paste

        def fresh(size: int, role: str = role, sources: list[str] = sources) -> str:
            if role == "assistant":
                sources.append("answer")
                text, left[0] = texts.reply(size, order, rng, left[0])
                return text
            text, source, _ = texts.human(size, topic, rng, used)
            sources.append(source)
            return text

        text = None
        if history and target >= RUN:  # a share of this message's text from earlier turns
            share = draw_share(reuse[role], rng, profile.cannot_reuse[role])
            text = _revision(role, target, share, kinds[role], history, code, texts, fresh, rng)
        if text is None:
            text = fresh(target)
        history.append((role, text))
        code.extend(block for block in code_blocks(text) if len(block) >= 64)
        # a message all from earlier turns: the source of the side's own texts
        source = sources[-1] if sources else ("answer" if role == "assistant" else "corpus")
        yield turn, TRACE_ROLE[role], text, source, target


def _revision(
    role: str,
    target: int,
    share: float,
    kinds: dict[str, float] | None,
    history: list[tuple[str, str]],
    code: list[str],
    texts: TextBank,
    fresh: Callable[[int], str],
    rng: random.Random,
) -> str | None:
    """A message reusing about ``share`` of its ``target`` bytes from ``history`` (the
    latest message of the side a kind of reuse takes from), or None when there is
    nothing to reuse."""
    size = span_bytes(share, target)
    if not size:
        return None
    own = [text for r, text in history if r == role]
    other = [text for r, text in history if r != role]
    # the latest message (or code block) of each kind's side long enough for the span,
    # else all of that side's together
    fits: dict[str, str] = {}
    for name, pool in (("code", code), ("quote", other), ("repeat", own)):
        long_enough = [text for text in [*pool, "\n\n".join(pool)] if len(text) >= 0.9 * size]
        if long_enough:
            fits[name] = long_enough[0] if len(long_enough) == 1 else long_enough[-2]
    if not fits:  # no side said enough alone: the whole conversation, mostly one side's
        most = "repeat" if sum(map(len, own)) >= sum(map(len, other)) else "quote"
        whole = "\n\n".join(text for _, text in history)
        return revise(most, pick_span(whole, size, rng), target, fresh, rng, texts.code_lines)
    kind = choose_kind(kinds, set(fits), rng)
    if kind is None:
        return None
    source = fits[kind]
    if kind == "code":  # the lines a fix puts in break runs: a little more of the code
        size += 40 * edits(source[:size])
    return revise(kind, pick_span(source, size, rng), target, fresh, rng, texts.code_lines)
