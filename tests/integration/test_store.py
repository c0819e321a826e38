"""The DuckDB store on a real file: unit of work, schema versions and migrations, the file lock (SPEC §9)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import datetime

import duckdb
import psycopg
import pytest

from exq_core.errors import DatabaseLocked, ExqError, SchemaTooNew
from exq_core.store import SCHEMA_VERSION, is_postgres_url, open_store
from exq_core.store.duck import connect
from exq_core.store.schema import MIGRATIONS
from tests.support import ROOT


def meta_rows(store):
    with store.read() as cur:
        return cur.execute("SELECT key, value FROM meta ORDER BY key").fetchall()


def raw(target, statements: list[str], *, fetch: str | None = None):
    """Run SQL on a database without exq (what an older exq, or a person, would have done)."""
    if is_postgres_url(target):
        with psycopg.connect(str(target), autocommit=True) as con:
            for statement in statements:
                con.execute(statement)
            return con.execute(fetch).fetchall() if fetch else None
    con = duckdb.connect(str(target))
    try:
        for statement in statements:
            con.execute(statement)
        return con.execute(fetch).fetchall() if fetch else None
    finally:
        con.close()


def _dialect(target) -> str:
    return "postgresql" if is_postgres_url(target) else "duckdb"


def test_a_new_database_is_at_the_current_schema(new_db):
    with open_store(new_db("new")) as store:
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as cur:
            tables = {r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables "
                                                "WHERE table_schema = current_schema()").fetchall()}
    assert {"orders", "cases", "events", "decisions", "suggestions", "imports", "rejects", "users"} <= tables


def test_opening_twice_in_a_row_migrates_nothing(new_db):
    target = new_db("x")
    open_store(target).close()
    with open_store(target, migrate=False) as store:
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
    with pytest.raises((duckdb.Error, psycopg.Error)):
        with store.unit_of_work() as uow:
            uow.execute("INSERT INTO meta VALUES ('k', 'v')")
            uow.execute("INSERT INTO meta VALUES ('k', 'again')")   # primary key violation
            uow.commit()
    assert ("k", "v") not in meta_rows(store)
    with store.unit_of_work() as uow:
        uow.execute("INSERT INTO meta VALUES ('k', 'w')")
        uow.commit()
    assert ("k", "w") in meta_rows(store)


def test_rollback_survives_a_reopen(new_db):
    target = new_db("x")
    with open_store(target) as store:
        with pytest.raises(RuntimeError):
            with store.unit_of_work() as uow:
                uow.execute("INSERT INTO meta VALUES ('ghost', 'v')")
                raise RuntimeError
    with open_store(target) as store:
        assert "ghost" not in dict(meta_rows(store))


def _build_v1(target) -> None:
    """A database as exq's first schema version left it, with some data in it."""
    raw(target, [*MIGRATIONS[0].statements(_dialect(target)),
                 "INSERT INTO meta VALUES ('schema_version', '1')",
                 """INSERT INTO orders (source, order_id, placed_at, order_total, currency, updated_at)
                    VALUES ('feed', 'A-1', TIMESTAMP '2026-11-01 10:00', 12.50, 'USD', TIMESTAMP '2026-11-01 10:00')""",
                 """INSERT INTO imports (import_id, file_name, source, format, status, actor, started_at)
                    VALUES (1, 'old.csv', 'feed', 'csv', 'imported', 'system', TIMESTAMP '2026-11-01 10:00')"""])


def _version(target) -> str:
    return raw(target, [], fetch="SELECT value FROM meta WHERE key = 'schema_version'")[0][0]


def test_migrates_a_version_1_database(new_db):
    target = new_db("v1")
    _build_v1(target)
    with open_store(target, migrate=False) as store:
        assert store.schema_version() == 1
        assert store.migrate() == 1
        assert store.schema_version() == SCHEMA_VERSION
    with open_store(target) as store:                    # and the normal way of opening sees it done
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as cur:
            assert [tuple(r) for r in cur.execute("SELECT order_id, order_total FROM orders").fetchall()] \
                == [("A-1", 12.5)]
            assert [tuple(r) for r in cur.execute("SELECT file_name, rules_version FROM imports").fetchall()] \
                == [("old.csv", None)]
            assert cur.execute("SELECT count(*) FROM users").fetchone()[0] == 0
            # the Overview's counts over every order, kept since version 6, start from what the file holds
            assert cur.execute("SELECT name, n FROM tallies ORDER BY name").fetchall() == \
                [("orders", 1), ("orders_with_case", 0)]
            # the order's search text, added at version 3, stays on PostgreSQL (trigram-indexed) only; on
            # DuckDB a flag says which orders a search reads (those with a case: not this one)
            columns = [r[0] for r in cur.execute("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'orders'").fetchall()]
            assert ("search_text" in columns) == store.is_postgres == ("searchable" not in columns)
            if not store.is_postgres:
                assert cur.scalar("SELECT searchable FROM orders") is False


