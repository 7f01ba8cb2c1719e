"""``aura:templates=FILE`` adds templates to AURA's own library; ``aura:metadata=FILE`` is
refused with its reason (aura-compression 2.0.2 reads no metadata)."""

from __future__ import annotations

import json

import pytest

from aura_lab.codecs import parse_codec
from aura_lab.errors import InputError

# AURA's library only tries templates whose literal length is near the message's (its
# length buckets), so the test messages keep their slot values short
MESSAGE = 'The JSON {"key": 12} was sent to the server today'
PATTERN = 'The JSON {"key": {0}} was sent to the server today'  # literal braces: escaped for str.format


def _file(tmp_path, patterns: dict) -> str:
    path = tmp_path / "mined.json"
    path.write_text(json.dumps({str(k): v for k, v in patterns.items()}), encoding="utf-8")
    return str(path)


def test_added_template_encodes_a_message_the_plain_library_does_not(tmp_path):
    spec = f"aura:templates={_file(tmp_path, {1001: PATTERN, 1002: 'I can help with {0}.'})}"
    codec, plain = parse_codec(spec).build(), parse_codec("aura").build()
    try:
        result = codec.compress(MESSAGE)
        assert (result.method, result.template_id) == ("BINARY_SEMANTIC", 1001)
        assert len(result.data) < len(MESSAGE.encode())
        assert codec.decompress(result.data) == MESSAGE
        assert 1001 in codec.templates() and 1001 not in plain.templates()
        assert plain.compress(MESSAGE).method != "BINARY_SEMANTIC"
        info = codec.info()
        # "I can help with {0}." is AURA's own template 25: skipped, not added twice
        assert (info["templates_added"], info["templates_skipped"]) == (1, 1)
        assert len(info["templates_sha256"]) == 64 and info["templates_file"].endswith("mined.json")
    finally:
        codec.close()
        plain.close()


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        ({5: "Something else {0} here"}, "AURA's own template"),
        ({70000: "Too big an id {0} here"}, "two bytes"),
        ({1003: "Gap {0} then {2}"}, "without gaps"),
    ],
)
def test_bad_template_files_are_clear_errors(tmp_path, patterns, expected):
    with pytest.raises(InputError, match=expected):
        parse_codec(f"aura:templates={_file(tmp_path, patterns)}").build()


def test_missing_templates_file_fails_when_the_spec_is_parsed(tmp_path):
    with pytest.raises(InputError, match=r"templates file .* not found"):
        parse_codec(f"aura:templates={tmp_path / 'absent.json'}")


def test_metadata_option_is_refused_with_its_reason():
    with pytest.raises(InputError, match="reads no template metadata") as err:
        parse_codec("aura:metadata=corpora/metadata.json")
    assert "--metadata" in str(err.value)


def test_aura_matches_templates_in_linear_time_and_as_its_regex_did(tmp_path):
    """AURA's regex (a lazy group per slot) backtracked exponentially on a text that does
    not match ``{0} {1} {0} {1} ... end``: 44 s for 119 bytes. The codec gives each record
    of its library a linear matcher; on AURA's own templates it finds what the regex did."""
    import time

    from aura_compression.templates import TemplateRecord

    pattern = "{0} {1} {0} {1} {0} {1} {0} {1} {0} {1} end"
    codec = parse_codec(f"aura:templates={_file(tmp_path, {1000: pattern})}").build()
    try:
        library = codec._compressor.template_library
        started = time.monotonic()
        assert library._records[1000].match(" ".join(["ab"] * 40)[:119]) is None
        assert time.monotonic() - started < 0.5
        for tid, record in library._records.items():
            values = [f"v{i} and more" for i in range(len(record.slot_order))]
            texts = [record.pattern.format(*values)]
            texts += [texts[0] + " with a tail", "x " + texts[0], texts[0].replace("v0", "v0\nv0")]
            for text in texts:
                if tid != 1000:  # the regex of the hostile pattern is the thing that hangs
                    assert record.match(text) == TemplateRecord.match(record, text), (tid, text)
        # a whitespace variant AURA registers later gets the linear matcher too
        variant = library.ensure_whitespace_variant(1000, "  ", "")
        started = time.monotonic()
        assert library._records[variant].match("  " + " ".join(["ab"] * 40)[:119]) is None
        assert time.monotonic() - started < 0.5
    finally:
        codec.close()
