import re

import numpy as np
import pandas as pd
import pytest

from aura_lab.analysis.compare import compare_codecs, compare_runs, pair_users
from aura_lab.cli import main
from aura_lab.traces.writer import TraceWriter
from tests.support.traces import frame_from_records, trace_frame


def _main_phase():
    df = trace_frame()
    return df[df["phase"] == "main"].reset_index(drop=True)


def test_compare_codecs_matches_the_trace():
    df = trace_frame()
    table = compare_codecs(df).set_index("codec")
    assert table.index.tolist() == ["aura", "deflate"]
    for codec in ("aura", "deflate"):
        rows = df[df["codec"] == codec]
        ok = rows[rows["status"] == "ok"]
        assert table.loc[codec, "messages"] == len(rows)
        assert table.loc[codec, "overall_ratio"] == pytest.approx(
            ok["original_size"].sum() / ok["compressed_size"].sum()
        )
        assert table.loc[codec, "mean_ratio"] == pytest.approx(ok["ratio"].mean())
        assert table.loc[codec, "error_rate"] == pytest.approx(1 - len(ok) / len(rows))
        assert table.loc[codec, "latency_p50_ms"] == pytest.approx(ok["latency_ms"].median())
        assert table.loc[codec, "roundtrip_failure_rate"] == pytest.approx((~ok["roundtrip_ok"]).mean())
    assert table.loc["deflate", "roundtrip_failure_rate"] == 0
    assert table.loc["aura", "roundtrip_failure_rate"] > 0.2  # docs/peer.md: aura's fallback path is lossy
    assert compare_codecs(df, phase="warmup")["messages"].tolist() == [80, 80]


def test_same_run_has_no_regression():
    df = _main_phase()
    table = compare_runs(df, df, n_boot=200)
    assert len(table) == 2 * 7 and not table["regression"].any()
    assert (table["delta"].fillna(0) == 0).all()
    assert ((table["delta_low"] <= 0) & (table["delta_high"] >= 0)).all()


def _worse_ratio(df, factor=1.25):
    worse = df.copy()
    compressed = (worse["compressed_size"].astype("float") * factor).round().astype("Int64")
    worse["compressed_size"] = compressed
    worse["ratio"] = worse["original_size"].astype(float) / compressed.astype(float)
    return worse


def test_lower_ratio_is_a_regression_with_an_interval_below_zero():
    df = _main_phase()
    table = compare_runs(df, _worse_ratio(df), n_boot=200).set_index(["codec", "metric"])
    for codec in ("aura", "deflate"):
        row = table.loc[(codec, "overall_ratio")]
        assert row["relative_delta"] == pytest.approx(-0.2, abs=0.01)
        assert row["regression"] and row["worse"] and row["delta_high"] < 0
        assert not table.loc[(codec, "latency_p99_ms"), "regression"]
    # the reverse is an improvement, not a regression
    assert (
        not compare_runs(_worse_ratio(df), df, n_boot=50).set_index("metric").loc["overall_ratio", "regression"].any()
    )


def test_latency_and_error_direction():
    df = _main_phase()
    slower = df.assign(latency_ms=df["latency_ms"] * 1.5)
    table = compare_runs(df, slower, n_boot=100, judge_latency=True).set_index(["codec", "metric"])
    assert table.loc[("deflate", "latency_p50_ms"), "regression"]
    assert not table.loc[("deflate", "overall_ratio"), "regression"]
    # by default latency is shown, worse, but not judged (the machine's load is not in the interval)
    shown = compare_runs(df, slower, n_boot=100).set_index(["codec", "metric"]).loc[("deflate", "latency_p50_ms")]
    assert shown["worse"] and not shown["judged"] and not shown["regression"]
    faster = compare_runs(slower, df, n_boot=100, judge_latency=True).set_index(["codec", "metric"])
    assert not faster.loc[("deflate", "latency_p50_ms"), "regression"]
    # from no errors to 20 % errors: relative change undefined, absolute 0.2 > 0.10
    clean = df[df["status"] == "ok"].reset_index(drop=True)
    failing = clean.copy()
    failing["status"] = failing["status"].astype(str).where(failing.index % 5 != 0, "error").astype("category")
    table = compare_runs(clean, failing, n_boot=100).set_index(["codec", "metric"])
    assert table.loc[("aura", "error_rate"), "a"] == 0
    assert table.loc[("aura", "error_rate"), "regression"]
    assert pd.isna(table.loc[("aura", "error_rate"), "relative_delta"])


