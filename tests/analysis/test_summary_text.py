"""The text summary, to the character: a golden string over hand-made records, so any
change to what a user reads is a deliberate one (update GOLDEN with it). Three codecs:
one lossy (aura), one lossless (deflate), one whose server did not check (peer)."""

from __future__ import annotations

from aura_lab.analysis.summary import summarise
from aura_lab.analysis.text import format_summary
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
        for turn, size in enumerate((30, 80, 150, 400)):
            rows.append(record("aura", user, turn, size, size + 1 if size < 100 else size - 20,
                               "UNCOMPRESSED" if size < 100 else "AURALITE",
                               roundtrip_ok=size < 100))  # fmt: skip
            rows.append(record("deflate", user, turn, size, size if size < 50 else size // 2,
                               "UNCOMPRESSED" if size < 50 else "DEFLATE"))  # fmt: skip
            rows.append(record("peer", user, turn, size, size if size < 50 else size * 3 // 5,
                               "UNCOMPRESSED" if size < 50 else "BRIO", roundtrip_ok=None))  # fmt: skip
    rows.append(record("deflate", 1, 4, 60, None, None, status="error", error_kind="timeout", received_at=None,
                       latency_ms=None, original_size=None, ratio=None, roundtrip_ok=None))  # fmt: skip
    return frame_from_records(rows)


GOLDEN = """\
run golden (complete)
Verdict
  deflate saves the most bandwidth losslessly: safe ratio 1.913 [1.913, 1.913], 47.7% of bytes saved; 0.916 [0.916, 0.916] above aura (0.997).
  Not ranked (round trips not checked, their losses unknown): peer (measured ratio 1.618).
  Primary codec aura: safe ratio 0.997 [0.997, 0.997], rank 2 of 2; LOSSY: 4 of 8 delivered messages did not survive decompress(compress(m)) == m (its measured ratio 1.061 counts them).
  Messages lost (delivered but not decompressible): aura 4 of 8 (50.0%) LOSSY; deflate 0 of 8; peer not checked.
  Lever: fix aura's loss first: 4 of its 4 lossy messages were sent as AURALITE.
  Lever: primary aura -> deflate: safe ratio 0.997 -> 1.913 (+91.9% [+91.9%, +91.9%]).
  (intervals: 95% percentile bootstrap over 2 conversations (users), 1000 resamples)

                                             aura LOSSY                  deflate  peer (loss not checked)
messages sent                                         8                        9                        8
delivered (ok replies)                                8                        8                        8
delivered %                                      100.0%                    88.9%                   100.0%
lossless % of checked                             50.0%                   100.0%              not checked
lossy (round-trip failures)                           4                        0              not checked
round trips checked by                           server                   server              not checked
errors                                                0                        1                        0
duration                                          1.3 s                    1.3 s                    1.3 s
messages/s                                          6.1                      6.1                      6.1
original bytes                                     1320                     1320                     1320
bytes on the wire                                  1244                      690                      816
ratio as measured                                 1.061                    1.913                    1.618
safe ratio                                        0.997                    1.913              not checked
bandwidth saved (safe)                            -0.3%                    47.7%              not checked
ratio, AI messages                                1.061                    1.913                    1.618
ratio, human messages                             1.061                    1.913                    1.618
template hit rate                                   n/a                      n/a                      n/a
template precision                                  n/a                      n/a                      n/a
latency mean                                    1.75 ms                  1.75 ms                  1.75 ms
latency p50                                     1.75 ms                  1.75 ms                  1.75 ms
latency p90                                     2.50 ms                  2.50 ms                  2.50 ms
latency p95                                     2.50 ms                  2.50 ms                  2.50 ms
latency p99                                     2.50 ms                  2.50 ms                  2.50 ms
latency p99.9                                   2.50 ms                  2.50 ms                  2.50 ms
latency max                                     2.50 ms                  2.50 ms                  2.50 ms
ratio <50 bytes                                   0.968                    1.000                    1.000
ratio 50-100 bytes                                0.988                    2.000                    1.667
ratio 100-200 bytes                               1.154                    2.000                    1.667
ratio 200-500 bytes                               1.053                    2.000                    1.667
ratio 500+ bytes                                      -                        -                        -
what the rows mean:
  delivered: an ok reply came back; lossless / lossy: decompress(compress(m)) == m was checked and held / failed (by the server, or by this client with --verify); not checked: nobody checked
  safe ratio: original bytes / bytes on the wire, a lossy message counted as sent raw (what a safe deployment would get)
  ratio as measured: original bytes / bytes on the wire, lossy messages included
  template hit rate: share of delivered messages the server encoded with a template (the server reported a template id, or the method is BINARY_SEMANTIC); n/a: the codec has no templates
  template precision: of the messages whose reply named a template, the share where it is one the generator built the message from
  latency percentiles: linear interpolation between closest ranks (numpy 'linear'); latency counts from the send (closed loop) or the scheduled send (open loop)

[aura] methods: UNCOMPRESSED 4, AURALITE 4
[aura] LOSSY: 4 of 8 checked messages did not survive decompress(compress(m)) == m (AURALITE 4)
[deflate] methods: DEFLATE 6, UNCOMPRESSED 2
[deflate] errors: timeout 1
[peer] methods: BRIO 6, UNCOMPRESSED 2
[peer] round trips not checked: the server does not report them; --verify CODEC checks each message here
corpus share (messages taken from the corpus; the rest are built from templates): ai 100% of 4 messages, human 100% of 4 messages
users: 2, messages per user min 4 median 4.0 max 4; reconnects 0, failovers 0"""


def test_text_summary_is_exactly_the_golden_text():
    summary = summarise(golden_frame(), primary_codec="aura")
    assert format_summary(summary, title="run golden (complete)") == GOLDEN
