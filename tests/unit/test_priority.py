"""Priority and queue order (SPEC §3), computed by DuckDB for constructed cases.

priority = bucket_weight + value_points + urgency_points
  bucket_weight  fraud 50, vip 40, payment 30, inventory 25, address 20, return 10
  value_points   min(20, 5·log10(1 + order_total))
  urgency_points 30 once the SLA is breached, else round(20 · elapsed / sla)
Queue order: priority descending, then oldest first. The expected numbers below are worked out by hand.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from exq_core import queries
from exq_core.rules import DEFAULT_RULES_PATH, load_rules, parse_rules
from exq_core.store import open_store, Store
from tests.sql import write

NOW = datetime(2026, 11, 27, 12, 0, 0)
RULES = load_rules(DEFAULT_RULES_PATH)


@pytest.fixture
def mem():
    s = open_store(":memory:")
    yield s
    s.close()


def add_case(store: Store, case_id: int, bucket: str, total: str, age: timedelta, state: str = "new",
             rules=RULES, **extra) -> None:
    opened = NOW - age
    due = opened + timedelta(hours=rules.sla_hours(bucket))
    fields = {"case_id": case_id, "source": "t", "order_id": f"O-{case_id}", "bucket": bucket, "flags": [],
              "rules_fired": ["x"], "rules_version": "v", "state": state, "version": 1, "opened_at": opened,
              "sla_due_at": due, "updated_at": opened, "order_total": total} | extra
    write(store, f"INSERT INTO cases ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
          list(fields.values()))


def detail(store, case_id, rules=RULES, now=NOW):
    with store.read() as cur:
        return queries.case_detail(cur, rules, case_id, now)


def page(store, rules=RULES, now=NOW, **filters):
    with store.read() as cur:
        df, total = queries.queue_page(cur, rules, now, queries.QueueFilter(**filters))
    return df, total


@pytest.mark.parametrize("bucket, total, age, weight, value, urgency", [
    # fraud, 99: 5·log10(100) = 10; 30 min of a 2 h SLA: round(20 · 0.25) = 5
    ("fraud_risk", "99", timedelta(minutes=30), 50, 10.0, 5),
    # payment, 9: 5·log10(10) = 5; 12 min of 8 h: 20 · 0.025 = 0.5, rounds half up to 1
    ("payment_mismatch", "9", timedelta(minutes=12), 30, 5.0, 1),
    # payment, 9: 11 min 59 s of 8 h: 0.4993 rounds to 0
    ("payment_mismatch", "9", timedelta(minutes=11, seconds=59), 30, 5.0, 0),
    # return, 999: 5·log10(1000) = 15; 47 h of 48 h: 19.58 -> 20
    ("return_damage", "999", timedelta(hours=47), 10, 15.0, 20),
    # vip, 999999: 5·6 = 30 capped at 20; exactly at the SLA due time is not yet breached: 20
    ("vip_revenue", "999999", timedelta(hours=4), 40, 20.0, 20),
    # inventory, 0: log10(1) = 0; one second past the SLA: 30
    ("inventory_conflict", "0", timedelta(hours=8, seconds=1), 25, 0.0, 30),
    # address, 0.5: 5·log10(1.5) = 0.8805; 3 h of 12 h: 5
    ("address_problem", "0.5", timedelta(hours=3), 20, 5 * math.log10(1.5), 5),
    # fraud just opened: no urgency yet; 9999 -> 5·4 = 20 exactly
    ("fraud_risk", "9999", timedelta(0), 50, 20.0, 0),
    # long breached return: still 30, not more
    ("return_damage", "1", timedelta(days=30), 10, 5 * math.log10(2), 30),
])
def test_priority_terms(mem, bucket, total, age, weight, value, urgency):
    add_case(mem, 1, bucket, total, age)
    case = detail(mem, 1)
    assert case["bucket_weight"] == weight
    assert case["value_points"] == pytest.approx(value, abs=1e-9)
    assert case["urgency_points"] == urgency
    assert case["priority"] == pytest.approx(weight + value + urgency, abs=1e-9)
    df, _ = page(mem)
    row = df.iloc[0]
    assert row["priority"] == round(weight + value + urgency, 1)
    assert (row["bucket_weight"], row["urgency_points"]) == (weight, urgency)
    assert row["value_points"] == pytest.approx(round(value, 2))
    assert bool(row["breached"]) is (urgency == 30)


def test_queue_order_is_priority_then_oldest_first(mem):
    # fraud fresh: 50 + 10 + 0 = 60
    add_case(mem, 1, "fraud_risk", "99", timedelta(0))
    # inventory breached: 25 + 10 + 30 = 65 -> escalated above the fresh fraud case
    add_case(mem, 2, "inventory_conflict", "99", timedelta(hours=9))
    # return breached twice with the same total: 10 + 10 + 30 = 50 each; the older first
    add_case(mem, 3, "return_damage", "99", timedelta(hours=50))
    add_case(mem, 4, "return_damage", "99", timedelta(hours=60))
    # vip half-way: 40 + 10 + 10 = 60, same as case 1 but older -> before it
    add_case(mem, 5, "vip_revenue", "99", timedelta(hours=2))
    # address: 20 + 0 + 0 = 20
    add_case(mem, 6, "address_problem", "0", timedelta(0))
    df, total = page(mem)
    assert total == 6
    assert list(df["case_id"]) == [2, 5, 1, 4, 3, 6]
    assert list(df["priority"]) == [65.0, 60.0, 60.0, 50.0, 50.0, 20.0]
    with mem.read() as cur:
        assert queries.next_unclaimed(cur, RULES, NOW) == 2


def test_same_priority_and_same_age_falls_back_to_case_id(mem):
    for case_id in (9, 7, 8):
        add_case(mem, case_id, "payment_mismatch", "10", timedelta(hours=1))
    df, _ = page(mem)
    assert list(df["case_id"]) == [7, 8, 9]


def test_priority_is_recomputed_as_time_passes(mem):
    add_case(mem, 1, "fraud_risk", "0", timedelta(0))
    assert [detail(mem, 1, now=NOW + timedelta(minutes=m))["urgency_points"] for m in (0, 30, 60, 90, 120, 121)] \
        == [0, 5, 10, 15, 20, 30]


def test_queue_leaves_out_resolved_and_parked_cases(mem):
    add_case(mem, 1, "fraud_risk", "10", timedelta(hours=1))
    add_case(mem, 2, "fraud_risk", "10", timedelta(hours=1), state="resolved", resolution_reason="x",
             resolved_at=NOW)
    add_case(mem, 3, "fraud_risk", "10", timedelta(hours=1), state="waiting", follow_up_at=NOW + timedelta(hours=1))
    add_case(mem, 4, "fraud_risk", "10", timedelta(hours=2), state="waiting", follow_up_at=NOW - timedelta(hours=1))
    df, total = page(mem)
    assert total == 2 and list(df["case_id"]) == [4, 1]   # a waiting case whose follow-up passed is back


def test_weights_and_points_come_from_the_rules_file(mem):
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    text = text.replace("breach_points = 30", "breach_points = 100").replace("value_cap = 20", "value_cap = 3")
    text = text.replace("[buckets.return_damage]\nsla_hours = 48\nweight = 10",
                        "[buckets.return_damage]\nsla_hours = 48\nweight = 75")
    rules = parse_rules(text)
    add_case(mem, 1, "return_damage", "99", timedelta(hours=49), rules=rules)
    case = detail(mem, 1, rules=rules)
    assert (case["bucket_weight"], case["value_points"], case["urgency_points"]) == (75, 3, 100)
    assert case["priority"] == 178


def test_aging_bands_breaches_and_kpis(mem):
    """Age bands < 4h, 4–24h, 1–3d, 3–7d, > 7d (lower bound inclusive); breached once past the SLA due time."""
    ages = {1: timedelta(hours=3, minutes=59), 2: timedelta(hours=4), 3: timedelta(hours=23, minutes=59),
            4: timedelta(hours=24), 5: timedelta(hours=72), 6: timedelta(hours=168), 7: timedelta(days=30)}
    for case_id, age in ages.items():
        add_case(mem, case_id, "return_damage", "10", age)          # SLA 48 h
    add_case(mem, 8, "return_damage", "10", timedelta(days=40), state="resolved", resolved_at=NOW)
    add_case(mem, 9, "fraud_risk", "10", timedelta(hours=2))        # exactly at its 2 h SLA: not breached
    with mem.read() as cur:
        stats = queries.stats(cur, NOW)
    assert stats["aging"]["return_damage"] == {"< 4h": 1, "4–24h": 2, "1–3d": 1, "3–7d": 1, "> 7d": 2}
    assert stats["aging"]["fraud_risk"] == {"< 4h": 1, "4–24h": 0, "1–3d": 0, "3–7d": 0, "> 7d": 0}
    assert stats["breached_by_bucket"]["return_damage"] == 3 and stats["breached_by_bucket"]["fraud_risk"] == 0
    assert stats["by_bucket"]["return_damage"] == {"new": 7, "in_review": 0, "waiting": 0, "escalated": 0,
                                                   "resolved": 1}
    assert (stats["open"], stats["breached"], stats["resolved_today"]) == (8, 3, 1)
    assert stats["oldest_open_hours"] == 30 * 24
