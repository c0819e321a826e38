"""`migrate-store`: a team's DuckDB file moved into PostgreSQL with one command (SPEC §10) — the same
numbers afterwards, sequences that carry on, and an all-or-nothing copy into an empty database only."""
from __future__ import annotations

import json

import pytest

from exq_core import auth, cli, queries, services
from exq_core.demo import seed_demo
from exq_core.models import SYSTEM, DecisionRequest, Role, State
from exq_core.rules import load_rules
from exq_core.store import open_store
from tests.support import NOW, TEST_PASSWORD
from tests.sql import one

TABLES = ("orders", "cases", "events", "decisions", "suggestions", "imports", "rejects", "users",
          "account_events", "saved_views", "mappings")


@pytest.fixture
def pg_target(pg_server, new_db):
    if pg_server is None:
        pytest.skip("needs PostgreSQL: runs with --backend postgresql")
    return new_db("target")


@pytest.fixture
def team_file(tmp_path):
    """A DuckDB file as a team leaves it: demo orders and history, accounts, a saved view."""
    path = tmp_path / "team.duckdb"
    with open_store(path) as store:
        seed_demo(store, n=1500, seed=11, backlog=0.3)
        auth.add_user(store, "maria", TEST_PASSWORD, Role.MANAGER, SYSTEM)
        services.save_view(store, auth.session_actor(store, auth.sign_in(store, "maria", TEST_PASSWORD)),
                           "fraud first", queries.QueueFilter(buckets=["fraud_risk"]))
    return path


def _stats(target, capsys) -> dict:
    assert cli.main(["stats", "--json", "--db", str(target)]) == 0
    return json.loads(capsys.readouterr().out)


def _table_counts(target) -> dict:
    with open_store(target) as store, store.read() as cur:
        return {t: cur.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


def test_a_duckdb_file_moves_into_postgresql_with_the_same_numbers(team_file, pg_target, capsys):
    before = _stats(team_file, capsys)
    counts = _table_counts(team_file)
    assert cli.main(["migrate-store", "--from", str(team_file), "--to", pg_target, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Copied" in out and "row counts checked" in out
    assert _table_counts(pg_target) == counts
    assert _stats(pg_target, capsys) == before                 # the Overview's numbers, exactly
    with open_store(team_file) as duck, open_store(pg_target) as pg:
        assert one(duck, "SELECT sum(order_total), max(updated_at) FROM orders") == \
            one(pg, "SELECT sum(order_total), max(updated_at) FROM orders")
        with duck.read() as a, pg.read() as b:
            rules = load_rules()
            top_duck = queries.queue_page(a, rules, NOW, queries.QueueFilter(), limit=20)[0]
            top_pg = queries.queue_page(b, rules, NOW, queries.QueueFilter(), limit=20)[0]
            # the Queue's text search finds the same cases (PostgreSQL's search text is written on the way)
            order_id = a.scalar("SELECT order_id FROM cases WHERE state = 'new' ORDER BY case_id LIMIT 1")
            for text in (order_id, "e", "@"):
                found = [queries.queue_view(cur, rules, NOW, queries.QueueFilter(text=text), limit=500)[:2]
                         for cur in (a, b)]
                assert found[0][1] > 0 and list(found[0][0]["case_id"]) == list(found[1][0]["case_id"])
                assert found[0][1] == found[1][1]
        assert list(top_duck["case_id"]) == list(top_pg["case_id"])
        maria = auth.sign_in(pg, "maria", TEST_PASSWORD)          # accounts and their hashes came along
        with pg.read() as cur:
            assert [v.name for v in queries.list_views(cur, "maria")] == ["fraud first"]
        # the sequences carry on: a new decision and event get fresh ids
        max_decision = one(pg, "SELECT max(decision_id) FROM decisions")[0]
        with pg.read() as cur:
            case_id, version = cur.execute("SELECT case_id, version FROM cases WHERE state = 'new' "
                                           "ORDER BY case_id LIMIT 1").fetchone()
        services.decide(pg, DecisionRequest(case_id=case_id, case_version=version, to_state=State.IN_REVIEW,
                                            note="moved to the team server"), maria)
        assert one(pg, "SELECT max(decision_id) FROM decisions")[0] > max_decision
        assert one(pg, "SELECT count(*) FROM decisions WHERE decision_id = "
                       "(SELECT max(decision_id) FROM decisions)")[0] == 1


def test_it_only_fills_an_empty_database_and_writes_nothing_otherwise(team_file, pg_target, capsys):
    assert cli.main(["migrate-store", "--from", str(team_file), "--to", pg_target, "--quiet"]) == 0
    first = _table_counts(pg_target)
    capsys.readouterr()
    assert cli.main(["migrate-store", "--from", str(team_file), "--to", pg_target, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds data" in err and "createdb" in err
    assert _table_counts(pg_target) == first


def test_the_target_must_be_postgresql(team_file, tmp_path, capsys):
    assert cli.main(["migrate-store", "--from", str(team_file), "--to", str(tmp_path / "other.duckdb"),
                     "--quiet"]) == 2
    assert "into a PostgreSQL database" in capsys.readouterr().err
