import pytest

from aura_lab.analysis.store import simulate_store, store_sweep, template_sequence
from aura_lab.errors import InputError
from tests.support.traces import frame_from_records, trace_frame


def test_lru_keeps_the_recent_lfu_keeps_the_frequent():
    # 1 is used a lot early; then 2, 3, 4 cycle through a store of 2... plus 1 again
    sequence = [1, 1, 1, 2, 3, 1, 4, 2, 1]
    lru = simulate_store(sequence, capacity=2, policy="lru")
    lfu = simulate_store(sequence, capacity=2, policy="lfu")
    # LRU: 1h h, 2m, 3m(ev 1), 1m(ev 2), 4m(ev 3), 2m(ev 1), 1m(ev 4)
    assert (lru.hits, lru.misses, lru.evictions) == (2, 7, 5)
    # LFU: 1 (3 uses) stays: 2m, 3m(ev 2), 1h, 4m(ev 3), 2m(ev 4), 1h
    assert (lfu.hits, lfu.misses, lfu.evictions) == (4, 5, 3)
    assert lfu.hit_rate == pytest.approx(4 / 9)
    assert lru.churn_per_1000 == pytest.approx(1000 * 5 / 9)


def test_large_store_only_misses_first_uses():
    sequence = [1, 2, 3, 1, 2, 3, 4, 1]
    result = simulate_store(sequence, capacity=128, policy="lru")
    assert result.misses == 4 and result.evictions == 0 and result.churn_per_1000 == 0


def test_ttl_expires_idle_templates_and_none_advances_time():
    sequence = [1, None, None, 1, None, None, None, 1]
    result = simulate_store(sequence, capacity=8, policy="ttl", ttl=3)
    # ttl 3: used at t=0, idle for 3 messages by t=3 -> expired, miss; idle 4 by t=7 -> again
    assert result.messages == 8 and result.uses == 3
    assert (result.hits, result.expirations) == (0, 2)
    longer = simulate_store(sequence, capacity=8, policy="ttl", ttl=5)
    assert (longer.hits, longer.expirations) == (2, 0)


def test_bad_arguments():
    with pytest.raises(InputError):
        simulate_store([1], policy="fifo")
    with pytest.raises(InputError):
        simulate_store([1], policy="ttl")
    with pytest.raises(InputError):
        simulate_store([1], capacity=0)


def test_sweep_is_tidy_and_hit_rate_grows_with_capacity():
    sequence = template_sequence(trace_frame(), codec="deflate")
    sweep = store_sweep(sequence, capacities=(2, 8, 32, 128), ttl=100)
    assert len(sweep) == 12 and set(sweep["policy"]) == {"lru", "lfu", "ttl"}
    for _, part in sweep.groupby("policy"):
        rates = part.sort_values("capacity")["hit_rate"].tolist()
        assert rates == sorted(rates)
    assert sweep.loc[sweep["policy"] == "ttl", "ttl"].eq(100).all()
    assert sweep.loc[sweep["policy"] == "lru", "ttl"].isna().all()


def test_template_sequence_in_sent_order():
    ns = 1_700_000_000_000_000_000
    records = [
        {"codec": "aura", "sent_at": ns + 3, "template_id": 30, "server_template_id": 3},
        {"codec": "aura", "sent_at": ns + 1, "template_id": 10, "server_template_id": None},
        {"codec": "aura", "sent_at": ns + 2, "template_id": 20, "server_template_id": 2},
    ]
    df = frame_from_records(records)
    assert template_sequence(df) == [None, 2, 3]  # the server's ids when the trace has any
    assert template_sequence(df, column="template_id") == [10, 20, 30]
    with pytest.raises(InputError, match="codec"):
        template_sequence(trace_frame())
    assert len(template_sequence(trace_frame(), codec="aura")) == 400
