"""Team server mode: the store on PostgreSQL (15+), for several app processes, cron imports and BI tools.

`EXQ_DB=postgresql://user@host/db` switches every command and the app here. The same named queries run
(written in the SQL both engines share; see `dialect`); PostgreSQL brings what one DuckDB file cannot:
many writers in many processes. Optimistic versions still decide who wins a transition; the case row is
locked while a transition is decided (`FOR UPDATE`), and jobs that must run once (the inbox) take an
advisory lock. Connections come from a psycopg pool, one per process.
"""
from __future__ import annotations

import io
import queue
import re
import tempfile
import threading
import zlib
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ExqError, SchemaTooNew
from .base import Cursor, Store, UnitOfWork, _named, companion_dir
from .dialect import POSTGRES, literal
from .schema import MIGRATIONS, SCHEMA_VERSION

MIGRATION_LOCK = 0x65787100          # "exq\0": one process migrates at a time
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def _is_nested(type_code) -> bool:
    """A DuckDB result column that is a list, struct or map (not a plain value)."""
    text = str(type_code).upper()
    return "[]" in text or text.startswith(("STRUCT", "MAP", "LIST", "UNION"))


def redact(url: str) -> str:
    """A URL fit for messages and logs: the password replaced."""
    return _PASSWORD.sub(r"\1***@", url)


def _configure(conn) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")      # a date cast to text reads 2026-12-01, as in DuckDB
    conn.execute("SET application_name = 'exq'")
    # No JIT compilation: exq's statements are short reads or bulk writes whose plans look costly, and
    # compiling them cost more than it saved (an import's routing statement: 1.6 s of JIT in 2.2 s)
    conn.execute("SET jit = off")


