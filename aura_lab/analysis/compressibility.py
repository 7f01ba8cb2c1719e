"""Does a traffic compress like the reference? The codec half of the realism check.

Sizes alone miss what a compression lab measures: generated text can have real sizes and
still compress 15-35 % worse than real chat. Here each codec's bytes come from the lab's
own codecs through the server's own reply function (``wire.protocol.compress_reply``,
with ``config.MIN_COMPRESSION_SIZE``), so a figure equals what a run or a replay of those
conversations measures:

- per conversation and codec, one connection state per direction, as permessage-deflate
  keeps them: a human message travels client to server, an assistant reply server to
  client; a message of no known role counts as client to server; system and tool
  messages are not chat traffic and are left out;
- a codec's overall ratio is the sum of original bytes over the sum of compressed bytes
  of every chat message (both roles);
- its 95 % interval comes from resampling whole conversations (``stats.user_draws``), as
  messages of one conversation are alike; the same draws serve every codec of a side
  (paired), so that the ranking of two codecs is judged on the same conversations;
- the gap is the traffic's ratio over the reference's, minus one; its interval pairs
  independent draws of the two sides.

At most ``DEFAULT_MEASURED`` conversations are measured per side (a seeded sample; the
result says how many of how many): brotli at quality 11 costs ~2 ms a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ..config import MIN_COMPRESSION_SIZE
from ..traffic.conversations import CHAT_ROLES, Conversation
from .content import content_figures
from .stats import CONFIDENCE, percentile_interval, user_draws

REALISM_CODECS = ("deflate", "deflate-stream", "zstd-dict", "brotli")
# conversations measured per side: ~1,000 conversations give a ratio's 95 % interval of
# about +-2 %, well inside the 5 % tolerance, in ~15 s of brotli per side
DEFAULT_MEASURED = 1000
BOOT_DRAWS = 1000  # bootstrap draws of every interval and noise of the realism check
BOOT_SEED = 0  # the draws are seeded: the same inputs give the same table
# A codec's ratio within 5 % of the reference's is close: two halves of one real data set
# agree within 1 %, and a profile's knobs move a ratio by a few percent, so 5 % is what a
# profile can be asked to reach. Beyond 15 % (the whole interval beyond it) is far: that is
# how far the generated text of the first profiles fell short (14-34 %), and a lab's codec
# comparison cannot be trusted on it.
CLOSE_GAP = 0.05
FAR_GAP = 0.15
# Two codecs differ clearly on the reference when the paired interval of their ratios'
# quotient lies wholly beyond 2 % (real chat: brotli beats per-direction deflate-stream by
# ~2.5 %, zstd-dict beats deflate by ~2.6 %); the traffic flips their ranking when its
# interval of that quotient lies wholly on the other side of 1.
RANK_CLEAR = 0.02


class Reservoir:
    """A seeded uniform sample of at most ``cap`` conversations of a stream read once
    (reservoir sampling: at most ``cap`` kept), given back in the stream's order."""

    def __init__(self, cap: int = DEFAULT_MEASURED, seed: int = BOOT_SEED):
        self.cap, self.seen = cap, 0
        self._rng = np.random.default_rng(seed)
        self._kept: list[tuple[int, Conversation]] = []

    def add(self, conversation: Conversation) -> None:
        if len(self._kept) < self.cap:
            self._kept.append((self.seen, conversation))
        else:
            slot = int(self._rng.integers(0, self.seen + 1))
            if slot < self.cap:
                self._kept[slot] = (self.seen, conversation)
        self.seen += 1

    def passing(self, conversations: Iterable[Conversation]) -> Iterator[Conversation]:
        """``conversations`` unchanged, each offered to the sample on its way."""
        for conversation in conversations:
            self.add(conversation)
            yield conversation

    def sample(self) -> list[Conversation]:
        return [c for _, c in sorted(self._kept, key=lambda item: item[0])]


