"""The default store: one DuckDB file, owned by one process.

One `DuckStore` per process owns one `duckdb.connect()`; every read takes its own `cursor()`, and every
write goes through `unit_of_work()`, which serialises writers inside the process (DuckDB 2.0 refuses
concurrent use of one connection and fails conflicting updates) and rolls back unless committed. An import
uses `bulk_unit_of_work()`: it appends beside the other writers and holds them only for its last part.
The file (and its write-ahead log) is readable by its owner only: it holds password hashes and customer data.
"""
from __future__ import annotations

import os
import re
import stat
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from ..errors import DatabaseLocked, ExqError, SchemaTooNew
from .base import Cursor, Store, UnitOfWork, companion_dir
from .dialect import DUCKDB, literal
from .schema import MIGRATIONS, SCHEMA_VERSION

_LOCK_RE = re.compile(r"\(PID (\d+)\)")
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_UMASK_GUARD = threading.Lock()

# The dashboard's share of memory for DuckDB (its database, or on PostgreSQL the in-memory DuckDB that reads
# feed files): an inbox import of a million rows spills to disk past it instead of growing the process.
APP_MEMORY_LIMIT = os.environ.get("EXQ_DUCKDB_MEMORY", "600MB")


# DuckDB keeps insertion order (a setting of the whole database instance) so that a table loaded from a
# file numbers its rows in file order: the readers number lines by rowid. Writes that need no order are
# faster without it (parallel, about 25 % of a large import). `unordered` switches it off for such a
# stretch, and `file_order` keeps every load from a file out of that stretch (one lock for both).
_ORDER_LOCK = threading.RLock()


@contextmanager
def file_order() -> Iterator[None]:
    """Around a statement that loads a file into a table whose rowids must follow the file's order."""
    with _ORDER_LOCK:
        yield


@contextmanager
def unordered(cur) -> Iterator[None]:
    """Statements on `cur` (a DuckDB cursor) that need no insertion order: parallel, unordered writes."""
    with _ORDER_LOCK:
        cur.execute("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            cur.execute("SET preserve_insertion_order = true")


def _write_lock_for(path: Path, kind: str = "write") -> threading.RLock:
    """One write lock per database file and process, so two stores on one file (DuckDB shares the
    database between them) still serialise their writes; `kind` "bulk" is the lock bulk writers share."""
    key = str(path) if str(path) == ":memory:" else str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(f"{kind}:{key}", threading.RLock())


def describe_holder(message: str) -> str:
    match = _LOCK_RE.search(message)
    if not match:
        return "another process"
    pid = int(match.group(1))
    try:
        import psutil
        proc = psutil.Process(pid)
        cmd = " ".join(" ".join(proc.cmdline()).split())
        return f"process {pid} ({cmd[:100]})"
    except Exception:
        return f"process {pid}"


def private(path: Path) -> None:
    """Owner-only permissions on a file exq created (no-op for a file that is not there)."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)
    except FileNotFoundError:
        pass


# Never download an extension at run time.
DUCKDB_CONFIG = {"autoinstall_known_extensions": False}


def quiet(con):
    """Never draw DuckDB's own progress bar into our output (the CLI shows its own; a child process's
    stdout is a protocol in the tests). A per-connection setting, so cursors inherit it."""
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the database file, turning DuckDB's lock error into a message naming the file and holder.
    A new file (and its folder) is created readable by its owner only."""
    path = Path(path)
    in_memory = str(path) == ":memory:"
    if not in_memory and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = {**DUCKDB_CONFIG, "autoload_known_extensions": True}
    try:
        with _UMASK_GUARD:
            old = os.umask(0o077)    # the file and its WAL are born private
            try:
                con = duckdb.connect(str(path), read_only=read_only, config=config)
            finally:
                os.umask(old)
    except duckdb.IOException as err:
        text = str(err)
        if "lock" in text.lower():
            raise DatabaseLocked(path, describe_holder(text)) from None
        raise ExqError(f"Cannot open database {path}: {text}") from None
    except duckdb.Error as err:
        raise ExqError(f"Cannot open database {path}: {err}") from None
    if not in_memory:
        private(path)
    return quiet(con)


