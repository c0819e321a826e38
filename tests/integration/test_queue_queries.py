"""The Queue's named queries on a real database: filters agree with the Overview, claim next, saved views,
text search."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from exq_core import queries, services
from exq_core.errors import ExqError
from tests.accounts import ensure_accounts
from exq_core.models import AGE_BANDS, BUCKETS, STATES, Actor, Role
from exq_core.queries import QueueFilter
from exq_core.rules import load_rules
from exq_core.store import utcnow
from tests.sql import reindex_order, write
from ui.format import open_by_bucket


def test_overview_is_stats_plus_the_daily_flow(demo_store):
    now = utcnow()
    with demo_store.read() as cur:
        data = queries.overview(cur, now)
        assert {k: v for k, v in data.items() if k != "per_day"} == queries.stats(cur, now)
    assert len(data["per_day"]) == 30
    opens = open_by_bucket(data["by_bucket"])
    assert list(opens) == [b.value for b in BUCKETS] and sum(opens.values()) == data["open"]


def test_the_daily_flow_and_bucket_counts_are_what_the_cases_say(demo_store):
    """Each backend counts them its own way (PostgreSQL per day over its indexes, open and resolved cases
    apart): the same numbers as the cases' own dates and states, counted here."""
    now = utcnow()
    with demo_store.read() as cur:
        per_day = queries.overview(cur, now)["per_day"]
        by_bucket = queries.by_bucket_state(cur)
        cases = cur.execute("SELECT bucket, state, opened_at, resolved_at FROM cases").fetchall()
    days = [d["day"] for d in per_day]
    assert days == [days[0] + timedelta(days=i) for i in range(30)] and days[-1] == now.date()
    opened = {d: sum(1 for c in cases if c[2].date() == d) for d in days}
    resolved = {d: sum(1 for c in cases if c[3] is not None and c[3].date() == d) for d in days}
    assert sum(opened.values()) and sum(resolved.values())
    assert [(d["opened"], d["resolved"]) for d in per_day] == [(opened[d], resolved[d]) for d in days]
    assert by_bucket == {b.value: {s.value: sum(1 for c in cases if (c[0], c[1]) == (b.value, s.value))
                                   for s in STATES} for b in BUCKETS}


def test_age_band_filter_counts_what_the_aging_chart_shows(demo_store):
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        aging = queries.aging(cur, now)
        for bucket in BUCKETS:
            for band in AGE_BANDS:
                f = QueueFilter(buckets=[bucket], age_band=band, include_waiting=True)
                assert queries.queue_page(cur, rules, now, f)[1] == aging[bucket.value][band], (bucket, band)


def test_breached_filter_counts_what_the_breach_chart_shows(demo_store):
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        breached = queries.breaches_by_bucket(cur, now)
        for bucket in BUCKETS:
            f = QueueFilter(buckets=[bucket], breached_only=True, include_waiting=True)
            assert queries.queue_page(cur, rules, now, f)[1] == breached[bucket.value]


def test_queue_with_every_state_or_snoozed_cases_shown(demo_store):
    """No filter term uses the clock: the count query must still run."""
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        everything = queries.queue_page(cur, rules, now, QueueFilter(states=list(STATES)))[1]
        assert everything == cur.execute("SELECT count(*) FROM cases").fetchone()[0]
        shown = queries.queue_page(cur, rules, now, QueueFilter(include_waiting=True))[1]
        assert shown == cur.execute("SELECT count(*) FROM cases WHERE state <> 'resolved'").fetchone()[0]


def test_snoozed_count(demo_store):
    now = utcnow()
    write(demo_store, "UPDATE cases SET follow_up_at = ? WHERE state = 'waiting'", [now + timedelta(days=1)])
    with demo_store.read() as cur:
        waiting = cur.execute("SELECT count(*) FROM cases WHERE state = 'waiting'").fetchone()[0]
        assert waiting and queries.queue.counts(cur, now, QueueFilter())[1] == waiting
        assert queries.queue.counts(cur, now, QueueFilter(include_waiting=True))[1] == 0
        assert queries.queue.counts(cur, now, QueueFilter(states=["waiting"]))[1] == 0


