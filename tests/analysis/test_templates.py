import pandas as pd
import pytest

from aura_lab.analysis.templates import best_worst, template_codec_matrix, template_table
from tests.support.traces import frame_from_records, trace_frame


def _records(template_id, ratios, fillings, codec="deflate", method="DEFLATE"):
    return [
        {
            "codec": codec,
            "template_id": template_id,
            "template_ids": [template_id],
            "slot_values": [list(f)],
            "status": "ok",
            "method": method,
            "ratio": r,
        }
        for r, f in zip(ratios, fillings)
    ]


def test_table_matches_the_trace():
    df = trace_frame()
    table = template_table(df, n_boot=200)
    ok = df[(df["status"] == "ok") & df["template_id"].notna()]
    for codec in ("aura", "deflate"):
        part = table[table["codec"] == codec]
        assert part["uses"].sum() == (ok["codec"] == codec).sum()
        expected = ok[ok["codec"] == codec].groupby("template_id")["ratio"].mean()
        got = part.set_index("template_id")["mean_ratio"]
        assert got.to_dict() == pytest.approx(expected.to_dict())
    several = table[table["uses"] > 1]
    assert (several["mean_ratio_low"] <= several["mean_ratio"]).all()
    assert (several["mean_ratio"] <= several["mean_ratio_high"]).all()
    assert (several["median_ratio_low"] <= several["median_ratio_high"]).all()
    once = table[table["uses"] == 1]
    assert len(once) and once[["mean_ratio_low", "mean_ratio_high", "median_ratio_low"]].isna().all().all()
    for mix in table["method_mix"]:
        assert sum(mix.values()) == pytest.approx(1.0)
        assert all(m == m.upper() for m in mix)
    assert set(table[table["codec"] == "deflate"]["top_method"]) == {"DEFLATE"}


def test_slot_diversity_flags_churn_against_a_uniform_draw():
    records = (
        _records(20, [2.0] * 5, [("a", "b")] * 4 + [("c", "d")])  # 2 fillings / 5 uses
        + _records(21, [1.0, 1.2, 1.4, 1.6, 1.8], [("x",), ("y",), ("z",), ("w",), ("x",)])
        + _records(22, [1.0] * 3, [("q",)] * 3)  # repeats, but only 3 uses
        + _records(1, [0.9] * 6, [()] * 6)  # "No": no slots
    )
    space = {20: 10, 21: 10, 22: 10}  # fillings the generator could draw for each
    table = template_table(frame_from_records(records), n_boot=100, slot_space=space).set_index("template_id")
    assert table.loc[20, "slot_diversity"] == pytest.approx(0.4)
    assert table.loc[20, "expected_fillings"] == pytest.approx(10 * (1 - 0.9**5))
    assert table.loc[20, "low_diversity"]
    assert table.loc[20, "top_slot_values"] == ["a | b", "c | d"]
    assert table.loc[21, "slot_diversity"] == pytest.approx(0.8) and not table.loc[21, "low_diversity"]
    assert table.loc[21, "diversity_vs_uniform"] == pytest.approx(4 / (10 * (1 - 0.9**5)))
    assert table.loc[21, "top_slot_values"][0] == "x"
    assert table.loc[22, "slot_diversity"] == pytest.approx(1 / 3) and not table.loc[22, "low_diversity"]
    assert pd.isna(table.loc[1, "slot_diversity"]) and not table.loc[1, "low_diversity"]
    assert table.loc[21, "median_ratio"] == pytest.approx(1.4)


def test_errors_and_untemplated_rows_are_left_out():
    records = _records(30, [2.0, 2.0], [("a",), ("b",)])
    records += [
        {"codec": "deflate", "template_id": 30, "status": "error", "ratio": None},
        {"codec": "deflate", "template_id": None, "status": "ok", "ratio": 5.0},
    ]
    table = template_table(frame_from_records(records), n_boot=50)
    assert table["uses"].tolist() == [2] and table["mean_ratio"].tolist() == [2.0]


def test_best_worst_orders_by_mean_ratio():
    records = [
        r
        for tid, ratio in enumerate([1.0, 3.0, 2.0, 0.5, 4.0], start=40)
        for r in _records(tid, [ratio] * (2 if tid != 44 else 1), [("v",)] * 2)
    ]
    table = template_table(frame_from_records(records), n_boot=50)
    best, worst = best_worst(table, n=2)
    assert best["template_id"].tolist() == [44, 41]
    assert worst["template_id"].tolist() == [43, 40]
    best, _ = best_worst(table, n=2, min_uses=2)
    assert best["template_id"].tolist() == [41, 42]


def test_template_codec_matrix():
    df = trace_frame()
    matrix = template_codec_matrix(df)
    assert list(matrix.columns) == ["aura", "deflate"]
    ok = df[(df["status"] == "ok") & df["template_id"].notna()]
    tid = int(ok["template_id"].iloc[0])
    expected = ok[(ok["template_id"] == tid) & (ok["codec"] == "aura")]["ratio"].mean()
    assert matrix.loc[tid, "aura"] == pytest.approx(expected)
    assert len(matrix) == ok["template_id"].nunique()