def _csv_chunks(rel, batch: int) -> Iterator[tuple[memoryview, int]]:
    """A DuckDB relation's rows as CSV chunks (and their row counts), made on a thread of their own while the
    caller sends the previous chunk to PostgreSQL: DuckDB and Arrow work while the server parses and stores
    (the relation is used by that thread alone until it is done)."""
    import pyarrow.csv as arrow_csv
    options = arrow_csv.WriteOptions(include_header=False)
    chunks: queue.Queue = queue.Queue(maxsize=1)     # one chunk ready while one is sent: memory stays small
    stop = threading.Event()
    done = object()

    def hand(item) -> bool:
        """Queue one item; False once the caller has stopped reading."""
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for record_batch in rel.to_arrow_reader(batch):
                out = io.BytesIO()
                arrow_csv.write_csv(record_batch, out, options)
                if not hand((out.getbuffer(), record_batch.num_rows)):
                    return
            hand(done)
        except BaseException as err:  # noqa: BLE001 — handed to the caller, raised there
            hand(err)

    worker = threading.Thread(target=produce, name="exq-copy-csv", daemon=True)
    worker.start()
    try:
        while (item := chunks.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


class PgStore(Store):
    dialect = POSTGRES

    def __init__(self, url: str, *, migrate: bool = True, min_size: int = 1, max_size: int = 8,
                 memory_limit: str | None = None):
        import psycopg
        from psycopg_pool import ConnectionPool
        self.url = self.target = url
        self.label = redact(url)
        self.read_only = False
        self.memory_limit = memory_limit          # of the in-memory DuckDB that reads feed files
        try:
            self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True, timeout=30,
                                       kwargs={"autocommit": True, "connect_timeout": 10},
                                       configure=_configure, name="exq")
            self.pool.wait(timeout=30)
        except (psycopg.Error, Exception) as err:  # PoolTimeout names no cause; say where we tried
            try:
                self.pool.close()
            except Exception:
                pass
            raise ExqError(f"Cannot connect to PostgreSQL at {self.label}: {str(err).splitlines()[0][:300]}. "
                           "Is the server running, and does the database exist?") from None
        try:
            if migrate:
                self.migrate()
            else:
                self._check_version()
        except BaseException:
            self.pool.close()
            raise

    @property
    def home(self) -> Path:
        return companion_dir(self.url)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        with self.pool.connection() as conn:
            with conn.cursor() as cur:
                yield Cursor(cur, POSTGRES)

    # -- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.read() as cur:
            exists = cur.scalar("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name = 'meta' AND table_schema = current_schema()")
            if not exists:
                return 0
            value = cur.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            return int(value) if value else 0

    def _check_version(self) -> None:
        found = self.schema_version()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(f"{self.label} has schema version {found}; this exq knows up to "
                               f"{SCHEMA_VERSION}. Upgrade exq.")

    def migrate(self) -> int:
        self._check_version()
        start = self.schema_version()
        if start == SCHEMA_VERSION:
            return start
        for version in range(start, SCHEMA_VERSION):
            with self.unit_of_work() as uow:
                uow.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
                found = uow.cursor.scalar("SELECT count(*) FROM information_schema.tables "
                                          "WHERE table_name = 'meta' AND table_schema = current_schema()")
                done = int(uow.cursor.scalar("SELECT value FROM meta WHERE key = 'schema_version'") or 0) \
                    if found else 0
                if done > version:      # another process migrated while we waited for the lock
                    continue
                for statement in MIGRATIONS[version].statements(POSTGRES.name):
                    uow.execute(statement)
                uow.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE "
                            "SET value = excluded.value", [str(version + 1)])
                uow.commit()
        return start

    # -- writes -------------------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self.pool.connection() as conn:
            with conn.cursor() as raw:
                cur = Cursor(raw, POSTGRES)
                uow = UnitOfWork(cur)
                raw.execute("BEGIN")
                try:
                    yield uow
                finally:
                    if not uow.committed:
                        try:
                            raw.execute("ROLLBACK")
                        except Exception:
                            pass

    @contextmanager
    def work_cursor(self) -> Iterator[Cursor]:
        """A private in-memory DuckDB for reading and validating a feed file; the valid rows are then
        copied here in bulk."""
        import duckdb
        from .dialect import DUCKDB
        from .duck import DUCKDB_CONFIG, quiet
        con = quiet(duckdb.connect(config=DUCKDB_CONFIG))
        if self.memory_limit:
            con.execute(f"SET memory_limit = {literal(self.memory_limit)}")
            con.execute(f"SET temp_directory = {literal(tempfile.gettempdir())}")
        try:
            yield Cursor(con, DUCKDB)
        finally:
            con.close()

    def load_rows(self, uow: UnitOfWork, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        with uow.cursor.raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def copy_from_duckdb(self, uow: UnitOfWork, duck: Cursor, select: str, table: str, columns: list[str],
                         params=None, batch: int = 20_000) -> int:
        """Stream a DuckDB query's rows into a PostgreSQL table with COPY, in batches. Rows of plain values
        go as CSV that Arrow writes (no Python object per value: 5× faster on a large feed), made while the
        server stores the batch before (`_csv_chunks`; 20,000 rows a batch keep an inbox import of 1M
        held-out rows at 821 MB of RSS, where 3 batches of 50,000 in flight took 981 MB); rows holding
        lists (a case's flags) go row by row, as psycopg adapts them to arrays."""
        cols = ", ".join(f'"{c}"' for c in columns)
        # a relation streams its rows in batches; a DB-API execute() would first hold the whole result in
        # memory (a million feed rows: about 900 MB more)
        if params:
            used = _named(select)
            params = {k: v for k, v in params.items() if k in used} if isinstance(params, dict) else params
        duck.raw.abort()        # a result the caller left unfetched would refuse the relation
        rel = duck.raw.sql(select, params=params or None)
        if any(_is_nested(t) for t in rel.types):
            n = 0
            with uow.cursor.raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for record_batch in rel.to_arrow_reader(batch):
                    for row in zip(*(column.to_pylist() for column in record_batch.columns)):
                        copy.write_row(row)
                    n += record_batch.num_rows
            return n
        n = 0
        # CSV as PostgreSQL reads it: an unquoted empty field is NULL, "" is an empty string (Arrow writes both so)
        with uow.cursor.raw.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy, \
                closing(_csv_chunks(rel, batch)) as chunks:     # a refused COPY stops the thread too
            for chunk, rows in chunks:
                copy.write(chunk)
                n += rows
        return n

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A session-level advisory lock on `name`: one process of the team runs the job at a time."""
        key = zlib.crc32(f"exq:{name}".encode())
        with self.pool.connection() as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", [key])

