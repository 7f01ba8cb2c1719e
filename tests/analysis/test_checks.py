"""``--check`` expressions: parsed before anything runs, judged against the figures, and
a figure nobody measured fails as "not checked"."""

from __future__ import annotations

import pytest

from aura_lab.analysis.checks import EXIT_CHECK_FAILED, check_scopes, evaluate, parse_check, parse_checks
from aura_lab.analysis.summary import summarise
from aura_lab.errors import InputError
from tests.support.traces import frame_from_records, trace_frame


def test_expressions_parse():
    check = parse_check("aura:roundtrip_failures==0")
    assert (check.codec, check.metric, check.op, check.threshold) == ("aura", "roundtrip_failures", "==", 0)
    assert parse_check(" safe_ratio >= 1.2 ").codec is None
    assert parse_check("p99.9_ms<20").metric == "p99.9_ms"
    assert parse_check("delivered_rate>=99.5%").threshold == pytest.approx(0.995)
    assert parse_check("deflate-stream:ratio>1e0").threshold == 1.0
    assert parse_checks(None) == []
    assert EXIT_CHECK_FAILED == 99


@pytest.mark.parametrize(
    "text, says",
    [
        ("ratio", "cannot read"),
        ("ratio=>1", "cannot read"),
        ("ratio>=", "cannot read"),
        ("ratio >= one", "cannot read"),
        ("speed>=1", "unknown metric 'speed'"),
        ("p99_ms<20%", "only a _rate metric"),
        ("regressions==0", "unknown metric"),  # only compare has it
    ],
)
def test_bad_expressions_are_refused_with_the_fix(text, says):
    with pytest.raises(InputError) as error:
        parse_check(text)
    assert says in str(error.value) and "--check" in str(error.value)


def test_scopes_must_name_a_codec_of_the_run():
    check_scopes([parse_check("aura:ratio>1")], ["aura", "deflate"])
    with pytest.raises(InputError, match="not in this run"):
        check_scopes([parse_check("brotli:ratio>1")], ["aura", "deflate"])


def test_checks_against_a_real_summary():
    summary = summarise(trace_frame(), primary_codec="aura")
    aura, deflate = summary["codecs"]["aura"], summary["codecs"]["deflate"]
    outcomes = evaluate(
        parse_checks(
            [
                "roundtrip_failures==0",
                "deflate:roundtrip_failures==0",
                f"deflate:ratio>={deflate['overall_ratio']}",
                "p99_ms<100000",
                "aura:safe_ratio>100",
                "zstd-dict:ratio>1",
            ]
        ),
        summary,
    )
    assert [o.passed for o in outcomes] == [False, True, True, True, False, False]
    assert outcomes[0].codec == "aura" and outcomes[0].value == aura["roundtrip_failures"]
    assert f"aura roundtrip_failures = {aura['roundtrip_failures']}" in outcomes[0].message
    assert "no codec 'zstd-dict'" in outcomes[5].message


def test_a_check_on_a_figure_nobody_measured_fails_as_not_checked():
    rows = [
        {"phase": "main", "codec": "peer", "user_id": i, "turn": 0, "status": "ok", "original_size": 100,
         "compressed_size": 50,
         "ratio": 2.0, "roundtrip_ok": None, "method": "BRIO"}
        for i in range(4)
    ]  # fmt: skip
    summary = summarise(frame_from_records(rows))
    outcomes = evaluate(parse_checks(["roundtrip_failures==0", "safe_ratio>=1", "ratio>=1.5", "hit_rate>=0"]), summary)
    assert [o.passed for o in outcomes] == [False, False, True, False]
    assert "not checked" in outcomes[0].message and "--verify" in outcomes[0].message
    assert outcomes[0].value is None
    assert "n/a" in outcomes[3].message


def test_compare_checks_count_regressions():
    summary = summarise(trace_frame())
    checks = parse_checks(["regressions==0", "aura:regressions==0"], compare=True)
    assert [o.passed for o in evaluate(checks, summary, regressions={"aura": 1, "deflate": 0})] == [False, False]
    assert [o.passed for o in evaluate(checks, summary, regressions={"aura": 0, "deflate": 0})] == [True, True]