def test_opening_a_version_1_database_migrates_it(new_db):
    target = new_db("v1")
    _build_v1(target)
    open_store(target).close()
    assert _version(target) == str(SCHEMA_VERSION)


def test_a_failed_migration_leaves_the_database_at_its_version(new_db, monkeypatch):
    target = new_db("v1")
    _build_v1(target)
    import exq_core.store.duck as duck_module
    import exq_core.store.pg as pg_module
    from exq_core.store.schema import Migration
    broken = [MIGRATIONS[0], Migration(MIGRATIONS[1].common + ["SELECT * FROM no_such_table"])] + MIGRATIONS[2:]
    monkeypatch.setattr(pg_module if is_postgres_url(target) else duck_module, "MIGRATIONS", broken)
    with pytest.raises((duckdb.Error, psycopg.Error)):
        open_store(target)
    monkeypatch.undo()
    assert _version(target) == "1"
    assert raw(target, [], fetch="SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'"
               ) == [(0,)]
    with open_store(target) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused(new_db):
    target = new_db("future")
    open_store(target).close()
    raw(target, ["UPDATE meta SET value = '99' WHERE key = 'schema_version'"])
    with pytest.raises(SchemaTooNew) as info:
        open_store(target)
    assert "99" in str(info.value)
    if not is_postgres_url(target):
        assert str(target) in str(info.value)
        with pytest.raises(SchemaTooNew):
            open_store(target, read_only=True)


def test_processes_opening_a_new_database_at_once_migrate_it_once(new_db):
    """Several app processes starting together on an empty server database (or one new file, one after
    the other): each migration step runs once."""
    target = new_db("race")
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from exq_core.store import open_store\n"
              "s = open_store(%r); print(s.schema_version()); s.close()") % (str(ROOT), str(target))
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4 if is_postgres_url(target) else 1)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert {out.strip() for out, _ in outputs} == {str(SCHEMA_VERSION)}
    with open_store(target) as store, store.read() as cur:
        assert cur.execute("SELECT count(*) FROM meta WHERE key = 'schema_version'").fetchone()[0] == 1


@pytest.mark.duckdb_only
def test_read_only_store_refuses_writes(tmp_path):
    path = tmp_path / "ro.duckdb"
    open_store(path).close()
    with open_store(path, read_only=True) as store:
        with pytest.raises(ExqError, match="read-only"):
            with store.unit_of_work():
                pass


@pytest.mark.duckdb_only
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


@pytest.mark.duckdb_only
def test_a_file_load_waits_while_writes_are_unordered(store):
    """An import's writes run without insertion order (faster); a file being loaded needs it (its rowids
    number its lines), so a load waits until the unordered stretch ends, and the setting is restored."""
    import threading
    from exq_core.store.duck import file_order

    def setting():
        with store.read() as cur:
            return cur.scalar("SELECT current_setting('preserve_insertion_order')")

    loaded = threading.Event()

    def load():
        with file_order():
            loaded.set()

    with store.work_cursor() as work:
        with store.unordered(work):
            assert setting() is False
            thread = threading.Thread(target=load)
            thread.start()
            assert not loaded.wait(0.3)
        assert loaded.wait(5)
        thread.join()
    assert setting() is True


