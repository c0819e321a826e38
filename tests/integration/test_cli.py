"""`python -m exq_core` as a person runs it (SPEC §7, §9): real processes, exit codes, what they print."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from exq_core.models import AGE_BANDS, BUCKETS, STATES
from exq_core.store import SCHEMA_VERSION, open_store

from tests.feeds import counts, only_logged, snapshot
from tests.support import ROOT


def cli(*args, db=None, check=None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "exq_core", *args]
    if db is not None:
        argv += ["--db", str(db), "--quiet"]
    env = {k: v for k, v in os.environ.items() if k not in ("EXQ_DB", "EXQ_RULES", "OPENAI_API_KEY")}
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, backend, pg_server):
    """A demo database made by `demo`, shared by this module's read-only tests."""
    if backend == "postgresql":
        db = pg_server.url(pg_server.create())
    else:
        db = tmp_path_factory.mktemp("cli") / "demo.duckdb"
    out = cli("demo", "--orders", "600", db=db, check=0)
    assert "600 demo orders" in out.stdout
    return db


def test_init_creates_a_migrated_database(tmp_path, new_db, backend):
    db = tmp_path / "sub" / "exq.duckdb" if backend == "duckdb" else new_db()
    out = cli("init", db=db, check=0)
    assert f"schema version {SCHEMA_VERSION}" in out.stdout
    cli("init", db=db, check=0)   # idempotent
    with open_store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_init_recount_repairs_the_overviews_kept_counts(tmp_path, new_db, backend, feed):
    """A process older than the schema resolves or imports without keeping the counts: `init --recount`."""
    db = tmp_path / "exq.duckdb" if backend == "duckdb" else new_db()
    cli("import", str(feed([{"order_id": "A", "items_available": "0"}, {"order_id": "B"}])), db=db, check=0)
    with open_store(db) as store, store.unit_of_work() as uow:       # what an older process leaves behind
        uow.execute("INSERT INTO orders (source, order_id, placed_at, order_total, currency, updated_at) VALUES "
                    "('feed', 'Z', TIMESTAMP '2026-11-01 10:00', 1, 'USD', TIMESTAMP '2026-11-01 10:00')")
        uow.execute("UPDATE cases SET state = 'resolved', resolved_at = opened_at, resolution_reason = 'other'")
        uow.commit()
    before = json.loads(cli("stats", "--json", db=db, check=0).stdout)
    # PostgreSQL keeps its resolved cases counted too; DuckDB counts them on each view
    assert (before["orders"], before["by_bucket"]["inventory_conflict"]["resolved"]) == \
        (2, 0 if backend == "postgresql" else 1)
    out = cli("init", "--recount", db=db, check=0)
    assert "counted afresh" in out.stdout
    after = json.loads(cli("stats", "--json", db=db, check=0).stdout)
    assert (after["orders"], after["by_bucket"]["inventory_conflict"]["resolved"]) == (3, 1)


def test_stats_json(demo_file):
    data = json.loads(cli("stats", "--json", db=demo_file, check=0).stdout)
    assert {"orders", "routine", "open", "breached", "by_bucket", "aging"} <= set(data)
    assert data["orders"] == 600
    assert set(data["by_bucket"]) == {b.value for b in BUCKETS}
    assert all(set(states) == {s.value for s in STATES} for states in data["by_bucket"].values())
    assert set(data["aging"]) == {b.value for b in BUCKETS}
    assert all(list(bands) == list(AGE_BANDS) for bands in data["aging"].values())
    open_by_bucket = sum(n for states in data["by_bucket"].values() for s, n in states.items() if s != "resolved")
    assert data["open"] == open_by_bucket == sum(sum(b.values()) for b in data["aging"].values())
    all_cases = sum(sum(states.values()) for states in data["by_bucket"].values())
    assert data["routine"] + data["exceptions"] == data["orders"] and all_cases >= data["exceptions"]
    assert 0 <= data["breached"] <= data["open"]
    with open_store(demo_file, read_only=True) as store:
        assert counts(store)["orders"] == 600


