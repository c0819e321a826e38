"""The DuckDB store on a real file: unit of work, schema versions and migrations, the file lock (SPEC §9)."""
from __future__ import annotations

import os
from datetime import datetime

import duckdb
import pytest

from exq_core.errors import DatabaseLocked, ExqError, SchemaTooNew
from exq_core.store import SCHEMA_VERSION, open_store
from exq_core.store.duck import connect
from exq_core.store.schema import MIGRATIONS


def meta_rows(store):
    with store.read() as cur:
        return cur.execute("SELECT key, value FROM meta ORDER BY key").fetchall()


def test_fresh_file_is_at_the_current_schema(tmp_path):
    with open_store(tmp_path / "new.duckdb") as store:
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as cur:
            tables = {r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"orders", "cases", "events", "decisions", "suggestions", "imports", "rejects", "users"} <= tables


def test_opening_twice_in_a_row_migrates_nothing(tmp_path):
    path = tmp_path / "x.duckdb"
    open_store(path).close()
    with open_store(path, migrate=False) as store:
        assert store.migrate() == SCHEMA_VERSION


def test_unit_of_work_commits(store):
    with store.unit_of_work() as uow:
        uow.execute("INSERT INTO meta VALUES ('k', 'v')")
        uow.commit()
    assert ("k", "v") in meta_rows(store)


def test_unit_of_work_rolls_back_on_exception(store):
    before = meta_rows(store)
    with pytest.raises(RuntimeError):
        with store.unit_of_work() as uow:
            uow.execute("INSERT INTO meta VALUES ('k', 'v')")
            uow.execute("CREATE TABLE scratch AS SELECT 1 AS x")
            raise RuntimeError("boom")
    assert meta_rows(store) == before
    with store.read() as cur:
        assert cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'scratch'"
                           ).fetchone()[0] == 0


def test_unit_of_work_without_commit_rolls_back(store):
    before = meta_rows(store)
    with store.unit_of_work() as uow:
        uow.execute("INSERT INTO meta VALUES ('k', 'v')")
    assert meta_rows(store) == before


def test_unit_of_work_rolls_back_on_a_failed_statement_and_the_store_stays_usable(store):
    with pytest.raises(duckdb.Error):
        with store.unit_of_work() as uow:
            uow.execute("INSERT INTO meta VALUES ('k', 'v')")
            uow.execute("INSERT INTO meta VALUES ('k', 'again')")   # primary key violation
            uow.commit()
    assert ("k", "v") not in meta_rows(store)
    with store.unit_of_work() as uow:
        uow.execute("INSERT INTO meta VALUES ('k', 'w')")
        uow.commit()
    assert ("k", "w") in meta_rows(store)


def test_rollback_survives_a_reopen(tmp_path):
    path = tmp_path / "x.duckdb"
    with open_store(path) as store:
        with pytest.raises(RuntimeError):
            with store.unit_of_work() as uow:
                uow.execute("INSERT INTO meta VALUES ('ghost', 'v')")
                raise RuntimeError
    with open_store(path) as store:
        assert "ghost" not in dict(meta_rows(store))


def _build_v1(path) -> None:
    """A file as exq's first schema version left it, with some data in it."""
    con = duckdb.connect(str(path))
    for statement in MIGRATIONS[0].statements("duckdb"):
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("""INSERT INTO orders (source, order_id, placed_at, order_total, currency, updated_at)
                   VALUES ('feed', 'A-1', TIMESTAMP '2026-11-01 10:00', 12.50, 'USD', TIMESTAMP '2026-11-01 10:00')""")
    con.execute("""INSERT INTO imports (import_id, file_name, source, format, status, actor, started_at)
                   VALUES (1, 'old.csv', 'feed', 'csv', 'imported', 'system', TIMESTAMP '2026-11-01 10:00')""")
    con.close()


def test_migrates_a_version_1_file(tmp_path):
    path = tmp_path / "v1.duckdb"
    _build_v1(path)
    with open_store(path, migrate=False) as store:
        assert store.schema_version() == 1
        assert store.migrate() == 1
        assert store.schema_version() == SCHEMA_VERSION
    with open_store(path) as store:                      # and the normal way of opening sees it done
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as cur:
            assert cur.execute("SELECT order_id, order_total FROM orders").fetchall() == [("A-1", 12.5)]
            assert cur.execute("SELECT file_name, rules_version FROM imports").fetchall() == [("old.csv", None)]
            assert cur.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_opening_a_version_1_file_migrates_it(tmp_path):
    path = tmp_path / "v1.duckdb"
    _build_v1(path)
    open_store(path).close()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    con.close()


def test_a_failed_migration_leaves_the_file_at_its_version(tmp_path, monkeypatch):
    path = tmp_path / "v1.duckdb"
    _build_v1(path)
    import exq_core.store.duck as store_module
    from exq_core.store.schema import Migration
    broken = [MIGRATIONS[0], Migration(MIGRATIONS[1].common + ["SELECT * FROM no_such_table"])] + MIGRATIONS[2:]
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    with pytest.raises(duckdb.Error):
        open_store(path)
    monkeypatch.undo()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'").fetchone() == (0,)
    con.close()
    with open_store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(SchemaTooNew) as info:
        open_store(path)
    assert str(path) in str(info.value) and "99" in str(info.value)
    with pytest.raises(SchemaTooNew):
        open_store(path, read_only=True)


def test_read_only_store_refuses_writes(tmp_path):
    path = tmp_path / "ro.duckdb"
    open_store(path).close()
    with open_store(path, read_only=True) as store:
        with pytest.raises(ExqError, match="read-only"):
            with store.unit_of_work():
                pass


def test_database_held_by_another_process(held_db):
    path, pid = held_db
    for read_only in (False, True):
        with pytest.raises(DatabaseLocked) as info:
            open_store(path, read_only=read_only)
        err = info.value
        assert err.path == str(path)
        assert str(pid) in err.holder and "python" in err.holder
        message = str(err)
        assert str(path) in message and str(pid) in message
        assert "data/inbox/" in message                       # says what to do instead
    with pytest.raises(DatabaseLocked):
        connect(path)


def test_lock_is_released_when_the_holder_ends(held_db, tmp_path):
    path, pid = held_db
    os.kill(pid, 9)
    deadline = datetime.now().timestamp() + 10
    while True:
        try:
            open_store(path).close()
            break
        except DatabaseLocked:
            assert datetime.now().timestamp() < deadline
