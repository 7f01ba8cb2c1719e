"""Reliability: options that made memory grow without bound. ``--resend-whole`` on one
100 KB reply at ``--chunk-tokens 1`` made 25,000 frames carrying 1.25 G characters
(4.1 GB); an experiment's variant named with 100k-400k characters went into every run id,
folder, table and chart."""

from __future__ import annotations

import json
import resource

import pytest

from aura_lab import cli
from tests.support.processes import aura_lab as start

REPLY = ("The quick brown fox jumps over the lazy dog, then writes it all down. " * 1500)[:100_000]


@pytest.mark.timeout(180)
def test_resend_whole_on_a_100_kb_reply_stays_small(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"messages": [{"role": "user", "content": "Write the long one, please."},
                                            {"role": "assistant", "content": REPLY}]}) + "\n")  # fmt: skip
    process = start("run", "--codec", "identity", "--replay", log, "--framing", "stream", "--chunk-tokens", "1",
                    "--resend-whole", "--think-time", "0", "--trace-dir", tmp_path / "runs", "--run-id", "long",
                    "--quiet", cwd=tmp_path)  # fmt: skip
    _out, err = process.communicate(timeout=170)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest of all children
    assert process.returncode == 0, err
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"
    import aura_lab

    run = aura_lab.load_run(tmp_path / "runs" / "long")
    frames = run.traces[run.traces["frame_index"].notna()]
    assert 100 < len(frames) < 1000 and (frames["status"] == "ok").all()


@pytest.mark.parametrize("where", ["variant", "experiment"])
def test_a_name_of_100k_characters_is_refused_with_one_line(tmp_path, capsys, monkeypatch, where):
    monkeypatch.chdir(tmp_path)  # an experiment that does start writes under ./data
    long = "v" * 100_000
    spec = tmp_path / "spec.toml"
    experiment = f'[experiment]\nname = "{long}"\n' if where == "experiment" else ""
    variant = long if where == "variant" else "deflate"
    spec.write_text(
        f'{experiment}[traffic]\nprofile = "peer"\nusers = 2\n[baseline]\ncodec = "identity"\n'
        f'[[variant]]\nname = "{variant}"\ncodec = "deflate"\n',
        encoding="utf-8",
    )
    code = cli.main(["experiment", str(spec)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err[:300]
    assert "at most 100 characters, got 100,000" in err and len(err) < 400