def test_claim_next_takes_the_top_unclaimed_case(demo_store, reviewer):
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        top = queries.next_unclaimed(cur, rules, now)
    case = services.claim_next(demo_store, rules, reviewer, now=now)
    assert case.case_id == top and case.assignee == reviewer.username
    assert case.state in ("in_review", "escalated")         # new and waiting cases move to review; others stay
    again = services.claim_next(demo_store, rules, reviewer, now=now)
    assert again.case_id != top


def test_claim_next_in_a_view_of_resolved_cases_works_open_ones(demo_store, reviewer):
    case = services.claim_next(demo_store, load_rules(), reviewer, QueueFilter(states=["resolved"]))
    assert case is not None and case.state in ("in_review", "escalated")


def test_claim_next_never_gives_two_people_the_same_case(demo_store):
    rules = load_rules()
    people = [Actor(username=f"r{i}", role=Role.REVIEWER) for i in range(8)]
    ensure_accounts(demo_store, *people)
    got, errors = {}, []

    def work(actor):
        try:
            case = services.claim_next(demo_store, rules, actor, attempts=20)
            got[actor.username] = case.case_id if case else None
        except Exception as err:      # noqa: BLE001 - the assertion below reports it
            errors.append(err)

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [i for i in got.values() if i is not None]
    assert len(ids) == len(set(ids)) == len(people)
    with demo_store.read() as cur:
        holders = dict(cur.execute("SELECT case_id, assignee FROM cases WHERE case_id IN (SELECT unnest(?))",
                                   [ids]).fetchall())
    assert {holders[i] for i in ids} == {p.username for p in people}


def test_saved_views_are_personal_and_replaceable(store, manager, reviewer):
    f1 = QueueFilter(buckets=["fraud_risk"], breached_only=True)
    f2 = QueueFilter(text="<script>alert(1)</script>'; DROP TABLE saved_views; --")
    services.save_view(store, manager, "  Fraud late ", f1)
    services.save_view(store, manager, "hostile", f2)
    services.save_view(store, reviewer, "mine", QueueFilter(assignee=reviewer.username))
    with store.read() as cur:
        views = queries.list_views(cur, manager.username)
        assert [(v.name, v.filters) for v in views] == [("Fraud late", f1), ("hostile", f2)]
        assert [v.name for v in queries.list_views(cur, reviewer.username)] == ["mine"]
    services.save_view(store, manager, "Fraud late", f2)      # same name: replaced
    with store.read() as cur:
        assert queries.get_view(cur, manager.username, "Fraud late").filters == f2
    assert services.delete_view(store, manager, "Fraud late")
    assert not services.delete_view(store, manager, "Fraud late")
    assert not services.delete_view(store, reviewer, "hostile")      # not theirs
    with store.read() as cur:
        assert [v.name for v in queries.list_views(cur, manager.username)] == ["hostile"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 61])
def test_a_view_needs_a_sensible_name(store, manager, name):
    with pytest.raises(ExqError, match="name"):
        services.save_view(store, manager, name, QueueFilter())


def test_a_view_that_no_longer_validates_is_skipped(store, manager):
    write(store, "INSERT INTO saved_views VALUES (?, 'old', '{\"buckets\": [\"gone\"]}', ?)",
          [manager.username, utcnow()])
    with store.read() as cur:
        assert queries.list_views(cur, manager.username) == []


def test_text_search_finds_a_case_by_each_of_its_order_fields(demo_store):
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        case_id, source, order_id = cur.execute(
            "SELECT case_id, source, order_id FROM cases WHERE state <> 'resolved' ORDER BY case_id LIMIT 1").fetchone()
    write(demo_store,
        "UPDATE orders SET customer_id = 'CUST-Zebra-77', customer_email = 'quokka@example.org', "
        "ship_name = 'Wilhelmina Okonkwo', customer_message = 'Where is my PARCEL? <b>now</b>' "
        "WHERE source = ? AND order_id = ?", [source, order_id])
    reindex_order(demo_store, source, order_id)          # what an import stores with an order for searching it
    with demo_store.read() as cur:
        for text in (order_id.lower(), "zebra-77", "QUOKKA@", "okonkwo", "parcel? <b>", "  wilhelmina "):
            rows, total = queries.queue_page(cur, rules, now, QueueFilter(text=text, include_waiting=True))
            assert case_id in set(rows["case_id"]), text
        rows, total = queries.queue_page(cur, rules, now, QueueFilter(text="zebra-77 quokka"))
        assert total == 0      # fields are searched one by one, never across a boundary


