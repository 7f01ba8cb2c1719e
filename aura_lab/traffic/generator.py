"""Realistic chat traffic: pure, seeded, no I/O.

What a user sends depends on the traffic profile (``aura_lab.traffic.profile``):

- a two-sided profile (``assistant``, the default, or one fitted to logs): each user
  plays one whole conversation, human and assistant messages alternating, sizes drawn
  from the profile and texts composed from the answers corpus (``dialogue``);
- the ``peer`` profile: each user is AI or human for the whole conversation
  (``ai_ratio``) and sends only its own side, as the peer does. A message is, with
  probability ``corpus_weight``, a corpus message of the user's role whose length fits
  the target range; otherwise it is synthesised from templates: ``single`` (one
  template padded with further single templates up to the minimum length), ``multi``
  (two or three sentences from different templates) or ``short`` (one template alone).
  Slot values come from the metadata's ``slot_examples`` or built-in fillers.

A user's messages depend on ``(seed, user_id)`` and the config alone: every user has
its own random streams, so the traffic is the same whatever order users are generated
or scheduled in. (An adaptive selector that learns from replies is the one exception:
its choices depend on the replies seen so far.)

Try it: ``aura-lab generate --n 20`` prints a sample.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import paths
from ..config import BOUNDS, DEFAULT_PROFILE
from ..errors import InputError
from .compose import TextBank
from .corpus import Corpus, load_corpus
from .dialogue import bundled_texts, conversation_plan, dialogue
from .lengths import PEER_LENGTHS, PEER_TURNS, LengthModel
from .metadata import Metadata, load_metadata, slot_values
from .profile import Profile, load_profile
from .selection import Selector, UniformSelector
from .templates import PatternLibrary, load_templates

# source of a message, as recorded in traces: a whole corpus message, template synthesis
# (the peer profile), composed from answers or pastes (two-sided profiles), a logged message
SOURCES = ("corpus", "template", "multi-template", "short", "answer", "paste", "replay")
# the declared synthesis mix; tests check that the code delivers it
SYNTHESIS_MIX = {"template": 0.70, "multi-template": 0.10, "short": 0.20}
_SYNTHESIS_KINDS = list(SYNTHESIS_MIX)
_SYNTHESIS_CUM_WEIGHTS = list(itertools.accumulate(SYNTHESIS_MIX.values()))
MAX_ATTEMPTS = 12  # bounded retries to land a synthesised message inside its range


@dataclass(frozen=True)
class GeneratedMessage:
    """One message and where it came from. ``target_min``/``target_max`` are the peer
    profile's length range (characters); ``target_bytes`` the size a two-sided profile
    drew (UTF-8 bytes). A replayed message keeps its log's conversation id, its index in
    the logged conversation and its time (seconds since the conversation's first message)."""

    user_id: int
    turn: int
    n_turns: int
    role: str | None  # ai | human; None: the log did not say
    text: str
    source: str
    template_ids: tuple[int, ...] = ()
    slot_values: tuple[tuple[str, ...], ...] = ()
    target_min: int | None = None
    target_max: int | None = None
    target_bytes: int | None = None
    conversation_id: str | None = None
    message_index: int | None = None
    logged_at: float | None = None

    @property
    def template_id(self) -> int | None:
        return self.template_ids[0] if self.template_ids else None

    @property
    def in_range(self) -> bool | None:
        """Whether the length fits the peer profile's range; None without a range."""
        if self.target_min is None or self.target_max is None:
            return None
        return self.target_min <= len(self.text) <= self.target_max

    def to_dict(self) -> dict:
        d = asdict(self)
        d["template_ids"] = list(self.template_ids)
        d["slot_values"] = [list(v) for v in self.slot_values]
        d["length"] = len(self.text)
        return d


@dataclass
class GeneratorConfig:
    """What traffic to generate. ``profile``: a built-in name or a ``Profile``;
    ``turns`` (messages per conversation, inclusive) and ``messages_per_user`` override
    the profile's conversation length. ``ai_ratio``, ``corpus_weight``,
    ``length_model``, ``metadata`` and ``library`` shape the peer profile's traffic;
    a two-sided profile composes every message from ``texts`` (else from ``corpus``,
    else from the bundled answers and human messages)."""

    seed: int = 42
    ai_ratio: float = 0.5
    corpus_weight: float = 0.3
    turns: tuple[int, int] | None = None  # None: the profile's (the peer's: 5-50)
    messages_per_user: int | None = None  # overrides ``turns``
    length_model: LengthModel = field(default_factory=lambda: PEER_LENGTHS)
    corpus: Corpus | None = None
    metadata: Metadata | None = None
    library: PatternLibrary = None  # type: ignore[assignment]  # None: AURA's installed library
    corpus_tries: int = 50
    profile: Profile = DEFAULT_PROFILE  # type: ignore[assignment]  # a name is loaded
    texts: TextBank | None = None

    def __post_init__(self) -> None:
        # the ranges are the run's (aura_lab.config.BOUNDS): one definition of each
        for name in ("seed", "ai_ratio", "corpus_weight"):
            BOUNDS[name].check(getattr(self, name), name)
        if self.turns is not None:
            low, high = self.turns = (self.turns[0], self.turns[1])
            for value in (low, high):
                BOUNDS["turns"].check(value, "turns")
            if low > high:
                raise InputError(f"must be MIN-MAX with MIN <= MAX, got {self.turns}", where="turns")
        if self.messages_per_user is not None:
            BOUNDS["messages_per_user"].check(self.messages_per_user, "messages_per_user")
        self.profile = load_profile(self.profile)
        if self.profile.two_sided and self.texts is None:
            self.texts = TextBank.of([self.corpus]) if self.corpus is not None else bundled_texts()
        if self.library is None:
            self.library = load_templates(None)


class TemplatePools:
    """The library split by role (questions and greetings are the human's side)."""

    def __init__(self, library: PatternLibrary):
        self.library = library
        human, ai = [], []
        for tid in library.ids():
            pattern = library.pattern(tid)
            if library.slot_count(tid) == 0:
                human.append(tid)
                ai.append(tid)
            elif pattern.rstrip().endswith("?") or pattern.startswith(("Hello", "Thanks", "I appreciate")):
                human.append(tid)
            else:
                ai.append(tid)
        self.by_role = {"ai": ai or library.ids(), "human": human or library.ids()}
        self.with_slots = {r: [t for t in ids if library.slot_count(t)] or ids for r, ids in self.by_role.items()}


_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class SlotDraws:
    """Per-template random streams inside one user's stream: the n-th draw for a template
    depends only on (user key, template, n), so using a template elsewhere in the
    conversation does not shift the slot values chosen for another. A counter per
    template, not a ``random.Random`` per template: each of those holds ~3 KB of state,
    and a user meets dozens of templates (thousands of users: hundreds of MB)."""

    def __init__(self, key: int):
        self.key = key
        self.uses: dict[int, int] = {}

    def below(self, template_id: int, n: int) -> int:
        """An integer in [0, n) (the modulo bias is below 1e-15 for chat-sized n)."""
        count = self.uses.get(template_id, 0)
        self.uses[template_id] = count + 1
        return _mix64(_mix64(self.key ^ template_id) + count) % n


class Synthesiser:
    """Builds one user's messages. Holds that user's random streams."""

    def __init__(self, config: GeneratorConfig, user_id: int, selector: Selector, pools: TemplatePools):
        self.config = config
        self.user_id = user_id
        self.selector = selector
        self.pools = pools
        self.library = pools.library
        self.rng = random.Random(f"aura-lab:{config.seed}:{user_id}")
        self.slot_draws = SlotDraws(random.Random(f"aura-lab:{config.seed}:{user_id}:slots").getrandbits(64))

    def _examples(self, template_id: int, slot: int) -> list[str]:
        return slot_values(self.config.metadata, template_id, slot)

    def _fill(self, template_id: int) -> tuple[str, tuple[str, ...]]:
        draw = self.slot_draws.below
        lists = [self._examples(template_id, i) for i in range(self.library.slot_count(template_id))]
        if len(lists) > 1 and len({len(values) for values in lists}) == 1:
            # metadata written as aligned rows ("capital", "France", "Paris"): keep a row together
            row = draw(template_id, len(lists[0]))
            slots = tuple(values[row] for values in lists)
        else:
            slots = tuple(values[draw(template_id, len(values))] for values in lists)
        return self.library.format(template_id, slots), slots

    def message(self, turn: int, n_turns: int, role: str) -> GeneratedMessage:
        low, high = self.config.length_model.target_range(role, turn, n_turns, self.rng)
        base: dict[str, Any] = dict(
            user_id=self.user_id, turn=turn, n_turns=n_turns, role=role, target_min=low, target_max=high
        )
        corpus = self.config.corpus
        if corpus is not None and self.rng.random() < self.config.corpus_weight:
            found = corpus.sample(role, low, high, self.rng, self.config.corpus_tries)
            if found is not None:
                return GeneratedMessage(text=found.text, source="corpus", **base)
        kind = self.rng.choices(_SYNTHESIS_KINDS, cum_weights=_SYNTHESIS_CUM_WEIGHTS)[0]
        best: tuple[int, str, list[tuple[str, tuple[str, ...], int]]] | None = None
        for _ in range(MAX_ATTEMPTS):
            parts = self._compose(kind, role, low, high)
            text = join_sentences(p[0] for p in parts)
            miss = max(low - len(text), len(text) - high, 0)
            if best is None or miss < best[0]:
                best = (miss, text, parts)
            if miss == 0:
                break
        assert best is not None  # MAX_ATTEMPTS >= 1
        _, text, parts = best
        return GeneratedMessage(
            text=text,
            source=kind,
            template_ids=tuple(p[2] for p in parts),
            slot_values=tuple(p[1] for p in parts),
            **base,
        )

    def _grow(self, part: tuple[str, tuple[str, ...], int], need: int) -> tuple[str, tuple[str, ...], int]:
        """Lengthen a sentence to ``need`` characters by listing more example values in its
        last slot ("a, b and c"), as people do; a template without slots stays as it is."""
        text, slots, tid = part
        if not slots or len(text) >= need:
            return part
        last = len(slots) - 1
        extra = [v for v in self._examples(tid, last) if v != slots[last]]
        values = [slots[last]]
        for _ in range(min(8, len(extra))):
            values.append(extra.pop(self.slot_draws.below(tid, len(extra))))
            listed = ", ".join(values[:-1]) + " and " + values[-1]
            slots = (*slots[:last], listed)
            text = self.library.format(tid, slots)
            if len(text) >= need:
                break
        return text, slots, tid

    def _compose(self, kind: str, role: str, low: int, high: int) -> list[tuple[str, tuple[str, ...], int]]:
        pool, fillable = self.pools.by_role[role], self.pools.with_slots[role]
        if kind == "multi-template":
            count = 2 if high < 80 else self.rng.choice((2, 3))
            chosen: list[int] = []
            draws = 0
            while len(chosen) < count:
                tid = self.selector.choose(fillable, self.rng)
                draws += 1
                # a selector that insists on one template (a fixed choice, a converged
                # bandit) would otherwise loop forever: after enough draws, repeat it
                if tid not in chosen or len(set(fillable)) < count or draws > 10 * count:
                    chosen.append(tid)
            parts = [(*self._fill(t), t) for t in chosen]
        else:
            tid = self.selector.choose(pool, self.rng)
            parts = [(*self._fill(tid), tid)]
        length = len(join_sentences(p[0] for p in parts))
        if kind == "template":
            while length < low:  # pad with further single templates up to the minimum
                tid = self.selector.choose(fillable, self.rng)
                parts.append((*self._fill(tid), tid))
                length += 2 + len(parts[-1][0])
        elif length < low:  # one sentence (or a few) whose last slot lists more values
            parts[-1] = self._grow(parts[-1], len(parts[-1][0]) + low - length)
        return parts


def slot_space(config: GeneratorConfig) -> dict[int, int]:
    """``{template_id: fillings the generator can draw}`` for every template with slots,
    as ``Synthesiser._fill`` draws them: aligned rows count once each, independent slots
    multiply. The churn rule compares the fillings a run shows with this."""
    space = {}
    for tid in config.library.ids():
        count = config.library.slot_count(tid)
        if not count:
            continue
        sizes = [len(slot_values(config.metadata, tid, i)) for i in range(count)]
        space[tid] = sizes[0] if count > 1 and len(set(sizes)) == 1 else math.prod(sizes)
    return space


def join_sentences(sentences) -> str:
    """Join sentences with a space, ending a bare one ("Definitely") with a full stop."""
    out = list(sentences)
    for i in range(len(out) - 1):
        if not out[i].rstrip().endswith((".", "?", "!", ":", "`")):
            out[i] = out[i] + "."
    return " ".join(out)


def user_profile(config: GeneratorConfig, user_id: int) -> tuple[str, int]:
    """(role, number of messages) of a user: fixed by (seed, user_id). For a two-sided
    profile the role is the one that opens the conversation (trace spelling: ai, human)."""
    if config.profile.two_sided:
        first, n = conversation_plan(config.profile, config.seed, user_id, config.turns, config.messages_per_user)
        return ("ai" if first == "assistant" else "human"), n
    rng = random.Random(f"aura-lab:{config.seed}:{user_id}:profile")
    role = "ai" if rng.random() < config.ai_ratio else "human"
    n_turns = config.messages_per_user or rng.randint(*(config.turns or PEER_TURNS))
    return role, n_turns


def user_messages(
    config: GeneratorConfig, user_id: int, selector: Selector | None = None, pools: TemplatePools | None = None
) -> Iterator[GeneratedMessage]:
    """The conversation of one user, message by message (lazily)."""
    role, n_turns = user_profile(config, user_id)
    if config.profile.two_sided:
        assert config.texts is not None  # set in __post_init__
        first = "assistant" if role == "ai" else "human"
        for turn, trace_role, text, source, target in dialogue(
            config.profile, config.texts, config.seed, user_id, first, n_turns
        ):
            yield GeneratedMessage(user_id, turn, n_turns, trace_role, text, source, target_bytes=target)
        return
    synth = Synthesiser(config, user_id, selector or UniformSelector(), pools or TemplatePools(config.library))
    for turn in range(n_turns):
        yield synth.message(turn, n_turns, role)


def generate(config: GeneratorConfig, n: int, first_user: int = 0) -> list[GeneratedMessage]:
    """``n`` messages: whole conversations of users ``first_user``, ``first_user+1``, ..."""
    pools = TemplatePools(config.library)
    out: list[GeneratedMessage] = []
    user = first_user
    while len(out) < n:
        for message in user_messages(config, user, pools=pools):
            out.append(message)
            if len(out) == n:
                break
        user += 1
    return out


def config_from_files(
    corpus: str | None,
    metadata: str | None,
    templates: str | None = None,
    library: PatternLibrary | None = None,
    **options,
) -> GeneratorConfig:
    """A config whose corpus, metadata and library are read from files (defaults: the
    bundled ``corpora/``; pass ``"none"`` to go without). ``library`` (else
    ``templates``, else AURA's) is the one the metadata is validated against. A
    two-sided profile's default corpus is the bundled answers and human messages."""
    library = library if library is not None else load_templates(templates)
    profile = load_profile(options.pop("profile", DEFAULT_PROFILE))
    if profile.two_sided and corpus == "none":
        raise InputError(
            f"the {profile.name} profile composes every message from a corpus",
            where="corpus",
            fix="give a corpus file, leave it out for the bundled one, or use the peer profile",
        )
    if profile.two_sided and corpus is None:
        corpus_obj = None
    else:
        corpus_obj = None if corpus == "none" else load_corpus(corpus or paths.DEFAULT_CORPUS)
    meta_obj = None if metadata == "none" else load_metadata(metadata or paths.DEFAULT_METADATA, library)
    return GeneratorConfig(corpus=corpus_obj, metadata=meta_obj, library=library, profile=profile, **options)