def codec_bytes(
    conversations: Sequence[Conversation], spec: str, min_compression_size: int = MIN_COMPRESSION_SIZE
) -> dict:
    """Per conversation: original and compressed bytes of its chat messages under codec
    ``spec`` (arrays ``original``, ``compressed``), the same per role (``roles``: human
    and assistant totals) and the messages whose round trip failed (``failures``: left
    out of the sums)."""
    from ..codecs import get_codec
    from ..wire.protocol import ServerStats, compress_reply

    codec = get_codec(spec)
    stats = ServerStats()
    original = np.zeros(len(conversations))
    compressed = np.zeros(len(conversations))
    roles = {role: [0, 0] for role in CHAT_ROLES}
    failures = 0
    try:
        for i, conversation in enumerate(conversations):
            states = {"to server": codec.new_connection_state(), "to client": codec.new_connection_state()}
            for message in conversation.messages:
                if message.role not in (*CHAT_ROLES, None):
                    continue
                direction = "to client" if message.role == "assistant" else "to server"
                # a WebSocket text frame is valid UTF-8: a lone surrogate travels as U+FFFD
                text = message.text.encode("utf-8", "replace").decode("utf-8")
                reply = compress_reply(text, codec, states[direction], stats, min_compression_size)
                if reply["status"] != "ok" or not reply.get("roundtrip_ok", True):
                    failures += 1
                    continue
                original[i] += reply["original_size"]
                compressed[i] += reply["compressed_size"]
                if message.role in roles:
                    roles[message.role][0] += reply["original_size"]
                    roles[message.role][1] += reply["compressed_size"]
    finally:
        codec.close()
    return {"original": original, "compressed": compressed, "roles": roles, "failures": failures}


def _ratio_draws(original: np.ndarray, compressed: np.ndarray, n_boot: int, seed: int) -> np.ndarray | None:
    """Bootstrap samples (draws x codecs) of each codec's overall ratio, resampling whole
    conversations with one set of draws for every codec; None under two conversations."""
    n = original.shape[0]
    if n < 2 or n_boot < 2:
        return None
    rng = np.random.default_rng(seed)
    chunks = []
    for counts in user_draws(n, n_boot, rng):
        with np.errstate(divide="ignore", invalid="ignore"):
            chunks.append((counts @ original) / (counts @ compressed))
    return np.vstack(chunks)


def _side(conversations: Sequence[Conversation], codecs: Sequence[str], min_compression_size: int, cache: dict) -> dict:
    measured = {}
    for spec in codecs:
        key = (spec, min_compression_size)
        if key not in cache:
            try:
                cache[key] = codec_bytes(conversations, spec, min_compression_size)
            except (ImportError, ValueError, OSError) as exc:  # a codec whose package is missing
                cache[key] = {"error": f"{type(exc).__name__}: {exc}"}
        measured[spec] = cache[key]
    return measured


def _content(conversations: Sequence[Conversation], cache: dict) -> dict:
    if "content" not in cache:
        cache["content"] = content_figures(conversations)
    return cache["content"]


def _interval(samples: np.ndarray | None, column: int) -> tuple[float | None, float | None]:
    return (None, None) if samples is None else percentile_interval(samples[:, column])


def judge_gap(gap: float | None, low: float | None, high: float | None) -> str:
    """A codec's word: "far" when the whole interval of the gap lies beyond ``FAR_GAP``,
    "rough" when it lies beyond ``CLOSE_GAP``, "close" when the gap itself is within
    ``CLOSE_GAP``, else "too few to tell" (a gap over 5 % whose interval reaches back
    within it, or that has no interval: a side of one conversation); "not checked"
    without a gap."""
    if gap is None:
        return "not checked"
    if abs(gap) <= CLOSE_GAP:
        return "close"
    if low is None or high is None:
        return "too few to tell"
    if low > FAR_GAP or high < -FAR_GAP:
        return "far"
    if low > CLOSE_GAP or high < -CLOSE_GAP:
        return "rough"
    return "too few to tell"


