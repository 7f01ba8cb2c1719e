"""The text summary, to the character: a golden string over hand-made records, so any
change to what a user reads is a deliberate one (update GOLDEN with it). Three codecs:
one lossy (aura), one lossless (deflate), one whose server did not check (peer); one
message per user in each size bucket; the traffic line first, then the verdict."""

from __future__ import annotations

from aura_lab.analysis.summary import summarise
from aura_lab.analysis.text import SUMMARY_WIDTH, format_summary
from tests.support.traces import frame_from_records

START = 1_700_000_000_000_000_000  # UTC ns
MS = 1_000_000


def record(codec: str, user: int, turn: int, size: int, compressed: int | None, method: str, **extra) -> dict:
    sent = START + (user * 10 + turn) * 100 * MS
    latency = 1.0 + turn * 0.5
    base = {
        "run_id": "golden", "phase": "main", "codec": codec, "server_url": "ws://127.0.0.1:1",
        "user_id": user, "role": "ai" if user % 2 else "human", "turn": turn, "source": "corpus",
        "text": "x" * size, "length_chars": size, "length_bytes": size,
        "scheduled_at": sent, "sent_at": sent, "received_at": sent + int(latency * MS), "latency_ms": latency,
        "status": "ok", "method": method, "original_size": size, "compressed_size": compressed,
        "ratio": size / compressed if compressed else None, "roundtrip_ok": True,
        "reconnects": 0, "failovers": 0, "template_ids": [], "slot_values": [],
    }  # fmt: skip
    base.update(extra)
    return base


def golden_frame():
    rows = []
    for user in range(2):
        for turn, size in enumerate((30, 80, 150, 400, 1200, 2500)):  # one message in each size bucket
            rows.append(record("aura", user, turn, size, size + 1 if size < 100 else size - 20,
                               "UNCOMPRESSED" if size < 100 else "AURALITE",
                               roundtrip_ok=size < 100 or size > 1000))  # fmt: skip
            rows.append(record("deflate", user, turn, size, size if size < 50 else size // 2,
                               "UNCOMPRESSED" if size < 50 else "DEFLATE"))  # fmt: skip
            rows.append(record("peer", user, turn, size, size if size < 50 else size * 3 // 5,
                               "UNCOMPRESSED" if size < 50 else "BRIO", roundtrip_ok=None))  # fmt: skip
    rows.append(record("deflate", 1, 6, 60, None, None, status="error", error_kind="timeout", received_at=None,
                       latency_ms=None, original_size=None, ratio=None, roundtrip_ok=None))  # fmt: skip
    return frame_from_records(rows)


TRAFFIC = "profile assistant; every message whole"
GOLDEN = """\
run golden (complete)
traffic: profile assistant; every message whole
Verdict
  deflate saves the most bandwidth losslessly: safe ratio 1.986 [1.986, 1.986], 49.7% of bytes
    saved; 0.978 [0.978, 0.978] above aura (1.009).
  Not ranked (round trips not checked, their losses unknown): peer (measured ratio 1.659).
  Primary codec aura: safe ratio 1.009 [1.009, 1.009], rank 2 of 2; LOSSY: 4 of 12 delivered
    messages did not survive decompress(compress(m)) == m (its measured ratio 1.018 counts them).
  Messages lost (delivered but not decompressible): aura 4 of 12 (33.3%) LOSSY; deflate 0 of 12;
    peer not checked.
  Failed replies: deflate failed on 1 message of 60 bytes (timeout 1), left out of every ratio (no
    codec delivered it).
  Lever: fix aura's loss first: 4 of its 4 lossy messages were sent as AURALITE.
  Lever: primary aura -> deflate: safe ratio 1.009 -> 1.986 (+96.9% [+96.9%, +96.9%]).
  (intervals: 95% percentile bootstrap over 2 conversations (users), 1000 resamples)

                                    aura LOSSY         deflate  peer (loss not checked)
messages sent                               12              13                       12
delivered (ok replies)                      12              12                       12
delivered %                             100.0%           92.3%                   100.0%
lossless % of checked                    66.7%          100.0%              not checked
lossy (round-trip failures)                  4               0              not checked
round trips checked by                  server          server              not checked
errors                                       0               1                        0
duration                                 1.5 s           1.5 s                    1.5 s
messages/s                                 8.0             8.0                      8.0
original bytes                            8720            8720                     8720
bytes on the wire                         8564            4390                     5256
ratio as measured                        1.018           1.986                    1.659
safe ratio                               1.009           1.986              not checked
bandwidth saved (safe)                    0.9%           49.7%              not checked
ratio, AI messages                       1.018           1.986                    1.659
ratio, human messages                    1.018           1.986                    1.659
template hit rate                          n/a             n/a                      n/a
template precision                         n/a             n/a                      n/a
latency mean                           2.25 ms         2.25 ms                  2.25 ms
latency p50                            2.25 ms         2.25 ms                  2.25 ms
latency p90                            3.45 ms         3.45 ms                  3.45 ms
latency p95                            3.50 ms         3.50 ms                  3.50 ms
latency p99                            3.50 ms         3.50 ms                  3.50 ms
latency p99.9                          3.50 ms         3.50 ms                  3.50 ms
latency max                            3.50 ms         3.50 ms                  3.50 ms
ratio <50 bytes                          0.968           1.000                    1.000
ratio 50-100 bytes                       0.988           2.000                    1.667
ratio 100-200 bytes                      1.154           2.000                    1.667
ratio 200-500 bytes                      1.053           2.000                    1.667
ratio 500-2000 bytes                     1.017           2.000                    1.667
ratio 2000+ bytes                        1.008           2.000                    1.667
what the rows mean:
  delivered: an ok reply came back; lossless / lossy: decompress(compress(m)) == m was checked and
    held / failed (by the server, or by this client with --verify); not checked: nobody checked
  safe ratio: original bytes / bytes on the wire, a lossy or failed message counted as sent raw
    (what a safe deployment would get)
  ratio as measured: original bytes / bytes on the wire, lossy messages included
  errors: a message the codec failed on that another codec delivered counts as sent raw in its
    ratios and byte totals; one that no codec delivered is left out of every ratio
  template hit rate: share of delivered messages the server encoded with a template (the server
    reported a template id, or the method is BINARY_SEMANTIC); n/a: the codec has no templates
  template precision: of the messages whose reply named a template, the share where it is one the
    generator built the message from
  latency percentiles: linear interpolation between closest ranks (numpy 'linear'); latency counts
    from the send (closed loop) or the scheduled send (open loop)

[aura] methods: AURALITE 8, UNCOMPRESSED 4
[aura] LOSSY: 4 of 12 checked messages did not survive decompress(compress(m)) == m (AURALITE 4)
[deflate] methods: DEFLATE 10, UNCOMPRESSED 2
[deflate] errors: timeout 1; 1 message (60 bytes) left out of every ratio (no codec delivered it)
[peer] methods: BRIO 10, UNCOMPRESSED 2
[peer] round trips not checked: the server does not report them; --verify CODEC checks each message
  here
real-text share (messages taken or composed from the corpus, or replayed from logs; the rest are
  built from templates): ai 100% of 6 messages, human 100% of 6 messages
users: 2, messages per user min 6 median 6.0 max 6; reconnects 0, failovers 0"""


