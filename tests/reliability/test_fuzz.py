"""Reliability: random input files, option values and server replies (hypothesis).
Bad input ends in a clear ``InputError`` (or an error reply kind), never a crash."""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import math
import os
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import aura_lab
from aura_lab import cli
from aura_lab.cli import run as runner_cli
from aura_lab.errors import InputError
from aura_lab.load.records import Clock, build_record
from aura_lab.timing import ThinkTime
from aura_lab.traces.schema import records_to_table
from aura_lab.traffic.generator import GeneratedMessage
from aura_lab.traffic.templates import aura_library, load_template_file
from aura_lab.wire.judge import ERROR_KINDS, Exchange, judge_reply
from tests.support.servers import ScriptedServer, peer_reply

pytestmark = pytest.mark.timeout(60)

FUZZ = settings(deadline=None, max_examples=60, database=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = collections.Counter()  # hypothesis examples run, per test (for the report)

# JSON values, including the awkward ones: huge integers, non-finite floats (JSON's
# ``Infinity``/``NaN`` and 1e400), deep nesting, any text (lone surrogates included).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
# text a WebSocket peer can actually send (no lone surrogates)
frame_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


def _file(folder: str, content: str | bytes) -> str:
    path = os.path.join(folder, "input.json")
    with open(path, "wb") as out:
        out.write(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    return path


# -- metadata files ----------------------------------------------------------------------

LIBRARY = aura_library()
KNOWN_IDS = LIBRARY.ids()[:20]

metadata_entries = st.dictionaries(
    st.sampled_from([str(i) for i in KNOWN_IDS]) | st.text(max_size=6),
    st.fixed_dictionaries(
        {"slot_examples": st.lists(st.lists(st.text(max_size=10) | json_scalars, max_size=3), max_size=3)}
    )
    | json_values,
    max_size=6,
)
metadata_docs = st.fixed_dictionaries(
    {"templates": metadata_entries}, optional={"description": json_values, "version": json_values}
)
raw_texts = st.sampled_from(
    [
        "[" * 3000,
        "1" * 5000,
        '{"templates": {"1": ' + "9" * 5000 + "}}",
        '{"templates": NaN}',
        "\ufeff{}",
        '{"templates": {}}',
    ]
)


def _load_metadata(content) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _file(folder, content)
        try:
            metadata = aura_lab.load_metadata(path, LIBRARY)
        except InputError as err:
            assert path in str(err)  # the message names the file
            return
        assert all(isinstance(w, str) and path in w for w in metadata.warnings)
        for tid, lists in metadata.slot_examples.items():
            assert tid in LIBRARY.ids()
            assert len(lists) == LIBRARY.slot_count(tid)
            assert all(values and all(isinstance(v, str) and v for v in values) for values in lists)


@FUZZ
@given(st.one_of(json_values.map(json.dumps), metadata_docs.map(json.dumps), raw_texts))
def test_metadata_from_random_json_loads_or_raises_input_error(content):
    EXAMPLES["metadata json"] += 1
    _load_metadata(content)


@FUZZ
@given(st.binary(max_size=200))
def test_metadata_from_random_bytes_loads_or_raises_input_error(content):
    EXAMPLES["metadata bytes"] += 1
    _load_metadata(content)


# -- template files ------------------------------------------------------------------------

patterns = st.lists(
    st.text(max_size=8) | st.sampled_from(["{0}", "{1}", "{0}{0}", "{9}", "{01}", "{" + "9" * 5000 + "}", "(", "\\"]),
    max_size=5,
).map("".join)
ids = st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6) | st.none() | st.booleans()
template_docs = st.one_of(
    st.dictionaries(st.integers(-5, 500).map(str) | st.text(max_size=4), patterns | json_values, max_size=5),
    st.lists(st.fixed_dictionaries({"id": ids, "pattern": patterns | json_values}) | json_values, max_size=5),
    st.fixed_dictionaries({"templates": st.lists(st.fixed_dictionaries({"id": ids, "pattern": patterns}), max_size=4)}),
)


def _load_templates(content) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _file(folder, content)
        try:
            library = load_template_file(path)
        except InputError as err:
            assert path in str(err)
            return
        for tid in library.ids():  # a loaded library is usable
            pattern = library.pattern(tid)
            assert isinstance(tid, int) and isinstance(pattern, str) and pattern
            text = library.format(tid, ["x"] * library.slot_count(tid))
            assert isinstance(text, str)


@FUZZ
@given(st.one_of(template_docs.map(json.dumps), json_values.map(json.dumps), raw_texts, st.binary(max_size=100)))
@example('[{"id": 1e400, "pattern": "x"}]')  # an id of inf: int() overflows
@example('{"7": "{1} only"}')  # a slot gap: format() would index past its values
@example('{"7": "{' + "9" * 5000 + '}"}')  # a slot number too long for int()
def test_template_file_loads_or_raises_input_error(content):
    EXAMPLES["template files"] += 1
    _load_templates(content)


# -- option values through the run command's parser and validation ------------------------

NUMERIC_OPTIONS = {
    "--users": int,
    "--turns": str,
    "--think-time": str,
    "--corpus-weight": float,
    "--ai-ratio": float,
    "--explore": float,
    "--timeout": float,
    "--arrival-rate": float,
    "--chunk-tokens": int,
}


def _number_text(kind):
    if kind is int:
        return st.integers(-(10**6), 10**6).map(str)
    return st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.integers(-100, 100).map(str)


def option_values(option):
    kind = NUMERIC_OPTIONS.get(option, str)
    special = {
        "--turns": st.builds(
            lambda a, b, sep: f"{a}{sep}{b}",
            st.integers(-3, 60),
            st.integers(-3, 60),
            st.sampled_from(["-", "", "--", " - ", ".."]),
        ),
        "--think-time": st.builds(
            lambda kind, a, b: f"{kind}:{a},{b}",
            st.sampled_from(["uniform", "lognormal", "x"]),
            st.floats(allow_nan=True, allow_infinity=True, width=32),
            st.floats(allow_nan=True, allow_infinity=True, width=32),
        )
        | st.sampled_from(["0", "none", "uniform:1", "lognormal:1000,1", "lognormal:-1000,9"]),
    }.get(option, _number_text(kind) if kind is not str else st.nothing())
    return special | frame_text


ws_urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["ws", "wss", "http", "WS", ""]),
    st.sampled_from(["127.0.0.1", "localhost", "[::1]", "[::1", "", "ex ample", "h\u2100st", "xn--x"]),
    st.sampled_from(["", ":0", ":8765", ":65536", ":-1", ":x", ":"]),
    st.sampled_from(["", "/", "/a b", "?q=1", "#f"]),
)


