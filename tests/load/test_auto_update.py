"""An offline run (the codecs in this process) is the online run without sockets; the
peer's ``--auto-update`` mines templates after a run and a later run loads them
(``--templates-from RUN``), and each manifest says which library its codecs used."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import aura_lab
from aura_lab.cli import main
from aura_lab.errors import InputError

PEER = dict(profile="peer", users=8, think_time="0", quiet=True, progress=False)


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """An offline peer-profile run, seed 1, that mined templates from its traffic."""
    return aura_lab.run(**PEER, seed=1, codecs="aura,deflate-stream", offline=True, auto_update=True,
                        trace_dir=str(tmp_path_factory.mktemp("mined")), run_id="mined")  # fmt: skip


def _sizes(run) -> pd.Series:
    df = run.rows(codec=None)
    return df.set_index(["codec", "user_id", "turn"])["compressed_size"].astype("Int64").sort_index()


def test_offline_run_matches_the_online_run_message_for_message(mined, tmp_path):
    online = aura_lab.run(**PEER, seed=1, codecs="aura,deflate-stream", trace_dir=str(tmp_path))
    pd.testing.assert_series_equal(_sizes(mined), _sizes(online))
    assert mined.traces["server_url"].astype(str).str.startswith("inprocess://").all()
    assert any("offline" in note for note in mined.manifest.notes)


def test_auto_update_saves_mined_templates_beside_the_run(mined):
    path = mined.path / "mined_templates.json"
    patterns = json.loads(path.read_text(encoding="utf-8"))
    record = mined.manifest.files["mined_templates"]
    assert record["templates"] == len(patterns) > 0 and record["mined_from_texts"] > 0
    assert all(int(t) >= 1000 and "{0}" in p for t, p in patterns.items())
    installed = set(aura_lab.load_templates(None)._patterns.values())
    assert not installed & set(patterns.values())  # what AURA holds already is left out
    assert aura_lab.load_run(mined.path).manifest.files["mined_templates"] == record


def test_templates_from_loads_them_into_the_next_runs_aura_codec(mined, tmp_path):
    again = aura_lab.run(**PEER, seed=2, codecs="aura,deflate-stream", offline=True, templates_from=str(mined.path),
                         trace_dir=str(tmp_path))  # fmt: skip
    primary = again.primary_codec
    assert primary.startswith("aura:templates=") and primary.endswith("mined_templates.json")
    library = again.manifest.files["codec_templates"][primary]
    added = len(json.loads((mined.path / "mined_templates.json").read_text(encoding="utf-8")))
    assert library["templates_added"] == added and library["templates"] == 74 + added
    assert library["templates_sha256"] == mined.manifest.files["mined_templates"]["sha256"]
    assert mined.manifest.files["codec_templates"] == {"aura": {"templates_file": None, "templates": 74}}
    # the codec's templates are its own: the traffic is what the same seed gives without them
    plain = aura_lab.run(**PEER, seed=2, codecs="aura", offline=True, trace_dir=str(tmp_path / "plain"))
    texts = [run.rows().sort_values(["user_id", "turn"])["text"].tolist() for run in (again, plain)]
    assert texts[0] == texts[1]
    assert again.manifest.templates_from == "aura_compression.TemplateLibrary (installed)"


def test_templates_from_on_the_command_line(mined, tmp_path, capsys):
    """``aura-lab run --templates-from RUN`` always failed: the command line gave the aura
    codec its templates, then ``run`` did it again and refused a codec that had them."""
    code = main(["run", "--profile", "peer", "--users", "2", "--turns", "2-3", "--think-time", "0", "--codec", "aura",
                 "--templates-from", str(mined.path), "--trace-dir", str(tmp_path), "--run-id", "cli",
                 "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    codecs = aura_lab.load_run(tmp_path / "cli").manifest.files["codec_templates"]
    (library,) = codecs.values()
    assert library["templates_sha256"] == mined.manifest.files["mined_templates"]["sha256"]


def test_templates_from_errors_name_the_flag(mined, tmp_path, capsys):
    with pytest.raises(InputError, match="no aura codec"):
        aura_lab.run(**PEER, codecs="deflate", offline=True, templates_from=str(mined.path), trace_dir=str(tmp_path))
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "manifest.json").write_text("{}", encoding="utf-8")
    code = main(["run", "--codec", "aura", "--templates-from", str(bare), "--trace-dir", str(tmp_path), "--quiet"])
    assert code == 2
    assert "--templates-from: run" in capsys.readouterr().err
    with pytest.raises(InputError, match="offline run has no servers"):
        aura_lab.run(offline=True, urls="ws://127.0.0.1:9")


def test_auto_update_command(tmp_path, capsys):
    code = main(["run", "--profile", "peer", "--users", "4", "--think-time", "0", "--codec", "aura",
                 "--auto-update", "--trace-dir", str(tmp_path), "--run-id", "cli"])  # fmt: skip
    assert code == 0
    assert (tmp_path / "cli" / "mined_templates.json").is_file()
    assert "--templates-from" in capsys.readouterr().out


def _code_logs(path):
    """ShareGPT logs whose messages hold code: ``{0}``-style format fields, ``{x}``, ``}{``."""
    said = [
        ("Why does '{{2}}' print for item{i} in my format string?", "Because item{i} has no field {{1}} to fill."),
        ("The dict {{x}} is empty for key{i} again", "Check that key{i} was set before you read {{x}} back."),
        ("My regex }}{{ fails on line{i} of the file", "The }}{{ on line{i} needs a backslash before each brace."),
    ]
    conversations = [
        {"id": f"c{i}", "conversations": [turn for human, ai in said for turn in
                                          ({"from": "human", "value": human.format(i=i)},
                                           {"from": "gpt", "value": ai.format(i=i)})]}
        for i in range(12)
    ]  # fmt: skip
    path.write_text(json.dumps(conversations), encoding="utf-8")
    return path


def test_auto_update_of_logs_holding_code_writes_the_templates_it_can(tmp_path, capsys):
    """Mining real logs with code failed after the run (exit 2, no file): a message's own
    ``{2}`` went into a pattern, where it reads as a slot with a gap before it (and a
    message's ``{1}`` became a slot it is not)."""
    logs = _code_logs(tmp_path / "code.json")
    code = main(["run", "--replay", str(logs), "--users", "12", "--codec", "identity", "--think-time", "0",
                 "--auto-update", "--trace-dir", str(tmp_path), "--run-id", "code", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    path = tmp_path / "code" / "mined_templates.json"
    library = aura_lab.load_templates(path)  # loads back
    patterns = set(library._patterns.values())
    assert any("{x}" in p for p in patterns) and any("}{" in p for p in patterns)  # other braces are text
    # a message's own {2} (a gap before it) and {1} (a slot it is not) are in no pattern
    assert not any("'{2}'" in p or "field {1}" in p for p in patterns)
    record = aura_lab.load_run(tmp_path / "code").manifest.files["mined_templates"]
    assert record["templates"] == len(patterns) and record["left_out_literal_slots"] >= 1
    texts = aura_lab.load_run(tmp_path / "code").rows()["text"]
    assert sum(library.match(t) is not None for t in texts) >= 24  # they reproduce the messages they came from