def test_text_search_takes_like_wildcards_and_backslashes_literally(demo_store):
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        case_id, source, order_id = cur.execute(
            "SELECT case_id, source, order_id FROM cases WHERE state <> 'resolved' ORDER BY case_id LIMIT 1").fetchone()
    write(demo_store, "UPDATE orders SET customer_message = ? WHERE source = ? AND order_id = ?",
          ["50% off_sale C:\\temp\\x", source, order_id])
    reindex_order(demo_store, source, order_id)
    with demo_store.read() as cur:
        for text in ("50% off_sale", "c:\\temp\\x", "% off_"):
            f = QueueFilter(text=text, include_waiting=True)
            assert queries.queue_view(cur, rules, now, f)[0]["case_id"].tolist() == [case_id], text
        for text in ("5%f", "50_%", "c:%x", "off%sale", "c:\\\\temp"):   # wildcards match only themselves
            assert queries.queue_view(cur, rules, now, QueueFilter(text=text, include_waiting=True))[1] == 0, text


@pytest.mark.parametrize("text", ["a", "@", "exq-10", "parcel", "zzz-nothing"])
def test_a_text_search_pages_and_counts_as_the_straightforward_queries_do(demo_store, text):
    """The one-statement search gives the page of a full sort of every matching case, and the counts of
    counts(), for common and rare texts, filters that hide or show snoozed cases, deep pages, later moments."""
    rules = load_rules()
    now = utcnow()
    write(demo_store, "UPDATE cases SET follow_up_at = ? WHERE state = 'waiting' AND case_id % 2 = 0",
          [now + timedelta(days=1)])
    filters = [QueueFilter(text=text), QueueFilter(text=text, include_waiting=True, buckets=["fraud_risk"]),
               QueueFilter(text=text, breached_only=True), QueueFilter(text=text, states=["waiting", "new"])]
    with demo_store.read() as cur:
        for moment in (now, now + timedelta(hours=9)):
            for f in filters:
                expected_counts = queries.queue.counts(cur, moment, f)
                for limit, offset in ((50, 0), (7, 3), (1, 0), (30, 40)):
                    ids, total, hidden = queries.queue.searched(cur, rules, moment, f, limit=limit, offset=offset)
                    assert ids == _straightforward(cur, rules, moment, f, limit, offset), (f, limit, offset)
                    assert (total, hidden) == expected_counts, f
                page, total, hidden = queries.queue_view(cur, rules, moment, f, limit=30, offset=40)
                assert page["case_id"].tolist() == _straightforward(cur, rules, moment, f, 30, 40)
                top = _straightforward(cur, rules, moment, f.model_copy(update={"assignee": "__unassigned__"}),
                                       3, 0)
                assert queries.queue.next_unclaimed(cur, rules, moment, f, exclude=top[:2]) == \
                    (top[2] if len(top) > 2 else None), f
    if text == "a":
        assert expected_counts[0] > 50, "the common text matched too few cases to test the deep pages"


def test_queue_view_counts_the_snoozed_cases_it_hides(demo_store):
    now, rules = utcnow(), load_rules()
    write(demo_store, "UPDATE cases SET follow_up_at = ? WHERE state = 'waiting' AND case_id % 2 = 0",
          [now + timedelta(days=1)])
    with demo_store.read() as cur:
        for f in (QueueFilter(), QueueFilter(buckets=["payment_mismatch"]), QueueFilter(include_waiting=True),
                  QueueFilter(states=["waiting"]), QueueFilter(text="zzz-nothing")):
            rows, total, hidden = queries.queue_view(cur, rules, now, f, limit=10)
            assert hidden == queries.queue.counts(cur, now, f)[1]
            assert total == queries.queue_page(cur, rules, now, f)[1] and len(rows) == min(10, total)
        rows, total, hidden = queries.queue_view(cur, rules, now, QueueFilter(), offset=10**6)
        assert rows.empty and total > 0 and list(rows.columns) == list(queries.QUEUE_COLUMNS)


