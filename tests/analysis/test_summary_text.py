"""The text summary, to the character: a golden string over hand-made records, so any
change to what a user reads is a deliberate one (update GOLDEN with it)."""

from __future__ import annotations

from aura_lab.analysis.summary import format_summary, summarise
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
    rows.append(record("deflate", 1, 4, 60, None, None, status="error", error_kind="timeout", received_at=None,
                       latency_ms=None, original_size=None, ratio=None, roundtrip_ok=None))  # fmt: skip
    return frame_from_records(rows)


GOLDEN = """\
run golden (complete)
                                      aura       deflate
messages (sent)                          8             9
replies ok                               8             8
errors                                   0             1
success                             100.0%         88.9%
duration                             1.3 s         1.3 s
messages/s                             6.1           6.1
original bytes                        1320          1320
compressed bytes                      1244           690
overall ratio                        1.061         1.913
bandwidth saved                       5.8%         47.7%
ratio, AI messages                   1.061         1.913
ratio, human messages                1.061         1.913
template hit rate                     0.0%          0.0%
template precision                       -             -
round-trip failures                      4             0
latency mean                       1.75 ms       1.75 ms
latency p50                        1.75 ms       1.75 ms
latency p90                        2.50 ms       2.50 ms
latency p95                        2.50 ms       2.50 ms
latency p99                        2.50 ms       2.50 ms
latency p99.9                      2.50 ms       2.50 ms
latency max                        2.50 ms       2.50 ms
ratio <50 bytes                      0.968         1.000
ratio 50-100 bytes                   0.988         2.000
ratio 100-200 bytes                  1.154         2.000
ratio 200-500 bytes                  1.053         2.000
ratio 500-2000 bytes                     -             -
ratio 2000+ bytes                        -             -
latency percentiles: linear interpolation between closest ranks (numpy 'linear'); latency counts from the send (closed loop) or the scheduled send (open loop)

[aura] methods: UNCOMPRESSED 4, AURALITE 4
[aura] LOSSY: 4 of 8 messages did not survive decompress(compress(m)) == m (AURALITE 4)
[deflate] methods: DEFLATE 6, UNCOMPRESSED 2
[deflate] errors: timeout 1
corpus share: ai 100% of 4, human 100% of 4
users: 2, messages per user min 4 median 4.0 max 4; reconnects 0, failovers 0"""


def test_text_summary_is_exactly_the_golden_text():
    summary = summarise(golden_frame(), primary_codec="aura")
    assert format_summary(summary, title="run golden (complete)") == GOLDEN
