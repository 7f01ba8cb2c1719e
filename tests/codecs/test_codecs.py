"""Codecs on their own: registry, round trips, per-connection state, zstd training."""

from __future__ import annotations

import hashlib
import json
import sys
import zlib

import pytest

from aura_lab.codecs import CODECS, Codec, codec_names, get_codec
from aura_lab.errors import InputError
from aura_lab.wire.protocol import templates_reply

# One conversation, both sides, in order (the AI side is longer, as in real chat).
CONVERSATION = [
    "hey, can you help me with a python question?",
    "Of course! I'd be happy to help with your Python question. What are you working on?",
    "I'm trying to read a big CSV file but pandas runs out of memory",
    "That's a common problem with large files. Here are a few options: 1) read the file "
    "in chunks with pd.read_csv(path, chunksize=100_000), 2) load only the columns you "
    "need with usecols=[...], and 3) give pandas smaller dtypes, e.g. dtype={'id': 'int32'}.",
    "chunks sounds good. how do I combine the results?",
    "You can process each chunk and collect the partial results in a list, then combine "
    "them with pd.concat(results). If you only need an aggregate, keep a running total "
    "instead so that memory stays flat.",
    "ok and what if I need to group by a column?",
    "For a group-by across chunks, aggregate each chunk with groupby().sum() and then "
    "group the concatenated partial results again. Sums and counts combine this way; "
    "for a mean, keep the sum and the count and divide at the end.",
    "makes sense, thanks!",
    "You're welcome! Let me know if you run into any other issues with pandas.",
    "actually one more thing: the file has dates in two different formats",
    "Mixed date formats are tricky. You can parse with pd.to_datetime(col, format='mixed') "
    "in pandas 2.0 or later, or try one format first with errors='coerce' and fill the "
    "remaining NaT values by parsing them with the second format.",
    "we're on pandas 1.5 unfortunately",
    "In that case the two-pass approach is the way to go: parse with the first format and "
    "errors='coerce', then parse the rows that came back as NaT with the second format, "
    "and combine the two with fillna().",
    "cool, I'll try that",
    "Sounds good! If the formats are ambiguous (like 01/02/2024), make sure you know which "
    "one is day-first before you parse, otherwise some dates will silently swap.",
    "good point, they're all US style I think",
    "Then dayfirst=False (the default) is what you want. It's still worth checking a few "
    "rows by hand after parsing, especially around the start of each month.",
    "will do. is there a way to speed up read_csv itself?",
    "Yes: engine='pyarrow' is often several times faster in pandas 1.4 or later, and "
    "passing explicit dtypes avoids type inference. Converting the file to Parquet once "
    "and reading that afterwards is usually the biggest win.",
    "parquet it is. thanks a lot!",
    "Happy to help! Good luck with the data, and feel free to come back if anything else comes up.",
]

EDGE_MESSAGES = [
    "a",  # one byte
    "x" * 35,  # exactly the default min_compression_size
    "Ünïcödé façade naïve café — déjà vu, smörgåsbord, 日本語のテキスト",
    "Great question! 🎉🚀 Here's the plan: 1️⃣ read, 2️⃣ think, 3️⃣ answer 👍🏽",
    ("The quick brown fox jumps over the lazy dog while the model streams tokens. " * 1400)[:100_000],
]

# A long plain sentence that matches none of aura's templates: its fallback path.
AURA_FALLBACK_MESSAGE = "I walked to the station this morning and the train was late again, as usual."

STANDARD = ["deflate", "deflate-stream", "zstd-dict", "brotli", "identity"]

# Training text for zstd-dict: other messages than the ones measured.
TRAINING_MESSAGES = [
    f"Sure! Here's how to handle case {i}: check the input first, then call the function "
    f"with the right arguments, and finally look at the result in pandas or numpy."
    for i in range(30)
] + [f"thanks, that worked for file {i}. what about the next one?" for i in range(20)]