def _ranking(
    names: list[str], ratios: dict[str, dict], draws: dict[str, np.ndarray | None], columns: dict[str, int]
) -> dict:
    """The codecs from best to worst ratio on each side, and the pairs that differ
    clearly on the reference whose order the traffic reverses: ``flipped`` (its interval
    wholly reversed) or ``unsure`` (reversed, but within its noise)."""
    order = {side: sorted(names, key=lambda n: -ratios[n][side]["ratio"]) for side in ("reference", "traffic")}
    flipped: list[list[str]] = []
    unsure: list[list[str]] = []
    ref, got = draws["reference"], draws["traffic"]
    if ref is None:  # no interval on the reference: no pair is clearly apart
        return {**order, "same": order["reference"] == order["traffic"], "flipped": flipped, "unsure": unsure}
    for a, b in [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]:
        low, high = percentile_interval(ref[:, columns[a]] / ref[:, columns[b]])
        if low is None or high is None:
            continue
        if low > 1 + RANK_CLEAR:
            better, worse = a, b
        elif high < 1 - RANK_CLEAR:
            better, worse = b, a
        else:
            continue  # not clearly apart on the reference: either order is fine
        point = ratios[better]["traffic"]["ratio"] / ratios[worse]["traffic"]["ratio"]
        if point >= 1:
            continue
        t_high = None if got is None else percentile_interval(got[:, columns[better]] / got[:, columns[worse]])[1]
        (flipped if t_high is not None and t_high < 1 else unsure).append([worse, better])
    return {**order, "same": order["reference"] == order["traffic"], "flipped": flipped, "unsure": unsure}


def compressibility(
    reference: Sequence[Conversation],
    traffic: Sequence[Conversation],
    totals: tuple[int, int],
    codecs: Sequence[str] = REALISM_CODECS,
    min_compression_size: int = MIN_COMPRESSION_SIZE,
    n_boot: int = BOOT_DRAWS,
    seed: int = BOOT_SEED,
    caches: tuple[dict, dict] | None = None,
) -> dict:
    """How ``traffic`` compresses against ``reference`` (the measured conversations of
    each side; ``totals``: how many each side had): per codec (``codecs``) each side's
    overall ``ratio`` with its ``low``/``high`` interval and per-role ratios, the ``gap``
    (traffic / reference - 1) with its interval and word (``judge_gap``); the codec
    ``ranking`` of each side; the content figures (``analysis.content``) per role of each
    side; ``measured``: conversations measured of how many, per side. ``caches`` (one dict
    per side) keep each side's codec bytes and content figures for the next call with the
    same conversations."""
    sides = {"reference": reference, "traffic": traffic}
    caches = caches or ({}, {})
    measured = {
        side: _side(conversations, codecs, min_compression_size, cache)
        for (side, conversations), cache in zip(sides.items(), caches)
    }
    names = [spec for spec in codecs if all("error" not in measured[side][spec] for side in sides)]
    draws = {
        side: (
            _ratio_draws(
                np.column_stack([measured[side][n]["original"] for n in names]),
                np.column_stack([measured[side][n]["compressed"] for n in names]),
                n_boot,
                seed + k,
            )
            if names
            else None
        )
        for k, side in enumerate(sides)
    }
    table: dict[str, dict] = {}
    for spec in codecs:
        if spec not in names:
            error = next(measured[side][spec]["error"] for side in sides if "error" in measured[side][spec])
            table[spec] = {"judged": "not checked", "error": error}
            continue
        column = names.index(spec)
        row: dict = {}
        for side in sides:
            got = measured[side][spec]
            ratio = float(got["original"].sum() / got["compressed"].sum()) if got["compressed"].sum() else None
            low, high = _interval(draws[side], column)
            row[side] = {
                "ratio": ratio,
                "low": low,
                "high": high,
                "roles": {role: (o / c if c else None) for role, (o, c) in got["roles"].items()},
                "failures": got["failures"],
            }
        ref, got = row["reference"]["ratio"], row["traffic"]["ratio"]
        gap = got / ref - 1 if ref and got else None
        low = high = None
        if gap is not None and draws["reference"] is not None and draws["traffic"] is not None:
            low, high = percentile_interval(draws["traffic"][:, column] / draws["reference"][:, column] - 1)
        row.update(gap=gap, gap_low=low, gap_high=high, judged=judge_gap(gap, low, high))
        table[spec] = row
    ranked = [n for n in names if table[n]["reference"]["ratio"] and table[n]["traffic"]["ratio"]]
    return {
        "codecs": table,
        "ranking": _ranking(ranked, table, draws, {n: names.index(n) for n in names}) if len(ranked) >= 2 else None,
        "content": {
            side: _content(conversations, cache) for (side, conversations), cache in zip(sides.items(), caches)
        },
        "measured": {
            "reference": len(reference),
            "reference_total": totals[0],
            "traffic": len(traffic),
            "traffic_total": totals[1],
            "seed": seed,
        },
        "confidence": CONFIDENCE,
        "min_compression_size": min_compression_size,
    }