def _write_run(df, folder):
    with TraceWriter(folder / "traces") as writer:
        for record in df.astype(object).where(df.notna(), None).to_dict("records"):
            for name in ("scheduled_at", "sent_at", "received_at"):
                record[name] = None if record[name] is None else record[name].value
            record["template_ids"] = None if record["template_ids"] is None else list(record["template_ids"])
            record["slot_values"] = None if record["slot_values"] is None else [list(v) for v in record["slot_values"]]
            writer.write(record)
    return folder


def test_cli_exit_codes(tmp_path, capsys):
    df = trace_frame(n=150, codecs=("deflate",), warmup=20)
    run_a = _write_run(df, tmp_path / "run_a")
    run_b = _write_run(_worse_ratio(df), tmp_path / "run_b")
    assert main(["compare", str(run_a), str(run_a), "--n-boot", "50"]) == 0
    assert main(["compare", str(run_a), str(run_b), "--n-boot", "50"]) == 1
    out = capsys.readouterr()
    assert "REGRESSION" in out.out and "overall_ratio" in out.out
    assert main(["compare", str(run_a), str(run_b), "--threshold", "0.5", "--n-boot", "50"]) == 0
    assert main(["compare", str(run_a), str(tmp_path / "missing")]) == 2
    assert main(["compare", str(run_a), str(run_b), "--threshold", "0"]) == 2
    assert "--threshold" in capsys.readouterr().err


def _users(ratios_by_user, per_user=20, first_user=0, scale=1.0):
    """Records of users whose messages share a ratio (a user's conversation is alike)."""
    records = []
    for k, ratio in enumerate(ratios_by_user):
        for turn in range(per_user):
            records.append({"phase": "main", "codec": "deflate", "user_id": first_user + k, "turn": turn,
                            "text": f"u{first_user + k} t{turn}", "status": "ok", "original_size": 1000,
                            "compressed_size": round(1000 / (ratio * scale)), "ratio": ratio * scale,
                            "latency_ms": 1.0, "roundtrip_ok": True})  # fmt: skip
    return frame_from_records(records)


def test_the_interval_is_over_conversations_not_messages():
    """Six users, each with its own ratio: resampling messages would treat 120 messages
    as independent and give an interval several times too narrow."""
    ratios = [1.0, 1.4, 1.8, 2.2, 2.6, 3.0]
    a, b = _users(ratios), _users(ratios[::-1], first_user=100)
    row = compare_runs(a, b, n_boot=400).set_index("metric").loc["overall_ratio"]
    assert not row["paired"] and row["delta_low"] < 0 < row["delta_high"]
    width = row["delta_high"] - row["delta_low"]
    rng = np.random.default_rng(0)

    def by_message(df):
        o, c = df["original_size"].to_numpy(float), df["compressed_size"].to_numpy(float)
        idx = rng.integers(0, len(df), (400, len(df)))
        return o[idx].sum(1) / c[idx].sum(1)

    naive = np.percentile(by_message(b) - by_message(a), [2.5, 97.5])
    assert width > 2 * (naive[1] - naive[0])


