"""DuckDB: the schema and its migrations, the process's one connection, and the unit of work.

One `Store` per process owns one `duckdb.connect()`; every read takes its own `cursor()`, and every
write goes through `unit_of_work()`, which serialises writers inside the process (DuckDB 2.0 refuses
concurrent use of one connection and fails conflicting updates) and rolls back unless committed.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import duckdb

from .errors import DatabaseLocked, ExqError, SchemaTooNew

DEFAULT_DB = Path("data/exq.duckdb")

SCHEMA_VERSION = 2

# Each migration takes the database from version i to i + 1. Never edit a released one; append.
MIGRATIONS: list[list[str]] = [
    # 0 -> 1: the core tables.
    [
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE SEQUENCE IF NOT EXISTS case_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS event_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS decision_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS suggestion_seq START 1",
        "CREATE SEQUENCE IF NOT EXISTS import_seq START 1",
        """CREATE TABLE orders (
            source VARCHAR NOT NULL, order_id VARCHAR NOT NULL,
            placed_at TIMESTAMP NOT NULL, order_total DECIMAL(18,3) NOT NULL, currency VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            customer_id VARCHAR, customer_email VARCHAR, customer_tier VARCHAR, customer_ltv DECIMAL(18,3),
            payment_status VARCHAR, amount_paid DECIMAL(18,3), amount_refunded DECIMAL(18,3),
            risk_score DOUBLE, risk_level VARCHAR, items_ordered INTEGER, items_available INTEGER,
            ship_name VARCHAR, ship_address1 VARCHAR, ship_city VARCHAR, ship_postal_code VARCHAR,
            ship_country VARCHAR, address_verified BOOLEAN, fulfillment_status VARCHAR,
            return_requested BOOLEAN, damage_reported BOOLEAN, return_reason VARCHAR, customer_message VARCHAR,
            import_id BIGINT, imported_at TIMESTAMP)""",
        """CREATE TABLE cases (
            case_id BIGINT PRIMARY KEY DEFAULT nextval('case_seq'),
            source VARCHAR NOT NULL, order_id VARCHAR NOT NULL,
            bucket VARCHAR NOT NULL, flags VARCHAR[] NOT NULL, rules_fired VARCHAR[] NOT NULL,
            rules_version VARCHAR NOT NULL, state VARCHAR NOT NULL, version INTEGER NOT NULL,
            opened_at TIMESTAMP NOT NULL, sla_due_at TIMESTAMP NOT NULL,
            condition_cleared BOOLEAN NOT NULL DEFAULT false,
            assignee VARCHAR, claimed_at TIMESTAMP, follow_up_at TIMESTAMP,
            resolution_reason VARCHAR, resolved_at TIMESTAMP, updated_at TIMESTAMP NOT NULL,
            order_total DECIMAL(18,3) NOT NULL)""",
        """CREATE TABLE events (
            event_id BIGINT DEFAULT nextval('event_seq'), case_id BIGINT NOT NULL, "at" TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL, kind VARCHAR NOT NULL, from_state VARCHAR, to_state VARCHAR,
            detail VARCHAR)""",
        """CREATE TABLE decisions (
            decision_id BIGINT DEFAULT nextval('decision_seq'), case_id BIGINT NOT NULL,
            case_version INTEGER NOT NULL, reviewer VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL,
            suggestion_id BIGINT, suggested_action VARCHAR, suggestion_model VARCHAR, suggestion_source VARCHAR,
            action VARCHAR, verdict VARCHAR NOT NULL, override_note VARCHAR, resolution_reason VARCHAR,
            evidence VARCHAR, note VARCHAR, from_state VARCHAR NOT NULL, to_state VARCHAR NOT NULL,
            bucket VARCHAR)""",
        """CREATE TABLE suggestions (
            suggestion_id BIGINT DEFAULT nextval('suggestion_seq'), case_id BIGINT NOT NULL,
            case_version INTEGER NOT NULL, model VARCHAR NOT NULL, prompt_version VARCHAR NOT NULL,
            source VARCHAR NOT NULL, summary VARCHAR NOT NULL, action VARCHAR NOT NULL, rationale VARCHAR,
            confidence DOUBLE, missing_evidence VARCHAR[], error VARCHAR, created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE imports (
            import_id BIGINT PRIMARY KEY, file_name VARCHAR NOT NULL, content_hash VARCHAR,
            source VARCHAR NOT NULL, format VARCHAR NOT NULL, mapping VARCHAR, status VARCHAR NOT NULL,
            rows_read BIGINT, orders_new BIGINT, orders_updated BIGINT, orders_stale BIGINT,
            routine BIGINT, cases_new BIGINT, cases_new_by_bucket JSON, cases_updated BIGINT,
            rejected BIGINT, actor VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP, message VARCHAR)""",
        """CREATE TABLE rejects (
            import_id BIGINT NOT NULL, file_name VARCHAR NOT NULL, line BIGINT, column_name VARCHAR,
            value VARCHAR, reason VARCHAR NOT NULL)""",
        """CREATE TABLE saved_views (
            owner VARCHAR NOT NULL, name VARCHAR NOT NULL, filters JSON NOT NULL,
            created_at TIMESTAMP NOT NULL, PRIMARY KEY (owner, name))""",
        """CREATE TABLE mappings (
            name VARCHAR PRIMARY KEY, spec JSON NOT NULL, updated_by VARCHAR, updated_at TIMESTAMP NOT NULL)""",
    ],
    # 1 -> 2: record which rules file each import used; local accounts.
    [
        "ALTER TABLE imports ADD COLUMN IF NOT EXISTS rules_version VARCHAR",
        """CREATE TABLE IF NOT EXISTS users (
            username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, role VARCHAR NOT NULL,
            disabled BOOLEAN NOT NULL DEFAULT false, created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sign_in_attempts (
            username VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, ok BOOLEAN NOT NULL)""",
    ],
]
assert len(MIGRATIONS) == SCHEMA_VERSION

_LOCK_RE = re.compile(r"\(PID (\d+)\)")


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_for(path: Path) -> threading.RLock:
    """One write lock per database file and process, so two Store objects on one file (DuckDB shares the
    database between them) still serialise their writes."""
    key = str(path) if str(path) == ":memory:" else str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


def utcnow() -> datetime:
    """Now, as the naive UTC timestamp every exq table stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _describe_holder(message: str) -> str:
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


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the database file, turning DuckDB's lock error into a message naming the file and holder."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as err:
        text = str(err)
        if "lock" in text.lower():
            raise DatabaseLocked(path, _describe_holder(text)) from None
        raise ExqError(f"Cannot open database {path}: {text}") from None
    except duckdb.Error as err:
        raise ExqError(f"Cannot open database {path}: {err}") from None
    con.execute("SET TimeZone = 'UTC'")
    return con


class Store:
    """The process's database: one connection, a cursor per use, a lock around every write."""

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, read_only: bool = False, migrate: bool = True):
        self.path = Path(path)
        self.read_only = read_only
        self.con = connect(self.path, read_only=read_only)
        self._write_lock = _write_lock_for(self.path)
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

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.cursor()
        try:
            yield cur
        finally:
            cur.close()

    # -- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.read() as cur:
            exists = cur.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()[0]
            if not exists:
                return 0
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return int(row[0]) if row else 0

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
                for statement in MIGRATIONS[version]:
                    uow.execute(statement)
                uow.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version + 1)])
                uow.commit()
        return start

    # -- writes -------------------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self) -> Iterator["UnitOfWork"]:
        """A named transaction: `with store.unit_of_work() as uow: ...; uow.commit()`.
        Leaving the block without commit (or by an exception) rolls everything back."""
        if self.read_only:
            raise ExqError(f"{self.path} is open read-only")
        with self._write_lock:
            cur = self.cursor()
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
                cur.close()


class UnitOfWork:
    def __init__(self, cursor: duckdb.DuckDBPyConnection):
        self.cursor = cursor
        self.committed = False

    def execute(self, sql: str, params=None):
        return self.cursor.execute(sql, params) if params is not None else self.cursor.execute(sql)

    def commit(self) -> None:
        self.cursor.execute("COMMIT")
        self.committed = True


def default_db_path() -> Path:
    return Path(os.environ.get("EXQ_DB") or DEFAULT_DB)