@FUZZ
@given(st.data())
def test_option_values_validate_or_name_the_option(data):
    EXAMPLES["run options"] += 1
    option = data.draw(st.sampled_from([*NUMERIC_OPTIONS, "--url"]), label="option")
    value = data.draw(ws_urls | frame_text if option == "--url" else option_values(option), label="value")
    parser = argparse.ArgumentParser(prog="aura-lab run")
    runner_cli.add_arguments(parser)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser.parse_args([f"{option}={value}"])
    except SystemExit as exit_:  # argparse refused the value's type: one usage error
        assert exit_.code == 2 and option in stderr.getvalue()
        return
    try:
        config = runner_cli.config_from_args(args).validate(cli=True)
    except InputError as err:
        assert option in str(err), (option, value, str(err))
        assert "\n" not in str(err)
        return
    # it validated: the values a run will use are usable
    think = ThinkTime.parse(config.think_time)
    import random

    rng = random.Random(1)
    assert all(0 <= think.sample(rng) <= 60 or think.kind in ("uniform", "constant") for _ in range(3))
    assert all(math.isfinite(think.sample(rng)) for _ in range(3))
    assert config.users is None or config.users >= 1  # None: the default, or every logged conversation
    assert config.timeout > 0 and (config.turns is None or 1 <= config.turns[0] <= config.turns[1])


@pytest.mark.parametrize(
    "argv, option",
    [
        (["run", "--users", "0"], "--users"),
        (["run", "--corpus-weight", "nan"], "--corpus-weight"),
        (["run", "--timeout", "-1"], "--timeout"),
        (["run", "--think-time", "uniform:2,1"], "--think-time"),
        (["run", "--url", "http://127.0.0.1:1"], "--url"),
        (["run", "--url", "ws://[::1"], "--url"),
        (["run", "--turns", "9-3"], "--turns"),
        (["run", "--arrival-rate", "0"], "--arrival-rate"),
    ],
)
def test_cli_bad_option_exits_2_with_one_line(argv, option, capsys, tmp_path):
    code = cli.main([*argv, "--trace-dir", str(tmp_path)])
    _out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []  # nothing was started
    EXAMPLES["cli end-to-end"] += 1


