"""What every store offers, whichever engine is behind it: a cursor per read, a unit of work per write.

A `Store` is the process's way to the database: `read()` lends a `Cursor`, `unit_of_work()` a named
transaction that rolls back unless committed. `Cursor` gives both engines one face: `execute(sql, params)`
with parameters written `$name` (a dict) or `?` (a list), `fetchone/fetchall/fetchmany`, `description`,
and `df()` for a small, already-aggregated frame.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .dialect import Dialect

if TYPE_CHECKING:       # pandas is imported where a frame is made: a command line that shows none starts
    import pandas as pd     # without it (0.45 s of every `python -m exq_core ...`)


def utcnow() -> datetime:
    """Now, as the naive UTC timestamp every exq table stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@lru_cache(maxsize=4096)
def _named(sql: str) -> frozenset[str]:
    return frozenset(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", sql))


class Cursor:
    """One engine cursor behind one interface. `execute` returns the cursor, so calls chain."""

    def __init__(self, raw, dialect: Dialect):
        self.raw = raw
        self.dialect = dialect

    def execute(self, sql: str, params=None) -> "Cursor":
        if params is None:
            self.raw.execute(self.dialect.translate(sql, named=True) if self.dialect.is_postgres else sql)
        elif isinstance(params, dict):
            if not self.dialect.is_postgres:   # DuckDB refuses a named parameter the statement does not use
                used = _named(sql)
                params = {k: v for k, v in params.items() if k in used}
            self.raw.execute(self.dialect.translate(sql, True), params)
        else:
            self.raw.execute(self.dialect.translate(sql, False), params)
        return self

    def fetchone(self):
        return self.raw.fetchone()

    def fetchall(self) -> list:
        return self.raw.fetchall()

    def fetchmany(self, size: int) -> list:
        return self.raw.fetchmany(size)

    def scalar(self, sql: str, params=None):
        """The first column of the first row (None when there is no row)."""
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    @property
    def description(self):
        return self.raw.description

    @property
    def columns(self) -> list[str]:
        return [d[0] for d in self.raw.description]

    def df(self) -> pd.DataFrame:
        """The result as a DataFrame, typed the same on both engines (exact decimals become floats, as
        DuckDB's own conversion does: a frame is for showing, never for money arithmetic)."""
        if not self.dialect.is_postgres:
            return self.raw.df()
        import pandas as pd
        rows = self.raw.fetchall()
        frame = pd.DataFrame.from_records(rows, columns=self.columns)
        for col in frame.columns:
            series = frame[col]
            if series.dtype == object:
                sample = next((v for v in series if v is not None), None)
                if isinstance(sample, Decimal):
                    frame[col] = pd.to_numeric(series.map(lambda v: None if v is None else float(v)))
                elif isinstance(sample, datetime):
                    frame[col] = pd.to_datetime(series)
        return frame

    def dicts(self) -> list[dict]:
        names = self.columns
        return [dict(zip(names, row)) for row in self.raw.fetchall()]

    def close(self) -> None:
        self.raw.close()


class UnitOfWork:
    """A transaction with a name: `with store.unit_of_work() as uow: …; uow.commit()`."""

    def __init__(self, cursor: Cursor):
        self.cursor = cursor
        self.committed = False

    @property
    def dialect(self) -> Dialect:
        return self.cursor.dialect

    def execute(self, sql: str, params=None) -> Cursor:
        return self.cursor.execute(sql, params)

    def commit(self) -> None:
        self.cursor.execute("COMMIT")
        self.committed = True

    def hold_writers(self) -> None:
        """In a bulk unit of work (Store.bulk_unit_of_work): from here to its end, the other writers of this
        process wait. Nothing to do in an ordinary one, which holds them from its start."""


class Store:
    """The database of this process. Backends: `DuckStore` (a file; the default) and `PgStore`."""

    dialect: Dialect
    label: str          # what messages call it: a file path, or a PostgreSQL URL without its password
    target: str         # what opens it again (`--db`, EXQ_DB): the file path, or the full URL

    def read(self) -> Iterator[Cursor]:
        raise NotImplementedError

    def unit_of_work(self) -> Iterator[UnitOfWork]:
        raise NotImplementedError

    def bulk_unit_of_work(self, cursor: Cursor | None = None):
        """A transaction that appends in bulk (an import) while the other writers go on; it calls
        `uow.hold_writers()` before it changes a row that exists already. The default is an ordinary one."""
        return self.unit_of_work()

    def close(self) -> None:
        raise NotImplementedError

    def schema_version(self) -> int:
        raise NotImplementedError

    def checkpoint(self) -> None:
        """Write everything to the main file (DuckDB); nothing to do on a server."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_postgres(self) -> bool:
        return self.dialect.is_postgres

    @property
    def home(self):
        """The folder that holds this database's companions (the inbox, first-login.txt)."""
        raise NotImplementedError

    def work_cursor(self) -> Iterator[Cursor]:
        """A DuckDB cursor for reading and validating a feed file (DuckDB reads every file format)."""
        raise NotImplementedError

    def unordered(self, work: Cursor):
        """A context for statements on the work cursor that need no insertion order (an import once its
        file is read): DuckDB then writes in parallel. Nothing to do by default."""
        return nullcontext()

    # -- bulk writes ------------------------------------------------------------------------------

    def load_rows(self, uow: UnitOfWork, table: str, columns: list[str], rows: list[tuple]) -> None:
        """Append many rows in one go (the demo's history, a migration)."""
        raise NotImplementedError

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A named job only one process runs at a time (the inbox): yields whether this process has it."""
        yield True


DEFAULT_DB = "data/exq.duckdb"


def default_db_target() -> str:
    """$EXQ_DB (a DuckDB file path or a postgresql:// URL), else data/exq.duckdb."""
    return os.environ.get("EXQ_DB") or DEFAULT_DB


def companion_dir(target: Any) -> Path:
    """The folder for a database's companion files (its inbox, first-login.txt): a DuckDB file's own
    folder; for a PostgreSQL database $EXQ_HOME, else data/ in the working folder."""
    if is_postgres_url(target):
        return Path(os.environ.get("EXQ_HOME") or "data").resolve()
    return Path(target).resolve().parent


def is_postgres_url(target: Any) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))