def write_training(path, messages=TRAINING_MESSAGES, key="message"):
    path.write_text("".join(json.dumps({key: m}) + "\n" for m in messages), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def training_file(tmp_path_factory):
    return write_training(tmp_path_factory.mktemp("zstd") / "zstd_training.jsonl")


def make_codec(name, training_file, **options) -> Codec:
    if name == "zstd-dict":
        options.setdefault("training", training_file)
    return get_codec(name, **options)


@pytest.fixture(scope="session")
def aura_codec(tmp_path_factory):
    codec = get_codec("aura", workdir=tmp_path_factory.mktemp("aura-scratch"))
    yield codec
    codec.close()


def test_registry_lists_every_codec():
    assert codec_names() == list(CODECS)
    assert {"aura", "deflate", "deflate-stream", "zstd-dict", "brotli", "identity"} <= set(CODECS)


def test_unknown_codec_names_the_valid_ones():
    with pytest.raises(InputError) as err:
        get_codec("lz5")
    assert "lz5" in str(err.value)
    for name in codec_names():
        assert name in str(err.value)


def test_unknown_option_names_the_accepted_ones():
    with pytest.raises(InputError, match="quality"):
        get_codec("brotli", qualiti=5)
    with pytest.raises(InputError, match=r"0\.\.11"):
        get_codec("brotli", quality=12)


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "aura_lab.codecs.brotli_codec", raising=False)
    monkeypatch.setitem(sys.modules, "brotli", None)  # as if it were not installed
    with pytest.raises(InputError, match="pip install brotli"):
        get_codec("brotli")


@pytest.mark.parametrize("name", STANDARD)
@pytest.mark.parametrize("message", CONVERSATION + EDGE_MESSAGES, ids=lambda m: f"{len(m)}ch")
def test_standard_codecs_round_trip_each_message(name, message, training_file):
    codec = make_codec(name, training_file)
    result = codec.compress(message, codec.new_connection_state())
    assert isinstance(result.data, bytes)
    assert result.method == result.method.upper()
    assert codec.decompress(result.data, None) == message


@pytest.mark.parametrize("name", STANDARD)
def test_standard_codecs_round_trip_a_conversation_on_one_state(name, training_file):
    codec = make_codec(name, training_file)
    sender, receiver = codec.new_connection_state(), codec.new_connection_state()
    for message in CONVERSATION + EDGE_MESSAGES:
        assert codec.decompress(codec.compress(message, sender).data, receiver) == message


@pytest.mark.parametrize("name", [*STANDARD, "aura"])
def test_info_and_version_are_json(name, training_file, aura_codec):
    codec = aura_codec if name == "aura" else make_codec(name, training_file)
    assert codec.name == name
    assert isinstance(codec.package_version, str) and codec.package_version
    json.dumps(codec.info())
    json.dumps(codec.templates())


def test_deflate_stream_needs_the_same_state_in_order(training_file):
    codec = get_codec("deflate-stream")
    sender = codec.new_connection_state()
    first = codec.compress(CONVERSATION[1], sender)
    second = codec.compress(CONVERSATION[1], sender)  # refers back to the first
    assert len(second.data) < len(first.data) / 2
    with pytest.raises((zlib.error, UnicodeDecodeError)):
        codec.decompress(second.data, codec.new_connection_state())


@pytest.mark.parametrize("name", ["deflate-stream", "zstd-stream", "zstd-stream:dict_size=4096"])
def test_streams_of_two_connections_keep_apart(name):
    """Interleaved connections: each client decodes its own stream alone, with a state of
    its own, and a message repeated from the other connection is not compressed against it."""
    codec = get_codec(name)
    a, b = codec.new_connection_state(), codec.new_connection_state()
    sent = []
    for state, text in ((a, CONVERSATION[1]), (b, CONVERSATION[3]), (a, CONVERSATION[3]), (b, CONVERSATION[1])):
        sent.append((state, codec.compress(text, state).data, text))
    client = get_codec(name)
    for state in (a, b):
        own = client.new_connection_state()
        assert [client.decompress(data, own) for s, data, _ in sent if s is state] == [
            text for s, _, text in sent if s is state
        ]
    first_on_a, repeated_from_b = sent[1][1], sent[2][1]
    assert len(repeated_from_b) > len(first_on_a) * 0.5  # B's text is new to A's history


