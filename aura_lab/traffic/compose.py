"""Text at real sizes from a corpus of real-looking chat: assistant replies composed of
coherent pieces of long answers, human messages taken whole or cut from pasted material.

A document (an answer, or a human's paste) is split into blocks: paragraphs, lists and
tables, and fenced code blocks (kept whole even across blank lines). A block is cut
only at its own boundaries: sentences in a one-line paragraph, lines in a list, table,
code block or multi-line paragraph (a cut code block gets its closing fence).

``compose`` builds a text of about ``target`` bytes from consecutive blocks of one
document, going on with the next document when more is needed, and cuts the last block
at the boundary that lands nearest the target. A target smaller than every opening
sentence takes the sentence nearest in size. Human messages are taken whole, the one
nearest in size (the conversation's topic first, no repeats), up to the largest whole
message; beyond that they are cut from pastes (the heavy tail: pasted documents, code,
logs). Pure: every choice comes from the ``random.Random`` passed in.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..errors import InputError
from .corpus import Corpus
from .density import alone_ratio, density_weights, draw, weighted_order

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_FENCE = "```"
WHOLE_TOLERANCE = 0.08  # log-size window for "as near in size as the target"
REPLY_SIZE = 1300  # bytes: about a reply's median (the published figures)
TOPIC_TOLERANCE = 0.22  # a wider window (about 25%) for a message of the conversation's topic


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate as three, as ``surrogatepass`` writes
    it); an ASCII text is not encoded to find out (``isascii`` is a flag, not a scan)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Block:
    """A paragraph, list or code block; ``prefixes[k]`` is the text of its first k+1
    units as a block (a cut code block closed), ``sizes[k]`` its UTF-8 size."""

    kind: str  # prose | list | code
    prefixes: tuple[str, ...]
    sizes: tuple[int, ...]
    text: str = ""  # the whole block
    size: int = 0  # its UTF-8 size


def split_blocks(text: str) -> list[Block]:
    """The blocks of a markdown text, in order."""
    blocks: list[Block] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(_text_block(paragraph))
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(_FENCE):
            flush()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith(_FENCE)), None)
            body = lines[i : (end if end is not None else len(lines) - 1) + 1]
            blocks.append(_code_block(body, closed=end is not None))
            i = (end if end is not None else len(lines)) + 1
            continue
        if line.strip():
            paragraph.append(line)
        else:
            flush()
        i += 1
    flush()
    return blocks


def _made(kind: str, prefixes: list[str]) -> Block:
    sizes = tuple(utf8_size(p) for p in prefixes)
    return Block(kind, tuple(prefixes), sizes, prefixes[-1], sizes[-1])


def _code_block(lines: list[str], closed: bool) -> Block:
    fence = lines[0].strip()[:3]
    body = lines[1:-1] if closed else lines[1:]
    prefixes = ["\n".join([lines[0], *body[:k], fence]) for k in range(1, len(body) + 1)]
    if closed:
        prefixes[-1] = "\n".join(lines)
    return _made("code", prefixes or ["\n".join(lines)])


def _text_block(lines: list[str]) -> Block:
    if len(lines) > 1:
        kind = "list" if sum(bool(_LIST_LINE.match(x)) or x.startswith("|") for x in lines) >= 2 else "prose"
        return _made(kind, ["\n".join(lines[:k]) for k in range(1, len(lines) + 1)])
    sentences = _SENTENCE_END.split(lines[0].strip())
    return _made("prose", [" ".join(sentences[:k]) for k in range(1, len(sentences) + 1)])


@dataclass(frozen=True)
class Document:
    """An answer or a paste, split into blocks. ``text`` is its blocks joined by blank
    lines; ``ends[k]`` is where its first k+1 blocks end in ``text`` (characters) and
    ``sizes[k]`` their UTF-8 size: whole blocks are taken with one slice."""

    topic: str
    blocks: tuple[Block, ...]
    has_code: bool
    question: str | None = None  # the question an answer answers
    text: str = ""
    ends: tuple[int, ...] = ()
    sizes: tuple[int, ...] = ()

    @classmethod
    def of(cls, text: str, topic: str, question: str | None = None) -> Document:
        return cls.of_blocks(tuple(split_blocks(text)), topic, question)

    def after(self, k: int) -> Document | None:
        """The document from its block ``k`` on (None past its end): where the next
        reply goes on."""
        return Document.of_blocks(self.blocks[k:], self.topic, None) if k < len(self.blocks) else None

    @classmethod
    def of_blocks(cls, blocks: tuple[Block, ...], topic: str, question: str | None) -> Document:
        ends: list[int] = []
        sizes: list[int] = []
        for block in blocks:
            ends.append((ends[-1] + 2 if ends else 0) + len(block.text))
            sizes.append((sizes[-1] + 2 if sizes else 0) + block.size)
        joined = "\n\n".join(b.text for b in blocks)
        return cls(topic, blocks, any(b.kind == "code" for b in blocks), question, joined, tuple(ends), tuple(sizes))


def compose(documents: Iterable[Document], target: int) -> str:
    """About ``target`` bytes from the documents' blocks, in order, cut at the block
    boundary nearest the target (never empty while there is text)."""
    return compose_rest(documents, target)[0]


def compose_rest(documents: Iterable[Document], target: int) -> tuple[str, Document | None]:
    """``compose``, and what is left of the document it stopped in (from the block after
    the last it took; None when it took all of it)."""
    parts: list[str] = []
    size = 0
    for document in documents:
        sep = 2 if parts else 0
        whole = bisect.bisect_right(document.sizes, target - size - sep)  # blocks that fit whole
        if whole == len(document.blocks):
            parts.append(document.text)
            size += sep + document.sizes[-1]
            continue
        if whole:
            parts.append(document.text[: document.ends[whole - 1]])
            size += sep + document.sizes[whole - 1]
            sep = 2
        # the next block overshoots: stop before it, or take the prefix landing nearest
        block = document.blocks[whole]
        best_k, best_miss = -1, (target - size) if parts else math.inf
        for k, prefix_size in enumerate(block.sizes):
            miss = abs(size + sep + prefix_size - target)
            if miss < best_miss:
                best_k, best_miss = k, miss
            if size + sep + prefix_size > target:
                break
        if best_k >= 0:
            parts.append(block.prefixes[best_k])
        return "\n\n".join(parts), document.after(whole + (best_k >= 0))
    return "\n\n".join(parts), None


def _marked(documents: Iterable[Document], used: set[str]) -> Iterator[Document]:
    """The documents, each added to ``used`` as it is taken."""
    for document in documents:
        used.add(document.text)
        yield document


@dataclass
class TextBank:
    """The corpus as building material: answers (documents), pastes, whole human
    messages sorted by size, and opening sentences for the shortest replies."""

    source: str
    answers: list[Document]
    pastes: list[Document]
    whole: list[tuple[int, str, str]]  # (size, topic, text), by size
    sentences: list[tuple[int, str]]  # (size, text), by size
    by_topic: dict[str, list[int]] = field(default_factory=dict)
    corpora: list[dict] = field(default_factory=list)  # each corpus's summary (path, counts, SHA-256)

    def __post_init__(self) -> None:
        if not self.answers:
            raise InputError("no 'ai' messages to compose assistant replies from", where=self.source)
        if not self.whole and not self.pastes:
            raise InputError("no 'human' messages", where=self.source)
        for i, doc in enumerate(self.answers):
            self.by_topic.setdefault(doc.topic, []).append(i)
        self._whole_sizes = [w[0] for w in self.whole]
        self._sentence_sizes = [s[0] for s in self.sentences]
        self.code_answers = [i for i, d in enumerate(self.answers) if d.has_code]
        self.plain_answers = [i for i, d in enumerate(self.answers) if not d.has_code]
        # compressed alone, of the part a reply of typical size takes (an answer's opening
        # is plainer than its code and tables)
        self.densities = [alone_ratio(d.text[:REPLY_SIZE]) for d in self.answers]
        self._weights: dict[tuple, list[float]] = {}
        # lines a fix puts into code sent back (aura_lab.traffic.reuse.edit_code)
        self.code_lines = [
            line.strip()
            for d in self.answers
            for b in d.blocks
            if b.kind == "code"
            for line in b.text.split("\n")[1:-1]
            if 12 <= len(line.strip()) <= 80
        ]

    @classmethod
    def of(cls, corpora: Iterable[Corpus]) -> TextBank:
        """Answers are the ``ai`` messages, pastes the ``human`` ones of kind ``paste``,
        the other human messages (and the answers' ``question``) are taken whole.
        Messages without a category serve both sides; weight 0 leaves a message out."""
        answers, pastes, whole, sources, summaries = [], [], [], [], []
        for corpus in corpora:
            sources.append(corpus.path)
            summaries.append(corpus.summary())
            for m in corpus.messages:
                if m.weight <= 0:
                    continue
                topic = str(m.extra.get("topic", ""))
                if m.category in ("ai", None):
                    question = m.extra.get("question")
                    question = question if isinstance(question, str) and question.strip() else None
                    answers.append(Document.of(m.text, topic, question))
                    if question:
                        whole.append((utf8_size(question), topic, question))
                if m.category in ("human", None):
                    if m.extra.get("kind") == "paste":
                        pastes.append(Document.of(m.text, topic))
                    else:
                        whole.append((utf8_size(m.text), topic, m.text))
        sentences = {
            (b.sizes[0], b.prefixes[0]) for d in answers for b in d.blocks[:1] if b.kind == "prose" and b.sizes
        }
        return cls(" + ".join(sources), answers, pastes, sorted(whole), sorted(sentences), corpora=summaries)

    # -- drawing -----------------------------------------------------------------------

    def weights(self, alone: dict[str, float] | None) -> list[float]:
        """The answers' weights for a profile's ``alone`` percentiles (``density``)."""
        key = tuple(sorted((alone or {}).items()))
        if key not in self._weights:
            self._weights[key] = density_weights(self.densities, alone)
        return self._weights[key]

    def answer_order(self, rng: random.Random, opening: int, weights: list[float] | None = None) -> Iterator[int]:
        """Answers in the order a conversation's replies use them: the opening one, the
        rest of its topic (shuffled, by ``weights`` when given), then any at random
        (drawn lazily: a conversation rarely needs more than a few)."""
        yield opening
        own = [i for i in self.by_topic.get(self.answers[opening].topic, []) if i != opening]
        if weights is None:
            rng.shuffle(own)
            yield from own
            while True:
                yield int(rng.random() * len(self.answers))
        yield from weighted_order(rng, own, weights)
        cumulative = list(itertools.accumulate(weights))
        while True:
            yield draw(rng, cumulative)

    def opening(
        self,
        rng: random.Random,
        code_share: float | None,
        human_target: int | None,
        used: set[str] | None = None,
        weights: list[float] | None = None,
    ) -> tuple[int, str | None, str]:
        """How a conversation opens: ``(answer, human text, source)``. The opening answer
        holds code with ``code_share`` (answers drawn by ``weights`` when given). When
        the human speaks first (``human_target`` bytes), its message is that answer's
        question if near enough in size, else a message of its topic near that size,
        else the whole message (or paste) nearest in size, and the answer then one of
        that message's topic; the texts it takes are added to ``used``."""
        wants_code = code_share is not None and rng.random() < code_share
        pool = (self.code_answers if wants_code else self.plain_answers) if code_share is not None else []
        answer = self._pick(pool or list(range(len(self.answers))), rng, weights)
        if human_target is None:
            return answer, None, ""
        question = self.answers[answer].question
        if question is not None and abs(math.log(utf8_size(question) / human_target)) <= TOPIC_TOLERANCE:
            return answer, question, "corpus"
        own_topic = self.answers[answer].topic
        text, source, topic = self.human(human_target, own_topic, rng, set() if used is None else used)
        if topic == own_topic:
            return answer, text, source
        same = self.by_topic.get(topic, [])
        preferred = [i for i in same if self.answers[i].has_code == wants_code] or same
        if preferred:
            answer = self._pick(preferred, rng, weights)
        return answer, text, source

    @staticmethod
    def _pick(pool: list[int], rng: random.Random, weights: list[float] | None) -> int:
        """An answer of ``pool``: by ``weights`` when given, else uniformly."""
        if weights is None:
            return pool[int(rng.random() * len(pool))]
        return pool[draw(rng, list(itertools.accumulate(weights[i] for i in pool)))]

    def reply(
        self, target: int, order: Iterator[int], rng: random.Random, rest: Document | None = None
    ) -> tuple[str, Document | None]:
        """An assistant reply of about ``target`` bytes, going on with ``rest`` (what the
        previous reply left of its answer) when given, then the answers ``order`` gives;
        and what it leaves of its own last answer."""
        documents = (self.answers[i] for i in order)
        text, left = compose_rest(itertools.chain([rest], documents) if rest else documents, target)
        if utf8_size(text) > 1.5 * target + 20 and self.sentences:
            text = self._nearest(self.sentences, self._sentence_sizes, target, rng, None, set())[-1]
        return text, left

    def human(self, target: int, topic: str | None, rng: random.Random, used: set[str]) -> tuple[str, str, str]:
        """``(text, source, topic)``: a whole human message of about ``target`` bytes
        (source ``corpus``), or one cut from pastes (``paste``) beyond the whole messages."""
        largest = self._whole_sizes[-1] if self.whole else 0
        if target <= largest * math.exp(WHOLE_TOLERANCE) or not self.pastes:
            _, found_topic, text = self._nearest(self.whole, self._whole_sizes, target, rng, topic, used)
            used.add(text)
            return text, "corpus", found_topic
        fresh = [d for d in self.pastes if d.text not in used] or self.pastes  # a paste once a conversation
        own = [d for d in fresh if d.topic == topic] or fresh
        first = own[int(rng.random() * len(own))]
        used.add(first.text)
        # a paste longer than any: goes on with others (not yet used), drawn lazily
        others = [d for d in fresh if d is not first] or self.pastes
        more = (others[int(rng.random() * len(others))] for _ in itertools.repeat(None))
        return compose(_marked(itertools.chain([first], more), used), target), "paste", first.topic

    @staticmethod
    def _nearest(pool: list, sizes: list[int], target: int, rng: random.Random, topic, used: set[str]) -> tuple:
        """A text of the topic within the wide window of ``target``, else any within
        the narrow one (unused texts first), else the nearest in size."""
        window: list = []
        if topic is not None:
            low = bisect.bisect_left(sizes, target * math.exp(-TOPIC_TOLERANCE))
            high = bisect.bisect_right(sizes, target * math.exp(TOPIC_TOLERANCE))
            window = [item for item in pool[low:high] if item[1] == topic and item[-1] not in used]
        if not window:
            low = bisect.bisect_left(sizes, target * math.exp(-WHOLE_TOLERANCE))
            high = bisect.bisect_right(sizes, target * math.exp(WHOLE_TOLERANCE))
            window = [item for item in pool[low:high] if item[-1] not in used] or pool[low:high]
        if not window:
            at = min(bisect.bisect_left(sizes, target), len(pool) - 1)
            if at > 0 and abs(sizes[at - 1] - target) < abs(sizes[at] - target):
                at -= 1
            return pool[at]
        return window[int(rng.random() * len(window))]
