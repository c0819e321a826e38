"""Twenty threads claiming and deciding at once on one Store, as Streamlit sessions share one connection
(SPEC §9): nothing is lost and no transition is won twice."""
from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest

from exq_core import queries, services
from exq_core.errors import CaseClaimed, StaleCase, TransitionNotAllowed
from exq_core.ingest import import_file
from tests.accounts import ensure_accounts
from tests.sql import kept_and_recounted
from tests.support import reviewer_click
from exq_core.models import Actor, DecisionRequest, Role, State
from exq_core.rules import DEFAULT_RULES_PATH, load_rules

NOW = datetime(2026, 11, 27, 12, 0, 0)
RULES = load_rules(DEFAULT_RULES_PATH)
THREADS = 20


@pytest.fixture
def case_ids(store, feed):
    import_file(store, feed([{"order_id": f"P{i}", "payment_status": "failed"} for i in range(4)]),
                rules=RULES, now=NOW)
    with store.read() as cur:
        return [r[0] for r in cur.execute("SELECT case_id FROM cases ORDER BY case_id").fetchall()]


def table_count(store, table: str) -> int:
    with store.read() as cur:
        return cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def run_threads(target, n=THREADS):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def wrap(i):
        barrier.wait()
        try:
            results[i] = ("ok", target(i))
        except Exception as err:   # noqa: BLE001 - every outcome is recorded and judged below
            results[i] = ("error", err)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_twenty_claims_on_one_case_have_one_winner(store, case_ids):
    case_id = case_ids[0]
    events = table_count(store, "events")
    actors = [Actor(username=f"r{i}", role=Role.REVIEWER) for i in range(THREADS)]
    ensure_accounts(store, *actors)
    results = run_threads(lambda i: services.claim(store, case_id, actors[i], NOW))
    wins = [r for kind, r in results if kind == "ok"]
    losses = [r for kind, r in results if kind == "error"]
    assert len(wins) == 1 and len(losses) == THREADS - 1
    assert all(isinstance(e, CaseClaimed) for e in losses), {type(e) for e in losses}
    winner = wins[0].assignee
    assert all(e.holder == winner for e in losses)
    stored = services.get_case(store, case_id)
    assert (stored.state, stored.assignee, stored.version) == (State.IN_REVIEW, winner, 2)
    assert table_count(store, "events") == events + 1


def test_twenty_decisions_on_one_version_have_one_winner(store, case_ids, reviewer):
    case = services.claim(store, case_ids[0], reviewer, NOW)
    events, decisions = table_count(store, "events"), table_count(store, "decisions")
    targets = [State.ESCALATED, State.WAITING, State.RESOLVED, State.ESCALATED]

    def decide(i):
        to_state = targets[i % len(targets)]
        extra = {"resolution_reason": "payment_captured", "evidence": f"PSP txn pi_{i:08d}"} \
            if to_state is State.RESOLVED else {"follow_up_at": NOW + timedelta(days=1)} \
            if to_state is State.WAITING else {}
        request = DecisionRequest(case_id=case.case_id, case_version=case.version, to_state=to_state,
                                  note=f"thread {i}", **extra)
        return services.decide(store, request, reviewer, NOW)

    results = run_threads(decide)
    wins = [r for kind, r in results if kind == "ok"]
    losses = [r for kind, r in results if kind == "error"]
    assert len(wins) == 1
    assert all(isinstance(e, StaleCase) for e in losses), {type(e) for e in losses}
    stored = services.get_case(store, case.case_id)
    assert stored.version == case.version + 1 and stored.state == wins[0].case.state
    assert table_count(store, "events") == events + 1
    assert table_count(store, "decisions") == decisions + 1
    with store.read() as cur:
        assert cur.execute("SELECT note FROM decisions WHERE case_id = ?", [case.case_id]).fetchall() == \
            [(f"thread {results.index(('ok', wins[0]))}",)]