def test_deflate_stream_beats_deflate_over_a_conversation():
    def ratio(codec):
        state = codec.new_connection_state()
        total = sum(len(m.encode()) for m in CONVERSATION)
        return total / sum(len(codec.compress(m, state).data) for m in CONVERSATION)

    assert ratio(get_codec("deflate-stream")) > ratio(get_codec("deflate")) * 1.1


def test_deflate_matches_permessage_deflate_framing():
    data = get_codec("deflate").compress(CONVERSATION[3]).data
    assert not data.endswith(b"\x00\x00\xff\xff")


def test_zstd_dict_info_states_dictionary_and_training_hash(training_file):
    codec = get_codec("zstd-dict", training=training_file, level=5)
    info = codec.info()
    assert info["level"] == 5
    assert 0 < info["dict_size_bytes"] <= 16 * 1024
    assert info["dict_size_requested"] == 16 * 1024
    assert info["training_sha256"] == hashlib.sha256(training_file.read_bytes()).hexdigest()
    assert info["training_messages"] == len(TRAINING_MESSAGES)


def test_zstd_dict_works_from_a_tiny_training_set(tmp_path):
    tiny = write_training(tmp_path / "tiny.jsonl", ["hello there", "how are you today?"], key="text")
    codec = get_codec("zstd-dict", training=tiny)
    assert codec.info()["dict_kind"] == "raw content"
    assert "too small" in codec.info()["note"]
    assert codec.decompress(codec.compress(CONVERSATION[1]).data) == CONVERSATION[1]


def test_zstd_dict_training_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(InputError, match="not found"):
        get_codec("zstd-dict", training=tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"message": "fine"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:2"):
        get_codec("zstd-dict", training=bad)


def test_brotli_states_its_quality():
    assert get_codec("brotli").info()["quality"] == 11
    assert get_codec("brotli", quality=5).info()["quality"] == 5


def test_identity_is_always_uncompressed():
    result = get_codec("identity").compress(CONVERSATION[0])
    assert result.method == "UNCOMPRESSED" and result.data == CONVERSATION[0].encode()


def test_aura_has_templates_and_reports_its_own_method(aura_codec):
    patterns = aura_codec.templates()
    assert len(patterns) > 50 and all(isinstance(t, int) and isinstance(p, str) for t, p in patterns.items())
    records = templates_reply(patterns)  # what GET /templates serves
    assert records and {"id", "pattern", "slots"} <= set(records[0])
    result = aura_codec.compress(CONVERSATION[1])
    assert result.method == result.method.upper()
    assert isinstance(result.metadata, dict)


def test_aura_fallback_path_loses_the_message(aura_codec):
    """aura-compression 2.0.2: a fallback-path message of >= 35 bytes does not come back
    (and its UNCOMPRESSED output is 13 bytes larger than the message). The lab reports it."""
    result = aura_codec.compress(AURA_FALLBACK_MESSAGE)
    assert result.method == "UNCOMPRESSED"
    assert len(result.data) == len(AURA_FALLBACK_MESSAGE.encode()) + 13
    try:
        decoded = aura_codec.decompress(result.data)
    except Exception:
        return
    assert decoded != AURA_FALLBACK_MESSAGE


def test_aura_leaves_no_files_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    codec = get_codec("aura")
    codec.compress(AURA_FALLBACK_MESSAGE)
    workdir = codec.workdir
    codec.close()
    assert list(tmp_path.iterdir()) == []
    assert not workdir.exists()