def _estimate(value: float | None, low: float | None, high: float | None, point, bound, between: str) -> str:
    """``value`` (as ``point`` writes it) and its interval (as ``bound`` writes each end)."""
    if value is None:
        return "not checked"
    return point(value) if low is None or high is None else f"{point(value)} ({bound(low)}{between}{bound(high)})"


def _ratio_cell(side: dict) -> str:
    ratio = "{:.2f}".format
    return _estimate(side.get("ratio"), side.get("low"), side.get("high"), ratio, ratio, "-")


def _gap_cell(row: dict) -> str:
    def percent(v: float) -> str:
        return f"{v * 100:+.1f}"

    return _estimate(
        row.get("gap"), row.get("gap_low"), row.get("gap_high"), lambda v: percent(v) + "%", percent, " to "
    )


def _figure(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "not checked"
    return f"{value * 100:.1f}%" if percent else f"{value:.2f}"


CONTENT_COLUMNS = (  # heading, figure, quantile (None: a share)
    ("alone p50", "alone", "p50"),
    ("gain p50", "gain", "p50"),
    ("gain p90", "gain", "p90"),
    ("own p50", "gain_own", "p50"),
    ("reuse>=30%", "reuse_some", None),
    ("reuse>=70%", "reuse_most", None),
)


def format_compressibility(table: dict, width: int = 100) -> list[str]:
    """The compressibility half of the realism table as lines of at most ``width``
    columns; one line when it was not checked."""
    import textwrap

    def wrap(text: str) -> list[str]:
        return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False)

    if table.get("status") != "checked":
        return wrap(f"compressibility: not checked ({table.get('reason', 'not measured')})")
    m = table["measured"]
    lines = wrap(
        "compressibility: overall ratio (original / compressed bytes of every chat message, both roles) "
        "through aura-lab's codecs and reply function, one context per direction; "
        f"{table['confidence']:.0%} intervals by conversation. Measured {m['reference']} of "
        f"{m['reference_total']} reference conversations and {m['traffic']} of {m['traffic_total']} traffic "
        f"conversations (seeded sample)."
    )
    lines.append(f"{'codec':<16}{'reference':<20}{'traffic':<20}{'gap':<26}judged")
    for name, row in table["codecs"].items():
        if "error" in row:
            lines.append(f"{name:<16}not checked ({row['error']})"[:width])
            continue
        lines.append(
            f"{name:<16}{_ratio_cell(row['reference']):<20}{_ratio_cell(row['traffic']):<20}"
            f"{_gap_cell(row):<26}{row['judged']}"
        )
    ranking = table.get("ranking")
    if ranking is None:
        lines.append("codec ranking: not checked (fewer than two codecs measured)")
    else:
        said = "the same" if ranking["same"] else " > ".join(ranking["traffic"])
        reversed_pairs = [f"{a} over {b}" for a, b in ranking["flipped"]]
        unsure = [f"{a} over {b}" for a, b in ranking["unsure"]]
        if reversed_pairs:
            said += f"; flipped against a clear reference order: {', '.join(reversed_pairs)}"
        if unsure:
            said += f"; reversed within noise: {', '.join(unsure)}"
        lines += wrap(f"codec ranking: reference {' > '.join(ranking['reference'])}; traffic {said}")
    lines += wrap(
        "content per message (raw deflate, level 6): ratio alone; gain from the conversation's history "
        "(both directions; own: its own direction's only); messages reusing >= 30% and >= 70% of their text"
    )
    lines.append(f"{'role':<10}{'side':<10}" + "".join(f"{h:>12}" for h, _, _ in CONTENT_COLUMNS))
    for role in CHAT_ROLES:
        for side in ("reference", "traffic"):
            figures = table["content"][side][role]
            head = f"{role if side == 'reference' else '':<10}{side:<10}"
            if not figures["messages"]:
                lines.append(f"{head}  not checked (no {role} messages)")
                continue
            cells = []
            for _, key, q in CONTENT_COLUMNS:
                value = figures[key] if q is None else (figures[key] or {}).get(q)
                cells.append(f"{_figure(value, percent=q is None):>12}")
            lines.append(head + "".join(cells))
    return lines