def test_stats_text(demo_file):
    out = cli("stats", db=demo_file, check=0).stdout
    assert "orders 600" in out and "fraud_risk" in out and "open, by age" in out


def test_demo_refuses_to_overwrite_without_force(demo_file):
    with open_store(demo_file, read_only=True) as store:
        before = snapshot(store)
    out = cli("demo", "--orders", "100", db=demo_file, check=2)
    assert "already has orders" in out.stderr and "--force" in out.stderr
    with open_store(demo_file, read_only=True) as store:
        assert snapshot(store) == before


def test_import_good_then_again(tmp_path, feed, new_db):
    db = new_db()
    path = feed([{"order_id": "A"}, {"order_id": "B", "items_available": "0"}])
    out = cli("import", str(path), db=db, check=0)
    assert "feed.csv (source feed): import #" in out.stdout and "imported: 2 rows" in out.stdout
    assert "new cases 1 (inventory_conflict 1)" in out.stdout
    with open_store(db) as store:
        before = snapshot(store)
    again = cli("import", str(path), db=db, check=0)
    assert "already imported" in again.stdout and "logged as import #2" in again.stdout
    with open_store(db) as store:
        assert only_logged(before, snapshot(store))


def test_import_bad_file_exits_1_with_a_report(tmp_path, feed, new_db):
    db = new_db()
    cli("init", db=db, check=0)
    path = feed([{"order_id": "A"}, {"order_id": "B", "placed_at": "last tuesday"}], "bad.csv")
    out = cli("import", str(path), db=db, check=1)
    assert "bad.csv:3" in out.stderr and "placed_at" in out.stderr and "'last tuesday'" in out.stderr
    assert "not an ISO 8601 date-time" in out.stderr and "nothing was imported" in out.stderr
    assert "--skip-invalid" in out.stderr
    with open_store(db) as store:
        assert counts(store)["orders"] == 0


def test_import_skip_invalid(tmp_path, feed, new_db):
    db = new_db()
    path = feed([{"order_id": "A"}, {"order_id": "B", "placed_at": "last tuesday"}], "bad.csv")
    out = cli("import", str(path), "--skip-invalid", db=db, check=0)
    assert "partial" in out.stdout and "1 rejected" in out.stdout and "bad.csv:3" in out.stderr
    with open_store(db) as store:
        assert counts(store)["orders"] == 1 and counts(store)["rejects"] == 1


def test_import_unreadable_and_missing_files(tmp_path, feed, new_db):
    db = new_db()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    out = cli("import", str(empty), str(tmp_path / "missing.csv"), db=db, check=1)
    assert "empty.csv" in out.stderr and "empty" in out.stderr
    assert "no such file" in out.stderr


def test_export(demo_file, tmp_path):
    target = tmp_path / "decisions.csv"
    out = cli("export", "decisions", "--out", str(target), db=demo_file, check=0)
    assert "decisions" in out.stdout and target.read_text().startswith("decision_id,")


@pytest.mark.parametrize("command", [["stats", "--json"], ["init"], ["export", "cases"]])
def test_a_locked_database_gives_a_clear_message(held_db, command):
    path, pid = held_db
    out = cli(*command, db=path, check=2)
    assert str(path) in out.stderr and str(pid) in out.stderr and "in use by" in out.stderr
    assert out.stdout == ""


def test_import_into_a_locked_database_points_at_the_inbox(held_db, feed):
    path, pid = held_db
    out = cli("import", str(feed([{"order_id": "A"}])), db=path, check=2)
    assert str(pid) in out.stderr and "inbox" in out.stderr


def test_demo_force_never_deletes_a_held_database(held_db):
    path, pid = held_db
    inode, size = path.stat().st_ino, path.stat().st_size
    out = cli("demo", "--orders", "50", "--force", db=path, check=2)
    assert str(pid) in out.stderr and "in use by" in out.stderr
    assert path.exists() and path.stat().st_ino == inode and path.stat().st_size == size