class DuckStore(Store):
    """The process's database file: one connection, a cursor per use, a lock around every write."""

    dialect = DUCKDB

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, migrate: bool = True,
                 memory_limit: str | None = None):
        self.path = Path(path)
        self.label = self.target = str(self.path)
        self.read_only = read_only
        self.con = connect(self.path, read_only=read_only)
        if memory_limit:
            # a setting of the database, not of the connection: another store on the file in this process
            # (the same configuration is required to share it) gets the same budget
            self.con.execute(f"SET memory_limit = {literal(memory_limit)}")
        self._write_lock = _write_lock_for(self.path)
        self._bulk_lock = _write_lock_for(self.path, "bulk")
        self._wal = self.path.with_name(self.path.name + ".wal")
        try:
            if migrate and not read_only:
                self.migrate()
            else:
                self._check_version()
        except BaseException:
            # a file we refuse (too new) or fail to migrate must not stay open: the same process could
            # not open it again with other settings, and no other process could open it at all
            self.con.close()
            raise

    @property
    def home(self) -> Path:
        return companion_dir(self.path)

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        self.con.close()
        private(self._wal)

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")

    def raw_cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        cur = self.raw_cursor()
        try:
            yield Cursor(cur, DUCKDB)
        finally:
            cur.close()

    # -- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.read() as cur:
            exists = cur.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'")
            if not exists:
                return 0
            value = cur.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            return int(value) if value else 0

    def _check_version(self) -> None:
        found = self.schema_version()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(f"{self.path} has schema version {found}; this exq knows up to "
                               f"{SCHEMA_VERSION}. Upgrade exq.")

    def migrate(self) -> int:
        """Bring the file up to SCHEMA_VERSION, one migration per transaction. Returns the old version."""
        self._check_version()
        start = self.schema_version()
        for version in range(start, SCHEMA_VERSION):
            with self.unit_of_work() as uow:
                for statement in MIGRATIONS[version].statements(DUCKDB.name):
                    uow.execute(statement)
                uow.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE "
                            "SET value = excluded.value", [str(version + 1)])
                uow.commit()
        return start

    # -- writes -------------------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self, cursor: Cursor | None = None) -> Iterator[UnitOfWork]:
        """A named transaction: `with store.unit_of_work() as uow: ...; uow.commit()`.
        Leaving the block without commit (or by an exception) rolls everything back. `cursor` continues
        on a cursor the caller already prepared (an import's validated batch lives in its temp tables)."""
        with self._write_lock, self._transaction(cursor) as uow:
            yield uow

    @contextmanager
    def bulk_unit_of_work(self, cursor: Cursor | None = None) -> Iterator[UnitOfWork]:
        """An import's transaction: bulk writers take turns (one import at a time), but the others (a
        reviewer's decision) go on beside its appends — DuckDB's MVCC keeps them apart — until it calls
        `uow.hold_writers()`, before it changes rows that exist already; from then on to its end they wait.
        A row another writer changed after this transaction began fails it with a duckdb
        TransactionException (a conflict): the caller runs it again."""
        with self._bulk_lock, ExitStack() as held, self._transaction(cursor) as uow:
            uow.hold_writers = lambda: held.enter_context(self._write_lock) and None
            yield uow

    @contextmanager
    def _transaction(self, cursor: Cursor | None) -> Iterator[UnitOfWork]:
        if self.read_only:
            raise ExqError(f"{self.path} is open read-only")
        own = cursor is None
        cur = Cursor(self.raw_cursor(), DUCKDB) if own else cursor
        uow = UnitOfWork(cur)
        cur.execute("BEGIN TRANSACTION")
        try:
            yield uow
        finally:
            if not uow.committed:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
            if own:
                cur.close()
        if uow.committed:
            private(self._wal)

    @contextmanager
    def work_cursor(self) -> Iterator[Cursor]:
        """A cursor for reading and validating a feed file: on DuckDB, a cursor of the store itself, so the
        validated batch is already where the write needs it."""
        with self.read() as cur:
            yield cur

    def unordered(self, work: Cursor):
        return unordered(work.raw)

    def load_rows(self, uow: UnitOfWork, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        import pandas as pd
        frame = pd.DataFrame.from_records(rows, columns=columns)
        raw = uow.cursor.raw
        raw.register("exq_load_rows", frame)
        try:
            cols = ", ".join(f'"{c}"' for c in columns)
            raw.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM exq_load_rows")
        finally:
            raw.unregister("exq_load_rows")
