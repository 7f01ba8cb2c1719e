"""The summary as text: the verdict first, then the codecs side by side (in blocks of as
many columns as fit ``SUMMARY_WIDTH``), then what the labels mean; every line fits
``SUMMARY_WIDTH`` characters, a longer one wrapped, never cut. A figure nobody measured
reads "not checked" (round trips) or "n/a" (a hit rate for a codec without templates),
never 0; a lossy codec's column says LOSSY."""

from __future__ import annotations

import html
import math
import re
import textwrap

from . import metrics
from .churn import CHURN_RULE, CHURN_SHOWN
from .stats import PERCENTILE_METHOD
from .summary import LENGTH_BUCKETS, RANK_MIN_USES

NOT_APPLICABLE = "n/a"
# the per-reply rows of a run with streamed replies: (label, key in the codec's "replies", format)
REPLY_ROWS = (
    ("streamed replies", "replies", "d"),
    ("frames per reply", "frames_per_reply", ".1f"),
    ("reply text bytes (mean)", "reply_bytes_mean", ".0f"),
    ("bytes sent per reply", "sent_bytes_per_reply", ".0f"),
    ("wire bytes per reply", "wire_bytes_per_reply", ".0f"),
    ("ratio per reply (median)", "ratio_per_reply_median", ".3f"),
    ("reply text / wire bytes", "text_to_wire_ratio", ".3f"),
    ("codec output ratio, frames", "frame_codec_ratio", ".3f"),
)
LABEL_WIDTH = 30
SUMMARY_WIDTH = 100  # characters: a terminal's width, whatever the number of codecs
COLUMN_MIN_WIDTH = 16
LOSSY_SUFFIX = "LOSSY"
UNCHECKED_SUFFIX = f"(loss {metrics.NOT_CHECKED})"
PARTLY_CHECKED_SUFFIX = "(loss partly checked)"


def loss_mark(lossy: bool, status: str = "checked") -> str:
    """What follows a codec's name wherever its ratio appears: LOSSY when it lost a
    message, else "(loss not checked)" or "(loss partly checked)" when some of its
    delivered messages were not checked (``metrics.loss``'s status); "" when all were."""
    if lossy:
        return LOSSY_SUFFIX
    return {metrics.NOT_CHECKED: UNCHECKED_SUFFIX, "partly checked": PARTLY_CHECKED_SUFFIX}.get(status, "")


def codec_label(name: str, figures: dict) -> str:
    """A codec's name as every table and chart shows it, from its summary figures
    (``loss_mark``)."""
    mark = loss_mark(bool(figures.get("lossy")), figures.get("loss", {}).get("status", "checked"))
    return f"{name} {mark}" if mark else name


def _fmt(value, spec: str = ".2f", suffix: str = "") -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{spec}}{suffix}"


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def _checked(c: dict, value):
    """A loss figure, or "not checked" when nobody checked this codec's round trips."""
    return metrics.NOT_CHECKED if c["loss"]["checked"] == 0 else value