def test_text_summary_is_exactly_the_golden_text():
    summary = summarise(golden_frame(), primary_codec="aura")
    summary["traffic"] = TRAFFIC  # as analysis.run.summarise_run adds it from the manifest
    assert format_summary(summary, title="run golden (complete)") == GOLDEN


def test_the_text_says_which_codec_failed_on_what_and_how_it_counts():
    rows = [record(codec, 0, turn, size, size // 2, "DEFLATE") for codec in ("aura", "deflate")
            for turn, size in enumerate((400, 1200))]  # fmt: skip
    rows.append(record("deflate", 0, 2, 82_687, 20_000, "DEFLATE"))
    rows.append(record("aura", 0, 2, 82_687, None, None, status="error", error_kind="server_error",
                       error="compress failed: ValueError: message too long", ratio=None, roundtrip_ok=False))  # fmt: skip
    text = format_summary(summarise(frame_from_records(rows), primary_codec="aura"))
    lines = text.splitlines()
    text = " ".join(text.split())  # a line over SUMMARY_WIDTH is wrapped: read it joined again
    assert (
        "Failed replies: aura failed on 1 message of 82,687 bytes (server_error 1), counted in its ratios as sent raw."
        in text
    )
    assert (
        "[aura] errors: server_error 1; 1 message (82,687 bytes) counted as sent raw in its ratios and byte totals"
        in text
    )
    assert "[aura] commonest error: compress failed: ValueError: message too long" in text
    # the same bytes under both codecs: 400 + 1200 + 82,687
    assert next(line for line in lines if line.startswith("original bytes")).split()[2:] == ["84287"] * 2


SEVEN = ("aura", "deflate", "deflate-stream", "identity", "zstd-dictionary", "brotli-large-window", "peer")


def seven_codec_frame(names=SEVEN):
    """The golden records under seven codecs, two of them unchecked (the longest labels)."""
    rows = []
    for user in range(2):
        for turn, size in enumerate((30, 80, 150, 400, 1200, 2500)):
            for k, codec in enumerate(names):
                rows.append(record(codec, user, turn, size, size * (5 + k) // 12 if size > 50 else size,
                                   "DEFLATE" if size > 50 else "UNCOMPRESSED",
                                   roundtrip_ok=None if k % 3 == 2 else True))  # fmt: skip
    return frame_from_records(rows)


def test_a_seven_codec_summary_fits_the_terminal_and_names_every_codec_in_full():
    text = format_summary(summarise(seven_codec_frame(), primary_codec="aura"), title="run seven")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= SUMMARY_WIDTH == 100
    assert sum(line.startswith("ratio as measured") for line in lines) >= 2  # the codecs in blocks
    headers = "\n".join(line for line in lines if line.startswith(" " * 30))  # every block's
    for label in ("aura", "deflate", "deflate-stream (loss not checked)", "identity", "zstd-dictionary",
                  "brotli-large-window (loss not checked)", "peer"):  # fmt: skip
        assert label in headers
    # each codec's figures appear once: one ratio cell per codec over the blocks
    cells = [cell for line in lines if line.startswith("ratio as measured") for cell in line.split()[3:]]
    assert len(cells) == len(SEVEN)


def test_a_codec_name_longer_than_a_line_is_wrapped_in_its_header_not_cut():
    name = "a-codec-" + "with-a-very-long-name-" * 5 + "end"
    text = format_summary(summarise(seven_codec_frame(("deflate", name))))
    assert max(len(line) for line in text.splitlines()) <= SUMMARY_WIDTH
    header = "".join(line.strip() for line in text.splitlines() if line.startswith(" " * 30))
    assert name in header