def test_a_regression_needs_the_whole_interval_beyond_the_threshold():
    """12 % worse on average: with users that differ a lot and no pairing the interval
    reaches back inside 10 %, so it is 'worse', not a regression; the same change on the
    same conversations (paired) is one."""
    ratios = [1.0, 1.5, 2.5, 3.5, 1.2, 3.0]
    a = _users(ratios)
    other_users = _users(ratios, first_user=100, scale=0.88)
    row = compare_runs(a, other_users, n_boot=400).set_index("metric").loc["overall_ratio"]
    assert row["worse"] and not row["regression"] and row["change_high"] > -0.10
    same_users = _users(ratios, scale=0.88)
    row = compare_runs(a, same_users, n_boot=400).set_index("metric").loc["overall_ratio"]
    assert row["paired"] and row["regression"] and row["change_high"] < -0.10


def test_set_up_differences_are_listed_and_missing_manifests_said():
    from aura_lab.analysis.setups import setup_differences
    from aura_lab.traces.folder import Manifest, ServerInfo

    def manifest(**options):
        base = {"users": 5, "think_time": "0", "seed": 1, "trace_dir": "x", "quiet": True}
        health = {"codec_info": {"level": 6, "workdir": "/tmp/a"}, "min_compression_size": 35}
        server = ServerInfo("ws://x", "deflate", True, health)
        files = {"corpus": {"sha256": "c1"}}
        return Manifest("r", options={**base, **options}, seed=options.get("seed", 1), files=files, servers=[server])

    assert setup_differences(manifest(), manifest(trace_dir="elsewhere", quiet=False)) == []
    got = {d["setting"]: (d["a"], d["b"]) for d in setup_differences(manifest(), manifest(users=10, think_time="0.5"))}
    assert got == {"users": (5, 10), "think_time": ("0", "0.5")}
    other = manifest()
    other.files["corpus"] = {"sha256": "c2"}
    other.servers[0].health = {"codec_info": {"level": 1, "workdir": "/tmp/b"}, "min_compression_size": 35}
    got = {d["setting"] for d in setup_differences(manifest(), other)}
    assert got == {"files.corpus.sha256", "codec.deflate.level"}
    (missing,) = setup_differences(manifest(), None)
    assert "run B has no manifest.json" in missing["note"]


def test_numbers_have_one_precision_per_kind():
    from aura_lab.analysis.compare_text import format_comparison

    df = _main_phase()
    text = format_comparison(compare_runs(df, _worse_ratio(df), n_boot=50))
    ratio_line = next(line for line in text.splitlines() if line.startswith("aura ") and "overall_ratio" in line)
    assert re.search(r"\b\d\.\d{3}\s+\d\.\d{3}\s+-\d+\.\d% \[-\d+\.\d%, -\d+\.\d%\]\s+REGRESSION", ratio_line)
    latency_line = next(line for line in text.splitlines() if "latency_p50_ms" in line)
    assert re.search(r"\d+\.\d{2} ms\s+\d+\.\d{2} ms", latency_line)
    rate_line = next(line for line in text.splitlines() if "error_rate" in line and line.startswith("deflate"))
    assert re.search(r"\d+\.\d%\s+\d+\.\d%", rate_line)


def test_users_are_paired_by_what_they_sent_whatever_their_numbers():
    rows = [(u, t, f"user {u % 3} says {t}") for u in range(6) for t in range(4)]  # users 0 and 3 alike
    a = frame_from_records([{"user_id": u, "turn": t, "text": x, "status": "ok"} for u, t, x in rows])
    b = a.assign(user_id=a["user_id"] + 1)  # the peer's numbering
    pairs = pair_users(a, b)
    assert pairs is not None and sorted(pairs) == [1, 2, 3, 4, 5, 6] and sorted(pairs.values()) == list(range(6))
    assert all(b[b["user_id"] == k]["text"].tolist() == a[a["user_id"] == v]["text"].tolist() for k, v in pairs.items())
    assert pair_users(a, a) == {u: u for u in range(6)}
    changed = b.copy()
    changed.loc[changed.index[5], "text"] = "something else"
    assert pair_users(a, changed) is None
    assert pair_users(a, b.iloc[:-1]) is None