def format_summary(summary: dict, title: str = "", verdict: bool = True) -> str:
    """The summary as text: the verdict (unless ``verdict`` is False: the report shows
    it on its own), codecs side by side, labels explained."""
    codecs = summary["codecs"]
    if summary.get("empty") or not codecs:
        return f"{title}\nThe run is empty: no {summary.get('phase', 'main')} messages were recorded.".strip()
    names = list(codecs)
    headers = [codec_label(n, codecs[n]) for n in names]
    lines = [title] if title else []
    if summary.get("traffic"):  # what the figures are of, before any of them
        lines.append(f"traffic: {summary['traffic']}")
    lines += _client_lines(summary)
    said = summary.get("verdict") or {}
    if verdict and said.get("lines"):
        lines.append("Verdict")
        lines += [f"  {line}" for line in said["lines"]]
        if said.get("method"):
            lines.append(f"  (intervals: {said['method']})")
        lines.append("")

    rows: list[tuple[str, list[str]]] = []

    def row(label, getter, spec=".2f", suffix=""):
        rows.append((label, [_fmt(getter(codecs[n]), spec, suffix) for n in names]))

    row("messages sent", lambda c: c["sent"], "d")
    row("delivered (ok replies)", lambda c: c["ok"], "d")
    row("delivered %", lambda c: _percent(c["delivered_rate"]), ".1f", "%")
    row("lossless % of checked", lambda c: _checked(c, _percent(c["lossless_rate"])), ".1f", "%")
    row("lossy (round-trip failures)", lambda c: _checked(c, c["loss"]["lossy"]), "d")
    row("round trips checked by", lambda c: _checked(c, "+".join(sorted(c["loss"]["checked_by"])) or "-"))
    row("errors", lambda c: c["errors"], "d")
    row("duration", lambda c: c["duration_s"], ".1f", " s")
    row("messages/s", lambda c: c["messages_per_second"], ".1f")
    row("original bytes", lambda c: c["total_original_bytes"], "d")
    row("bytes on the wire", lambda c: c["total_compressed_bytes"], "d")
    row("ratio as measured", lambda c: c["overall_ratio"], ".3f")
    row("safe ratio", lambda c: _checked(c, c["safe_ratio"]), ".3f")
    row("bandwidth saved (safe)", lambda c: _checked(c, c["safe_bandwidth_saved_percent"]), ".1f", "%")
    codec_output = any(c.get("codec_ratio") is not None for c in codecs.values())
    if codec_output:
        row("codec output ratio", lambda c: c.get("codec_ratio"), ".3f")
        row("codec output grew", lambda c: _percent(c.get("expanded_share")), ".1f", "%")
    row("ratio, AI messages", lambda c: c["ratio_by_role"]["ai"], ".3f")
    row("ratio, human messages", lambda c: c["ratio_by_role"]["human"], ".3f")
    row("template hit rate", lambda c: _templated(c, _percent(c["template_hit_rate"])), ".1f", "%")
    row("template precision", lambda c: _templated(c, _percent(c["template_precision"])), ".1f", "%")
    for key in ("mean", "p50", "p90", "p95", "p99", "p99.9", "max"):
        row(f"latency {key}", lambda c, k=key: c["latency_ms"][k], ".2f", " ms")
    for label in _bucket_labels(codecs):
        row(f"ratio {label} bytes", lambda c, b=label: _bucket_ratio(c["length_buckets"], b), ".3f")
    streamed = any(c.get("replies") for c in codecs.values())
    if streamed:
        for label, key, spec in REPLY_ROWS:
            row(label, lambda c, k=key: (c.get("replies") or {}).get(k), spec)
    failed = any(c.get("errors") for c in codecs.values())
    lines += _table(headers, rows)
    lines += _legend(summary, codec_output, streamed, failed)
    lines.append("")
    lines += _codec_lines(codecs)
    primary = str(summary.get("primary_codec")) if summary.get("primary_codec") in codecs else names[0]
    lines += _traffic_lines(codecs[primary], primary)
    return "\n".join(wrapped for line in lines for wrapped in _wrap(line))