@pytest.mark.slow          # 20 threads × 60 claims and decisions: 6 s
def test_mixed_claims_and_decisions_lose_nothing(store, case_ids):
    """Each of 20 managers works the same 4 cases for a while, every request made on the version it read.
    Every success bumps its case's version by exactly one and appends exactly one event; no two successes
    were made on the same (case, version)."""
    events_before = table_count(store, "events")
    decisions_before = table_count(store, "decisions")
    actors = [Actor(username=f"m{i}", role=Role.MANAGER) for i in range(THREADS)]
    ensure_accounts(store, *actors)
    stop = threading.Event()
    read_errors: list = []

    def reader():
        while not stop.is_set():
            try:
                with store.read() as cur:
                    queries.queue_page(cur, RULES, NOW)
                    queries.stats(cur, NOW)
            except Exception as err:   # noqa: BLE001
                read_errors.append(err)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()

    claims_only: list[int] = []

    def work(i):
        rnd = random.Random(i)
        actor = actors[i]
        done, refused = [], Counter()
        for step in range(25):
            try:
                kind, case_id, version = reviewer_click(store, actor, rnd, case_ids, f"{i:04d}-{step:04d}")
            except (StaleCase, CaseClaimed, TransitionNotAllowed) as err:
                refused[type(err).__name__] += 1
                continue
            if kind == "claim only":                        # a claim alone leaves the version alone
                claims_only.append(case_id)
            else:
                done.append((kind, case_id, version))
        return done, refused

    try:
        results = run_threads(work)
    finally:
        stop.set()
        for t in readers:
            t.join()
    errors = [r for kind, r in results if kind == "error"]
    assert errors == [], errors                     # only guardrail refusals, never a database error
    assert read_errors == []
    done = [d for kind, (ds, _) in results for d in ds]
    refused = sum((r for _, (_, r) in results), Counter())
    assert len(done) > 20 and sum(refused.values()) > 0    # the race really happened, both ways

    # no transition was won twice
    on_version = Counter((case_id, version) for _, case_id, version in done)
    assert max(on_version.values()) == 1
    # every success is one version step and one event; every decide is one decision
    for case_id in case_ids:
        wins = sum(1 for _, c, _ in done if c == case_id)
        assert services.get_case(store, case_id).version == 1 + wins
    assert table_count(store, "events") == events_before + len(done) + len(claims_only)
    assert table_count(store, "decisions") == decisions_before + sum(1 for k, _, _ in done if k == "decide")
    # and the event log replays to each case's current state
    with store.read() as cur:
        for case_id in case_ids:
            trail = cur.execute("SELECT from_state, to_state FROM events WHERE case_id = ? ORDER BY event_id",
                                [case_id]).fetchall()
            for (_, prev_to), (nxt_from, _) in zip(trail, trail[1:]):
                assert prev_to == nxt_from
            assert trail[-1][1] == services.get_case(store, case_id).state.value
    # the Overview's kept counts (PostgreSQL: also resolved cases, moved by every resolve and reopen) are
    # what the cases say
    kept, fresh = kept_and_recounted(store)
    assert kept == fresh
    if store.is_postgres:           # which keeps them: some case was resolved (its row stays, at 0 if reopened)
        with store.read() as cur:
            assert cur.scalar("SELECT count(*) FROM tallies WHERE name LIKE 'resolved:%'")



# -- an import beside the reviewers (DuckDB: Store.bulk_unit_of_work) ----------------------------------

@pytest.mark.duckdb_only
def test_a_writer_goes_on_beside_a_bulk_append_and_waits_once_it_holds_writers(store, case_ids):
    """While an import appends, a reviewer's write commits at once; once the import holds the writers
    (before it changes existing rows), the next write waits for the import's commit."""
    maria = Actor(username="maria", role=Role.MANAGER)

    def claim_in_thread(case_id):
        done = threading.Event()
        thread = threading.Thread(target=lambda: (services.claim(store, case_id, maria, NOW), done.set()))
        thread.start()
        return thread, done

    with store.bulk_unit_of_work() as uow:
        uow.execute("INSERT INTO imports (import_id, file_name, source, format, status, actor, started_at) "
                    "VALUES (999, 'bulk.csv', 'feed', 'csv', 'imported', 'system', ?)", [NOW])
        thread, done = claim_in_thread(case_ids[0])
        assert done.wait(10), "a reviewer's write waited for an import that only appends"
        thread.join()
        uow.hold_writers()
        thread, done = claim_in_thread(case_ids[1])
        assert not done.wait(0.5), "a reviewer's write ran while the import held the writers"
        uow.commit()
    assert done.wait(10)
    thread.join()
    assert {services.get_case(store, i).assignee for i in case_ids[:2]} == {"maria"}
    assert table_count(store, "imports") == 2


@pytest.mark.duckdb_only
def test_an_import_that_meets_a_reviewers_change_is_applied_again(store, feed, case_ids, monkeypatch):
    """A reviewer claims a case after the import's transaction began, before the import re-routes that
    case: DuckDB refuses the import's change (a conflict); the import runs again and keeps the claim."""
    from exq_core.ingest import feed as feed_module
    maria = Actor(username="maria", role=Role.MANAGER)
    real = feed_module.route_changed
    attempts = []

    def route_with_a_reviewer_in_between(cur, *args, hold, **kw):
        def reviewer_then_hold():
            attempts.append(1)
            if len(attempts) == 1:
                services.claim(store, case_ids[0], maria, NOW)
            hold()
        return real(cur, *args, hold=reviewer_then_hold, **kw)

    monkeypatch.setattr(feed_module, "route_changed", route_with_a_reviewer_in_between)
    before = services.get_case(store, case_ids[0])
    result = import_file(store, feed([{"order_id": "P0", "payment_status": "failed", "order_total": "150.00",
                                       "updated_at": "2026-11-27T09:00:00Z"}]), rules=RULES, now=NOW)
    assert len(attempts) == 2 and result.cases_updated == 1
    after = services.get_case(store, case_ids[0])
    assert after.assignee == "maria"                  # the reviewer's claim is kept
    assert after.version == before.version + 2        # claimed, then re-routed on the new snapshot
    with store.read() as cur:
        assert cur.scalar("SELECT order_total FROM cases WHERE case_id = ?", [case_ids[0]]) == 150