def test_rows_cross_from_duckdb_to_postgresql_in_batches_whatever_the_cursor_left_unfetched(store, backend):
    """copy_from_duckdb streams a DuckDB query into a PostgreSQL table batch by batch (plain values as
    Arrow CSV, lists row by row), with the values intact — even when the DuckDB cursor still holds a result
    its caller did not fetch to the end."""
    from decimal import Decimal
    if backend != "postgresql":
        pytest.skip("PostgreSQL's bulk path: runs with --backend postgresql")
    with store.work_cursor() as duck, store.unit_of_work() as uow:
        duck.execute("SELECT * FROM range(5)")          # left unfetched on purpose
        uow.execute("CREATE TEMP TABLE plain (n BIGINT, amount DECIMAL(18,3), note VARCHAR, blank VARCHAR) "
                    "ON COMMIT DROP")
        uow.execute("CREATE TEMP TABLE listed (n BIGINT, tags VARCHAR[]) ON COMMIT DROP")
        n = store.copy_from_duckdb(uow, duck, """SELECT range AS n, CAST(range AS DECIMAL(18,3)) / 4 AS amount,
                                                 'line "' || range || '", with a comma' AS note,
                                                 CASE WHEN range % 2 = 0 THEN '' END AS blank
                                                 FROM range($n)""", "plain", ["n", "amount", "note", "blank"],
                                   {"n": 2_500, "unused": 1}, batch=1_000)
        assert n == 2_500
        assert uow.cursor.execute("SELECT n, amount, note, blank FROM plain WHERE n IN (0, 7) ORDER BY n"
                                  ).fetchall() == [(0, Decimal("0.000"), 'line "0", with a comma', ""),
                                                   (7, Decimal("1.750"), 'line "7", with a comma', None)]
        assert store.copy_from_duckdb(uow, duck, "SELECT range AS n, ['a', 'b,c'] AS tags FROM range(3)",
                                      "listed", ["n", "tags"], batch=2) == 3
        assert uow.cursor.execute("SELECT tags FROM listed WHERE n = 2").fetchone()[0] == ["a", "b,c"]


def test_csv_chunks_are_made_on_a_thread_that_hands_over_its_errors_and_stops_with_the_reader():
    """The chunks PostgreSQL's COPY is fed are made by a thread of their own: all rows in order; an error
    the DuckDB query raises midway reaches the caller; a caller that stops early (the server refused the
    COPY), even just after the last chunk was made, stops the thread as well, and the DuckDB connection is
    free again."""
    from exq_core.store.pg import _csv_chunks
    con = duckdb.connect()
    got = [bytes(chunk).decode() for chunk, _ in _csv_chunks(con.sql("SELECT range AS n FROM range(10)"), 3)]
    assert "".join(got).split() == [str(i) for i in range(10)]
    failing = con.sql("SELECT CAST(CASE WHEN range < 3000 THEN '1' ELSE 'x' END AS INTEGER) AS n FROM range(5000)")
    with pytest.raises(OSError, match="Conversion Error"):     # as Arrow's reader raises it
        for _ in _csv_chunks(failing, 100):
            pass
    with closing(_csv_chunks(con.sql("SELECT range AS n FROM range(100000)"), 10)) as chunks:
        next(chunks)
    assert not [t for t in threading.enumerate() if t.name == "exq-copy-csv"]

    def stop_after_the_last_chunk_was_made():      # the thread has made every chunk and waits to say so
        with closing(_csv_chunks(con.sql("SELECT range AS n FROM range(20)"), 10)) as chunks:
            next(chunks)
            time.sleep(0.3)
    closer = threading.Thread(target=stop_after_the_last_chunk_was_made, daemon=True)
    closer.start()
    closer.join(timeout=10)
    assert not closer.is_alive()
    assert con.execute("SELECT 42").fetchone() == (42,)


def test_a_copy_the_server_refuses_midway_raises_and_leaves_nothing_running(store, backend):
    """PostgreSQL refusing a row in the middle of a COPY from DuckDB (here a CHECK) is raised to the caller at
    once; the CSV thread stops, the transaction rolls back, and the DuckDB cursor reads again."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's bulk path: runs with --backend postgresql")
    with store.work_cursor() as duck:
        with pytest.raises(psycopg.errors.CheckViolation):
            with store.unit_of_work() as uow:
                uow.execute("CREATE TEMP TABLE checked (n BIGINT CHECK (n < 30000)) ON COMMIT DROP")
                store.copy_from_duckdb(uow, duck, "SELECT range AS n FROM range(100000)", "checked", ["n"],
                                       batch=1_000)
        assert not [t for t in threading.enumerate() if t.name == "exq-copy-csv"]
        assert duck.execute("SELECT 42").fetchone() == (42,)