def _wrap(line: str) -> list[str]:
    """A line of at most ``SUMMARY_WIDTH`` characters, or the line wrapped at spaces,
    its continuations indented two more than it."""
    if len(line) <= SUMMARY_WIDTH:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    return textwrap.wrap(line, SUMMARY_WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def _table(headers: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    """The codecs side by side: each column as wide as its own header and cells, and as
    many columns in a block as fit ``SUMMARY_WIDTH`` beside the labels; the next codecs
    in the next block, the labels again. A header too long for one line is wrapped over
    several header lines, never cut."""
    room = SUMMARY_WIDTH - LABEL_WIDTH
    widths = [
        min(room, max(COLUMN_MIN_WIDTH, len(header) + 2, *(len(cells[i]) + 2 for _, cells in rows)))
        for i, header in enumerate(headers)
    ]
    blocks: list[list[int]] = []
    for i, width in enumerate(widths):
        if blocks and sum(widths[j] for j in blocks[-1]) + width <= room:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    lines: list[str] = []
    for block in blocks:
        if lines:
            lines.append("")
        pieces = {i: textwrap.wrap(headers[i], widths[i] - 2, break_on_hyphens=False) or [""] for i in block}
        height = max(len(p) for p in pieces.values())
        for k in range(height):
            cells = [([""] * (height - len(pieces[i])) + pieces[i])[k] for i in block]
            lines.append(f"{'':<{LABEL_WIDTH}}" + "".join(f"{c:>{widths[i]}}" for c, i in zip(cells, block)))
        for label, cells in rows:
            lines.append(f"{label:<{LABEL_WIDTH}}" + "".join(f"{cells[i]:>{widths[i]}}" for i in block))
    return [line.rstrip() for line in lines]


def _bucket_labels(codecs: dict) -> list[str]:
    """The size buckets of the summary's codecs in order: the summary's (``LENGTH_BUCKETS``),
    or the peer's for a summary read from its export (one 500+ bucket)."""
    labels = [b["bucket"] for c in codecs.values() for b in c["length_buckets"]]
    return list(dict.fromkeys(labels)) or [label for _, _, label in LENGTH_BUCKETS]


def _bucket_ratio(buckets: list[dict], label: str):
    """The bucket's bytes ratio; an export of the peer's holds only the mean of the
    per-message ratios, shown as such."""
    bucket = next((b for b in buckets if b["bucket"] == label), {})
    if bucket.get("ratio") is None and bucket.get("mean_ratio") is not None:
        return f"{bucket['mean_ratio']:.3f} (mean)"
    return bucket.get("ratio")


def _templated(c: dict, value):
    return value if c.get("template_hit_rate_applies", True) else NOT_APPLICABLE


def _legend(summary: dict, codec_output: bool = False, streamed: bool = False, failed: bool = False) -> list[str]:
    lines = [
        "what the rows mean:",
        "  delivered: an ok reply came back; lossless / lossy: decompress(compress(m)) == m was checked and "
        "held / failed (by the server, or by this client with --verify); not checked: nobody checked",
        f"  safe ratio: {metrics.SAFE_RATIO_DEFINITION} (what a safe deployment would get)",
        "  ratio as measured: original bytes / bytes on the wire, lossy messages included",
        f"  template hit rate: share of delivered messages the server encoded with a template "
        f"({summary.get('hit_definition', metrics.HIT_DEFINITION)}); n/a: the codec has no templates",
        "  template precision: of the messages whose reply named a template, the share where it is "
        "one the generator built the message from",
        f"  latency percentiles: {summary.get('percentile_method', PERCENTILE_METHOD)}; latency counts from "
        "the send (closed loop) or the scheduled send (open loop)",
    ]
    if codec_output:  # beside the other ratios
        lines.insert(
            4,
            "  codec output ratio: original bytes / what the codec itself produced, where it was called (below 1 "
            "it grew the traffic, even where the server then sent the text raw); grew: share of those messages",
        )
    if failed:  # beside the ratios they change
        definition = summary.get("failed_raw_definition")
        lines.insert(4, f"  errors: {definition}" if definition else "  errors: left out of the ratios")
    if streamed:
        lines.append(
            "  per reply: a streamed reply's frames together; bytes sent count envelopes and resent text; "
            "reply text / wire bytes: the reply's own text over what all its frames cost on the wire"
        )
    return lines


def shards_note(client: dict) -> str:
    """What a sharded run's client figure is over, for the sentence that gives it ("" for
    one process)."""
    return f", each of {client['shards']} shards on its own, Dask's threads in it" if client.get("shards") else ""


def _after_reply(lateness: dict) -> str:
    """The send lateness counted from the previous reply when that came late."""
    if lateness.get("after_reply_p99") is None:
        return f" (counted from a late previous reply: {metrics.NOT_CHECKED})" if "after_reply_p99" in lateness else ""
    figures = f"p50 {lateness['after_reply_p50']:.2f}, p99 {lateness['after_reply_p99']:.2f}"
    return f" (counted from a late previous reply: {figures})"


def _codec_lines(codecs: dict) -> list[str]:
    lines = []
    for name, c in codecs.items():
        methods = ", ".join(f"{m} {n}" for m, n in c["methods"].items()) or "-"
        lines.append(f"[{name}] methods: {methods}")
        if c["errors_by_kind"]:
            kinds = ", ".join(f"{k} {v}" for k, v in c["errors_by_kind"].items())
            lines.append(f"[{name}] errors: {kinds}" + _failure_text(c.get("failures")))
            if (c.get("failures") or {}).get("error"):
                lines.append(f"[{name}] commonest error: {_clipped(c['failures']['error'])}")
        loss = c["loss"]
        if c["lossy"]:
            by = ", ".join(f"{m} {n}" for m, n in c["roundtrip_failures_by_method"].items())
            lines.append(
                f"[{name}] LOSSY: {loss['lossy']} of {loss['checked']} checked messages did not survive "
                f"decompress(compress(m)) == m ({by})"
            )
        if loss["status"] == metrics.NOT_CHECKED:
            lines.append(
                f"[{name}] round trips not checked: the server does not report them; "
                f"--verify CODEC checks each message here"
            )
        elif loss["unchecked"]:
            lines.append(f"[{name}] round trips not checked for {loss['unchecked']} of {loss['delivered']} messages")
    return lines


def _failure_text(failed: dict | None) -> str:
    """How a codec's failed messages count in its ratios ("" for a summary without the
    figure: an export, an older summary.json)."""
    if not failed or not failed["messages"]:
        return ""
    said = []
    for count, size, how in (
        (failed["counted_raw"], failed["counted_raw_bytes"], "counted as sent raw in its ratios and byte totals"),
        (failed["left_out"], failed["left_out_bytes"], "left out of every ratio (no codec delivered {})"),
    ):
        if count:
            it = "it" if count == 1 else "them"
            said.append(f"{count} message{'s' if count != 1 else ''} ({size:,} bytes) {how.format(it)}")
    return "; " + "; ".join(said)


def _clipped(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _traffic_lines(first: dict, primary: str) -> list[str]:
    shares = first["source_share"]
    said = ", ".join(
        f"{role} {_fmt(_percent(s['corpus_share']), '.0f', '%')} of {s['messages']} messages"
        for role, s in shares.items()
        if s["messages"]
    )
    lines = [
        "real-text share (messages taken or composed from the corpus, or replayed from logs; the rest are built "
        "from templates): " + (said or "not recorded (the records carry no role or source)")
    ]
    users = first["per_user_messages"]
    lines.append(
        f"users: {users['users']}, messages per user min {_fmt(users['min'], 'd')} "
        f"median {_fmt(users['median'], '.1f')} max {_fmt(users['max'], 'd')}; "
        f"reconnects {_fmt(first['reconnects'], 'd')}, "
        f"failovers {_fmt(first['failovers'], 'd')}"
    )
    templates = first["templates"]
    if not templates["count"]:
        return lines
    least = templates.get("ranked_min_uses", 1)
    among = (
        f"among templates used at least {least} times"
        if least > 1
        else f"every template (none was used {RANK_MIN_USES} times)"
    )
    lines.append(f"templates used: {templates['count']} on {primary}; #id overall ratio (uses), {among}:")
    for label, key in (("best", "top"), ("worst", "bottom")):
        items = ", ".join(
            f"#{t['template_id']} {_fmt(t['overall_ratio'], '.2f')} ({t['uses']})" for t in templates[key]
        )
        lines.append(f"  {label}: {items or '- (every ranked template is listed above)'}")
    lines += _churn_lines(templates)
    return lines


def _churn_lines(templates: dict) -> list[str]:
    if not templates.get("churn_checked", False):
        return ["  churn: not checked (the run did not record how many slot values were available)"]
    churn = templates["low_diversity"]
    if not churn:
        return [f"  churn: none ({CHURN_RULE})"]
    lines = [f"  churn: {len(churn)} of {templates['count']} templates ({CHURN_RULE}); the worst:"]
    for t in churn[:CHURN_SHOWN]:
        lines.append(
            f"    #{t['template_id']}: {t['unique_fillings']} distinct fillings in {t['uses']} uses, "
            f"{t['expected_fillings']:.1f} expected from {t['fillings_available']} available"
        )
    if len(churn) > CHURN_SHOWN:
        lines.append(f"    and {len(churn) - CHURN_SHOWN} more (the report's churn table lists every one)")
    return lines


def _client_lines(summary: dict) -> list[str]:
    """The client's own CPU per message (whether it, not the server, was saturated) and
    an open loop's send lateness; "not checked" where the run did not measure them."""
    if "client" not in summary:
        return []  # a summary read from elsewhere (an export), which never had the figure
    client = summary["client"]
    if not client or client.get("cpu_us_per_message") is None:
        lines = [f"client CPU per message: {metrics.NOT_CHECKED}"]
    else:
        lines = [
            f"client CPU per message: {client['cpu_us_per_message']:,.0f} µs (wall {client['wall_us_per_message']:,.0f}"
            f" µs per message; {client['cpu_share']:.0%} of a core over the main phase"
            + shards_note(client)
            + ("; SATURATED: latencies include the client's own queueing)" if client.get("saturated") else ")")
        ]
    lateness = summary.get("send_lateness_ms")
    if "send_lateness_ms" in summary:
        lines.append(
            f"send lateness (open loop, sent - scheduled): p50 {lateness['p50']:.2f} ms, p99 {lateness['p99']:.2f} ms"
            + _after_reply(lateness)
            + ("; BEHIND SCHEDULE" if summary.get("behind_schedule") else "")
            if lateness
            else f"send lateness (open loop): {metrics.NOT_CHECKED}"
        )
    return lines


_MARKDOWN_LINK = re.compile(r"([\\\[\]])")  # what makes a link or an image: [text](url), ![alt](src)


def md(value: object) -> str:
    """Text a run folder holds (a codec label, a URL, a note: whatever its maker wrote)
    for Markdown: HTML-escaped, and the brackets of a link or an image backslash-escaped,
    so nothing in it becomes a tag or a link (``javascript:`` included). Run folders travel."""
    return _MARKDOWN_LINK.sub(r"\\\1", html.escape(str(value), quote=False))


def code(value: object) -> str:
    """``value`` as inline code, escaped (a Markdown code span would show the escapes)."""
    return f"<code>{html.escape(str(value))}</code>"
