"""Routing snapshots into cases on a real database file (SPEC §2 snapshots, §3 routing, §4 events)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from exq_core import queries, services
from exq_core.errors import FeedInvalid, StaleCase
from exq_core.ingest import import_file
from exq_core.models import DecisionRequest, State
from exq_core.queries.cases import load_case
from exq_core.rules import DEFAULT_RULES_PATH, load_rules

from tests.feeds import counts, snapshot
from tests.sql import kept_and_recounted

NOW = datetime(2026, 11, 27, 12, 0, 0)
RULES = load_rules(DEFAULT_RULES_PATH)
T1, T2, T3 = "2026-11-27T09:00:00Z", "2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z"


def load(store, path, now=NOW, **kw):
    return import_file(store, path, rules=RULES, now=now, **kw)


def case_rows(store, order_id: str) -> list[dict]:
    with store.read() as cur:
        rows = cur.execute("SELECT * FROM cases WHERE order_id = ? ORDER BY case_id", [order_id]).fetchall()
        names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in rows]


def events(store, order_id: str) -> list[tuple]:
    with store.read() as cur:
        return cur.execute("""SELECT e.kind, e.from_state, e.to_state, e.detail, e.actor FROM events e
                              JOIN cases c USING (case_id) WHERE c.order_id = ? ORDER BY e.event_id""",
                           [order_id]).fetchall()


def test_first_import_opens_cases_and_counts_routine(store, feed):
    path = feed([
        {"order_id": "A", "updated_at": T1},                                       # routine
        {"order_id": "B", "updated_at": T1, "items_available": "0"},               # inventory
        {"order_id": "C", "updated_at": T1, "risk_level": "high", "return_requested": "true"},
        {"order_id": "D", "updated_at": T1, "customer_tier": "vip"},               # valuable only: routine
    ])
    result = load(store, path)
    assert (result.rows, result.orders_new, result.routine, result.cases_new) == (4, 4, 2, 2)
    assert result.cases_new_by_bucket == {"inventory_conflict": 1, "fraud_risk": 1}
    [b] = case_rows(store, "B")
    assert (b["bucket"], list(b["flags"]), list(b["rules_fired"])) == ("inventory_conflict", [], ["inventory"])
    assert b["state"] == "new" and b["version"] == 1 and not b["condition_cleared"]
    assert b["rules_version"] == RULES.full_version
    assert b["opened_at"] == datetime(2026, 11, 27, 9, 0)               # the snapshot time, not import time
    assert b["sla_due_at"] == b["opened_at"] + timedelta(hours=8)
    [c] = case_rows(store, "C")
    assert (c["bucket"], list(c["flags"])) == ("fraud_risk", ["return_damage"])
    assert c["sla_due_at"] == c["opened_at"] + timedelta(hours=2)
    assert events(store, "B") == [("opened", None, "new", "rules: inventory", "system")]
    assert case_rows(store, "A") == [] and case_rows(store, "D") == []
    with store.read() as cur:
        k = queries.kpis(cur, NOW)
    assert (k["orders"], k["routine"], k["exceptions"], k["open"]) == (4, 2, 2, 2)


def test_stored_priorities_are_rewritten_only_where_the_rules_changed_them(store, feed):
    """The static priority is stored when a case opens; syncing it with the rules writes only the cases whose
    value differs (a first import must not rewrite every case it has just stored)."""
    from exq_core.routing import sync_static_priority
    from exq_core.rules import parse_rules
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0", "order_total": "250.00",
                       "amount_paid": "250.00"},
                      {"order_id": "C", "updated_at": T1, "risk_level": "high"},
                      {"order_id": "E", "updated_at": T1, "risk_level": "high", "order_total": "10.00"}]))

    def stored() -> dict:
        with store.read() as cur:
            return dict(cur.execute("SELECT order_id, static_priority FROM cases").fetchall())
    before = stored()

    def static(bucket: str, total: float) -> float:     # SPEC §3: bucket weight + value points
        return RULES.buckets[bucket].weight + min(20, 5 * math.log10(1 + total))
    assert before == pytest.approx({"B": static("inventory_conflict", 250), "C": static("fraud_risk", 100),
                                    "E": static("fraud_risk", 10)})
    with store.unit_of_work() as uow:
        uow.execute("DELETE FROM meta WHERE key = 'priority_rules'")      # never stored: all are checked
        assert sync_static_priority(uow, RULES) == 0                        # ... and none differs
        uow.commit()
    assert stored() == before
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    weight = RULES.buckets["fraud_risk"].weight
    heavier = parse_rules(text.replace(f"[buckets.fraud_risk]\nsla_hours = 2\nweight = {weight:g}",
                                       f"[buckets.fraud_risk]\nsla_hours = 2\nweight = {weight + 7:g}"))
    assert heavier.buckets["fraud_risk"].weight == weight + 7
    with store.unit_of_work() as uow:
        assert sync_static_priority(uow, heavier) == 2                      # the two fraud cases only
        assert sync_static_priority(uow, heavier) == 0                      # stored: nothing left to do
        uow.commit()
    assert stored() == before | {"C": before["C"] + 7, "E": before["E"] + 7}


def test_the_orders_that_have_a_case_are_searchable_and_routine_ones_are_not(store, feed):
    """The Queue searches cases: an import marks the orders that have a case searchable, whether the case is
    new, open with its condition cleared or resolved, and leaves a routine order unmarked. PostgreSQL's mark
    is a lower-cased copy of the order's text (trigram-indexed); DuckDB's a flag, its search reading the
    columns themselves."""
    from exq_core.queries import QueueFilter
    from tests.sql import write

    def found(text: str, **kw) -> set[str]:
        with store.read() as cur:
            rows, _ = queries.queue_page(cur, RULES, NOW, QueueFilter(text=text, include_waiting=True, **kw))
        return set(rows["order_id"])

    def mark(order_id: str):
        column = "search_text" if store.is_postgres else "searchable"
        with store.read() as cur:
            return cur.scalar(f"SELECT {column} FROM orders WHERE order_id = ?", [order_id])

    load(store, feed([{"order_id": "R-1", "updated_at": T1, "customer_message": "Zebra crossing"},
                      {"order_id": "X-1", "updated_at": T1, "items_available": "0", "customer_message": "Zebra stripes"},
                      {"order_id": "X-2", "updated_at": T1, "risk_level": "high", "ship_name": "Quokka Q"}], "1.csv"))
    assert mark("R-1") in (None, False)       # no search looks at a routine order
    assert mark("X-1") == ("x-1\x1fc1\x1fa@example.com\x1fada lovelace\x1fzebra stripes" if store.is_postgres
                           else True)
    assert found("zebra") == {"X-1"} and found("quokka") == {"X-2"}
    # R-1 now fires a rule: it opens a case and is found; X-1 no longer fires: its open case (condition
    # cleared) is still found; X-2's case is resolved: found among the resolved cases
    write(store, "UPDATE cases SET state = 'resolved', resolved_at = ?, resolution_reason = 'verified' "
                 "WHERE order_id = 'X-2'", [NOW])
    load(store, feed([{"order_id": "R-1", "updated_at": T2, "customer_message": "Zebra crossing",
                       "payment_status": "failed"},
                      {"order_id": "X-1", "updated_at": T2, "items_available": "9", "customer_message": "Zebra stripes"},
                      {"order_id": "X-2", "updated_at": T2, "risk_level": "low", "ship_name": "Quokka Q"}], "2.csv"))
    assert found("zebra") == {"R-1", "X-1"} and case_rows(store, "X-1")[0]["condition_cleared"]
    assert found("quokka") == set() and found("quokka", states=["resolved"]) == {"X-2"}
    assert all(mark(order_id) not in (None, False) for order_id in ("R-1", "X-1", "X-2"))
    # any of its fields, whatever the case of the letters: the name, the e-mail, the order id
    assert found("ADA LOVE") == found("a@example") == {"R-1", "X-1"}
    assert found("x-2", states=["resolved"]) == {"X-2"} and found("X-") == {"X-1"}


def test_duckdb_stores_a_mostly_routine_feeds_searchable_orders_ahead_of_the_routine_ones(store, feed):
    """DuckDB: in an import of mostly routine orders, the orders with a case are appended before the rest,
    so a search can skip the routine orders' row groups by their `searchable` statistics; in a feed of
    mostly cases they are stored in one pass (nothing to skip), flagged all the same."""
    if store.is_postgres:
        pytest.skip("DuckDB's row groups (PostgreSQL searches a trigram index)")

    def positions(source: str) -> tuple[list[int], list[int]]:
        with store.read() as cur:
            rows = cur.execute("SELECT rowid, searchable FROM orders WHERE source = ? ORDER BY rowid",
                               [source]).fetchall()
        return [r for r, s in rows if s], [r for r, s in rows if not s]

    # one order in five has a case, spread through the file
    load(store, feed([{"order_id": f"M-{i}", "updated_at": T1, "items_available": "0" if i % 5 == 0 else "5"}
                      for i in range(400)], "mostly-routine.csv"), source="mostly-routine")
    searchable, routine = positions("mostly-routine")
    assert len(searchable) == 80 and len(routine) == 320
    assert max(searchable) < min(routine)
    # four in five have a case: flagged right in one pass
    load(store, feed([{"order_id": f"C-{i}", "updated_at": T1, "items_available": "5" if i % 5 == 0 else "0"}
                      for i in range(400)], "mostly-cases.csv"), source="mostly-cases")
    searchable, routine = positions("mostly-cases")
    assert len(searchable) == 320 and len(routine) == 80
    with store.read() as cur:
        assert cur.scalar("SELECT count(*) FROM orders o WHERE searchable IS DISTINCT FROM EXISTS "
                          "(SELECT 1 FROM cases c WHERE c.source = o.source AND c.order_id = o.order_id)") == 0


def test_a_snapshot_from_the_future_opens_the_case_now(store, feed):
    load(store, feed([{"order_id": "F", "updated_at": "2026-11-28T00:00:00Z", "items_available": "0"}]))
    assert case_rows(store, "F")[0]["opened_at"] == NOW


def test_condition_cleared_keeps_the_case_open(store, feed, tmp_path):
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0"}], "1.csv"))
    [before] = case_rows(store, "B")
    result = load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "9"}], "2.csv"))
    assert (result.orders_updated, result.cases_new, result.cases_updated, result.routine) == (1, 0, 1, 0)
    [after] = case_rows(store, "B")
    assert after["case_id"] == before["case_id"]
    assert after["condition_cleared"] and after["state"] == "new"
    assert after["version"] == before["version"] + 1
    assert after["resolved_at"] is None and after["resolution_reason"] is None
    assert after["bucket"] == "inventory_conflict"             # why it was opened stays visible
    assert events(store, "B")[-1] == ("condition_cleared", "new", "new", "no rule fires on the new snapshot",
                                      "system")
    with store.read() as cur:
        assert queries.kpis(cur, NOW)["open"] == 1
        df, total = queries.queue_page(cur, RULES, NOW)
    assert total == 1 and bool(df.iloc[0]["condition_cleared"])

    # the same still-clear condition again: logged as an update, not a second "cleared"
    load(store, feed([{"order_id": "B", "updated_at": T3, "items_available": "8"}], "3.csv"))
    assert events(store, "B")[-1][0] == "snapshot_updated"
    # and firing again lifts the flag
    load(store, feed([{"order_id": "B", "updated_at": "2026-11-27T11:30:00Z", "items_available": "0"}], "4.csv"))
    [again] = case_rows(store, "B")
    assert not again["condition_cleared"] and again["version"] == before["version"] + 3
    assert events(store, "B")[-1][0] == "rerouted"


@pytest.mark.parametrize("older", [T1, "2026-11-27T09:59:59Z", T2])   # older, and the same time
def test_an_older_snapshot_is_ignored(store, feed, older):
    load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "0"}], "new.csv"))
    before = snapshot(store)
    result = load(store, feed([{"order_id": "B", "updated_at": older, "items_available": "9",
                                "risk_level": "high"}], "old.csv"))
    same_time = older == T2          # other facts at the stored time: a conflict, never "older"
    assert (result.orders_new, result.orders_updated, result.orders_stale, result.conflicts) == \
        (0, 0, 0 if same_time else 1, 1 if same_time else 0)
    assert result.cases_new == 0 and result.cases_updated == 0
    after = snapshot(store)
    for table in ("orders", "cases", "events", "decisions"):
        assert after[table] == before[table], table
    assert after["imports"][0] == before["imports"][0] + 1    # only the import itself is recorded


def test_a_newer_snapshot_reroutes(store, feed):
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0", "order_total": "10",
                       "amount_paid": "10"}], "1.csv"))
    [before] = case_rows(store, "B")
    load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "0", "risk_score": "0.8",
                       "order_total": "20", "amount_paid": "20"}], "2.csv"))
    [after] = case_rows(store, "B")
    assert (after["bucket"], list(after["flags"])) == ("fraud_risk", ["inventory_conflict"])
    assert list(after["rules_fired"]) == ["fraud", "inventory"]
    assert after["opened_at"] == before["opened_at"]                    # the SLA clock does not restart
    assert after["sla_due_at"] == before["opened_at"] + timedelta(hours=2)
    assert float(after["order_total"]) == 20
    assert after["version"] == before["version"] + 1
    assert events(store, "B")[-1] == ("rerouted", "new", "new", "rules: fraud, inventory", "system")


def test_a_snapshot_changing_nothing_that_matters_still_bumps_the_version(store, feed):
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0"}], "1.csv"))
    load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "0", "ship_city": "Dallas"}], "2.csv"))
    [after] = case_rows(store, "B")
    assert after["version"] == 2 and events(store, "B")[-1][0] == "snapshot_updated"


def test_a_reviewer_deciding_on_facts_that_changed_is_refused(store, feed, reviewer):
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0"}], "1.csv"))
    [case] = case_rows(store, "B")
    claimed = services.claim(store, case["case_id"], reviewer, NOW)
    load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "1"}], "2.csv"))
    request = DecisionRequest(case_id=claimed.case_id, case_version=claimed.version, to_state=State.ESCALATED,
                              action="escalate_to_manager")
    with pytest.raises(StaleCase):
        services.decide(store, request, reviewer, NOW)
    [after] = case_rows(store, "B")
    assert after["state"] == "in_review" and after["assignee"] == "sam"     # the claim survives the update


def _resolve(store, order_id, actor):
    [case] = [c for c in case_rows(store, order_id) if c["state"] != "resolved"]
    claimed = services.claim(store, case["case_id"], actor, NOW)
    services.decide(store, DecisionRequest(case_id=claimed.case_id, case_version=claimed.version,
                                           to_state=State.RESOLVED, resolution_reason="stock_reallocated",
                                           evidence="WMS transfer TR-00001234"), actor, NOW)


def test_resolved_case_same_rule_again_opens_nothing(store, feed, manager):
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0"}], "1.csv"))
    _resolve(store, "B", manager)
    before = snapshot(store)
    result = load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "1"}], "2.csv"))
    assert result.cases_new == 0 and result.cases_updated == 0
    assert snapshot(store)["cases"] == before["cases"]                   # a resolved case is never touched


def test_resolved_case_new_rule_opens_a_new_case(store, feed, manager):
    load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0"}], "1.csv"))
    _resolve(store, "B", manager)
    result = load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "0",
                                "return_requested": "true"}], "2.csv"))
    assert result.cases_new_by_bucket == {"inventory_conflict": 1}
    old, new = case_rows(store, "B")
    assert old["state"] == "resolved" and new["state"] == "new" and new["case_id"] > old["case_id"]
    assert list(new["rules_fired"]) == ["inventory", "returns"]


def test_routing_is_set_based_for_many_orders(store, feed):
    rows = [{"order_id": f"O{i}", "updated_at": T1, "items_available": "0" if i % 3 == 0 else "5"}
            for i in range(300)]
    result = load(store, feed(rows))
    assert result.cases_new == 100 and result.routine == 200
    assert counts(store)["events"] == 100


def test_rerouting_stored_orders_under_new_rules(store, feed):
    """route_changed on orders already stored (read back from `orders`, no import batch): a stricter
    fraud threshold re-routes an open case and opens one for a formerly routine order."""
    from exq_core.routing import route_changed
    from exq_core.rules import parse_rules
    load(store, feed([{"order_id": "A", "risk_score": "0.6"}, {"order_id": "B", "risk_score": "0.6",
                       "items_available": "0"}]))
    strict = parse_rules(DEFAULT_RULES_PATH.read_text().replace("risk_score_at_least = 0.75",
                                                                "risk_score_at_least = 0.5"))
    with store.unit_of_work() as uow:
        uow.execute("CREATE TEMP TABLE changed AS SELECT source, order_id FROM orders")
        result = route_changed(uow.cursor, strict, "changed", NOW, "maria")
        uow.execute("DROP TABLE changed")
        uow.commit()
    assert result.cases_new_by_bucket == {"fraud_risk": 1} and result.cases_updated == 1
    [a] = case_rows(store, "A")
    [b] = case_rows(store, "B")
    assert a["bucket"] == "fraud_risk" and a["rules_version"] == strict.full_version
    assert (b["bucket"], list(b["flags"]), b["version"]) == ("fraud_risk", ["inventory_conflict"], 2)
    assert events(store, "B")[-1] == ("rerouted", "new", "new", "rules: fraud, inventory", "maria")


def test_the_overviews_counts_over_history_follow_every_import_and_decision(store, feed, manager):
    """The Overview reads its counts over all of history from tallies kept by imports, routing and decisions:
    after new orders, updated ones, an order's first case, a second case of an order, a file imported again,
    a partial import, another source, cases resolved and one reopened, they are what counting every row
    gives, and the Overview shows them."""
    def check():
        kept, fresh = kept_and_recounted(store)
        assert kept == fresh
        with store.read() as cur:
            data = queries.overview(cur, NOW)
        return data["orders"], data["exceptions"], data["routine"]

    assert check() == (0, 0, 0)
    load(store, feed([{"order_id": "A", "updated_at": T1}, {"order_id": "B", "updated_at": T1,
                                                            "items_available": "0"}], "1.csv"))
    assert check() == (2, 1, 1)
    load(store, feed([{"order_id": "A", "updated_at": T2, "risk_level": "high"},        # routine: first case
                      {"order_id": "C", "updated_at": "2026-11-20T08:00:00Z"}], "2.csv"))
    assert check() == (3, 2, 1)
    _resolve(store, "B", manager)
    assert check() == (3, 2, 1)
    load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "0",       # a second case of B
                       "return_requested": "true"}], "3.csv"))
    assert len(case_rows(store, "B")) == 2 and check() == (3, 2, 1)
    load(store, feed([{"order_id": "B", "updated_at": T2, "items_available": "0",
                       "return_requested": "true"}], "3.csv"))                            # the same file again
    assert check() == (3, 2, 1)
    load(store, feed([{"order_id": "D", "updated_at": "2026-11-01T08:00:00Z", "items_available": "0"},
                      {"order_id": "E", "updated_at": "not a time"}], "4.csv"), skip_invalid=True)
    assert check() == (4, 3, 1)
    load(store, feed([{"order_id": "A", "updated_at": T1, "items_available": "0"}], "5.csv"), source="other")
    assert check() == (5, 4, 1)
    _resolve(store, "D", manager)
    [old_b, _] = case_rows(store, "B")
    with store.read() as cur:
        resolved_b = load_case(cur, old_b["case_id"])
    services.decide(store, DecisionRequest(case_id=resolved_b.case_id, case_version=resolved_b.version,
                                           to_state=State.IN_REVIEW, note="Customer disputes."), manager,
                    NOW + timedelta(days=1))                                              # reopened a day later
    assert check() == (5, 4, 1)
    with store.read() as cur:
        data = queries.overview(cur, NOW)
    assert data["by_bucket"]["inventory_conflict"]["resolved"] == 1                       # D's; B's reopened
    assert sum(d["resolved"] for d in data["per_day"]) == 1


def test_a_failed_import_changes_no_count(store, feed):
    load(store, feed([{"order_id": "A", "updated_at": T1, "items_available": "0"}], "1.csv"))
    with pytest.raises(FeedInvalid):
        load(store, feed([{"order_id": "B", "updated_at": T1, "items_available": "0"},
                          {"order_id": "C", "updated_at": "not a time"}], "2.csv"))
    with store.read() as cur:
        assert cur.execute("SELECT name, n FROM tallies ORDER BY name").fetchall() == \
            [("opened@2026-11-27", 1), ("orders", 1), ("orders_with_case", 1)]