def test_a_text_search_shows_the_same_rows_as_without_it(demo_store):
    now, rules = utcnow(), load_rules()
    with demo_store.read() as cur:
        everything = queries.queue_view(cur, rules, now, QueueFilter(include_waiting=True), limit=1000)[0]
        for text in ("exq-10", "a", "@"):
            found, total, _ = queries.queue_view(cur, rules, now, QueueFilter(text=text, include_waiting=True),
                                                 limit=1000)
            assert total == len(found) > 0
            expected = everything[everything["case_id"].isin(found["case_id"])]
            assert found.reset_index(drop=True).equals(expected.reset_index(drop=True)), text


# -- the flat-cost queue orders exactly as sorting everything would ---------------------------------------

def _straightforward(cur, rules, now, f, limit, offset):
    """SPEC §3's order the obvious way: compute every matching case's priority, sort them all."""
    where, params = queries.queue_where(f, now, dialect=cur.dialect)
    rows = cur.execute(f"""SELECT c.case_id FROM cases c WHERE {where}
                           ORDER BY {rules.priority_sql('$now', 'c.')} DESC, c.opened_at, c.case_id
                           LIMIT $limit OFFSET $offset""", params | {"limit": limit, "offset": offset}).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("seed", range(6))
def test_the_pruned_queue_matches_the_straightforward_sort_on_random_data(store, seed):
    """Random cases (values, ages, buckets, SLA states, exact ties), random moments: every page, every
    filter, the same case ids in the same order as a full sort of the whole backlog."""
    import random
    from datetime import timedelta
    from exq_core.routing import sync_static_priority
    rnd = random.Random(seed)
    rules = load_rules()
    now = utcnow().replace(microsecond=0)
    buckets = [b.value for b in BUCKETS]
    rows = []
    for i in range(400):
        bucket = rnd.choice(buckets)
        opened = now - timedelta(minutes=rnd.choice([rnd.randint(0, 60 * 24 * 10), 90, 90, 120]))
        sla_h = rules.sla_hours(bucket)
        total = rnd.choice(["0", "9.99", "100", "100", "999.5", str(rnd.randint(1, 50000))])
        state = rnd.choice(["new", "new", "in_review", "escalated", "waiting", "resolved"])
        rows.append((i + 1, "s", f"O{i}", bucket, [], ["x"], "v", state, 1, opened,
                     opened + timedelta(hours=sla_h), False, opened, total,
                     opened + timedelta(hours=rnd.choice([-5, 5])) if state == "waiting" else None))
    with store.unit_of_work() as uow:
        store.load_rows(uow, "cases", ["case_id", "source", "order_id", "bucket", "flags", "rules_fired",
                                       "rules_version", "state", "version", "opened_at", "sla_due_at",
                                       "condition_cleared", "updated_at", "order_total", "follow_up_at"], rows)
        uow.execute("DELETE FROM meta WHERE key = 'priority_rules'")
        sync_static_priority(uow, rules)
        uow.commit()
    filters = [QueueFilter(), QueueFilter(buckets=[rnd.choice(buckets)]), QueueFilter(breached_only=True),
               QueueFilter(include_waiting=True), QueueFilter(states=["new", "escalated"])]
    with store.read() as cur:
        for moment in (now, now + timedelta(hours=rnd.randint(1, 30))):
            for f in filters:
                for limit, offset in ((50, 0), (50, 50), (7, 3), (1, 0), (500, 0)):
                    where, params = queries.queue_where(f, moment, dialect=cur.dialect)
                    got = queries.queue.page_ids(cur, rules, moment, where, params, limit=limit, offset=offset)
                    assert got == _straightforward(cur, rules, moment, f, limit, offset), (f, limit, offset)