# -- server replies ---------------------------------------------------------------------------

TEXT = "Could you summarise the meeting notes from Tuesday in three bullet points?"
GOOD = peer_reply(TEXT, 1)
near_replies = st.builds(
    lambda base, changes, drop: json.dumps({**{k: v for k, v in base.items() if k not in drop}, **changes}),
    st.just(GOOD),
    st.dictionaries(
        st.sampled_from([*GOOD, "error", "template_id", "roundtrip_ok", "compress_us"]), json_values, max_size=3
    ),
    st.sets(st.sampled_from(list(GOOD)), max_size=2),
)
raw_replies = st.one_of(
    frame_text,
    st.binary(max_size=40),
    json_values.map(json.dumps),
    near_replies,
    st.sampled_from(["[" * 3000, "1" * 5000, "Infinity", '{"status": "ok"}' * 2]),
)

MESSAGE = GeneratedMessage(
    user_id=0,
    turn=0,
    n_turns=1,
    role="ai",
    text=TEXT,
    source="corpus",
    template_ids=(),
    slot_values=(),
    target_min=1,
    target_max=500,
)


def record_of(result: Exchange) -> dict:
    """The trace record the engine writes for this outcome (the engine's own code)."""
    return build_record("fuzz", "main", "fuzz", MESSAGE, result, 1, False, Clock(), 0, 0)


@FUZZ
@given(raw_replies)
@example(json.dumps({**GOOD, "compression_ratio": 10**400}))  # int() fine, float() overflows
@example(json.dumps({**GOOD, "status": "error", "error": "\ud800 lone surrogate"}))
@example(json.dumps({**GOOD, "method": "\udfff", "original_size": 2**40}))
def test_any_reply_is_judged_and_recorded_never_raises(raw):
    EXAMPLES["replies"] += 1
    result = judge_reply("ws://127.0.0.1:1", 1, 2, raw, TEXT)
    assert isinstance(result, Exchange)
    assert (result.status, result.error_kind) == ("ok", None) or (
        result.status == "error" and result.error_kind in ERROR_KINDS and result.error
    )
    records_to_table([record_of(result)])  # and its record can be written


ECHOED = {k: st.just(ScriptedServer.ECHO if k == "original_message" else v) for k, v in GOOD.items()}


@pytest.mark.timeout(90)
@settings(deadline=None, max_examples=3, database=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.one_of(
            st.fixed_dictionaries(ECHOED),
            st.fixed_dictionaries(
                {k: v for k, v in ECHOED.items() if k not in ("compression_ratio", "error", "method", "status")},
                optional={
                    "compression_ratio": json_values,
                    "error": json_values,
                    "method": json_values,
                    "status": json_values,
                },
            ),
            raw_replies,
        ),
        min_size=3,
        max_size=8,
    )
)
def test_a_run_against_random_replies_records_every_message(frames):
    """A real run; the server answers from a list of drawn replies, cyclically."""
    EXAMPLES["runs against random replies"] += 1
    with tempfile.TemporaryDirectory() as folder, ScriptedServer(frames) as server:
        run = aura_lab.run(
            users=3,
            turns=(4, 6),
            think_time="0",
            quiet=True,
            progress=False,
            seed=3,
            timeout=2,
            urls=(server.url,),
            trace_dir=folder,
            run_id="scripted",
        )
        df = run.traces
    assert run.status == "complete"
    assert len(df) == run.manifest.planned_messages == server.messages
    assert not df.duplicated(["user_id", "turn", "codec"]).any()
    # each message's record says what judge_reply says of the frame it got
    expected = collections.Counter(judge_reply("u", 1, 2, frame, text).error_kind for text, frame in server.log)
    got = collections.Counter(None if k != k or k is None else str(k) for k in df["error_kind"].astype(object))
    assert got == expected
    summary = run.summary["codecs"]["external"]
    assert summary["ok"] == expected[None] and summary["errors"] == len(df) - expected[None]


def test_zz_report_example_counts():
    """Not a check: prints how many fuzz examples ran (``-s`` shows it)."""
    print("\nfuzz examples run:", dict(EXAMPLES), "total", sum(EXAMPLES.values()))
