"""The store: where exq keeps its data — a DuckDB file (the default) or PostgreSQL (team server mode).

    store = open_store("data/exq.duckdb")            # or "postgresql://exq@db.internal/exq"
    with store.read() as cur: cur.execute("SELECT …", {"now": now}).fetchall()
    with store.unit_of_work() as uow: uow.execute(…); uow.commit()

All SQL lives in exq_core (this package and the named query modules); pages never write any.
"""
from __future__ import annotations

import os

from .base import (DEFAULT_DB, Cursor, Store, UnitOfWork, companion_dir, default_db_target, is_postgres_url,
                   utcnow)
from .dialect import DUCKDB, POSTGRES, Dialect, ident, literal, literal_list, none_of, one_of
from .schema import SCHEMA_VERSION


def open_store(target: str | os.PathLike | None = None, **options) -> Store:
    """The store for a DuckDB file path or a postgresql:// URL (default: $EXQ_DB, else data/exq.duckdb)."""
    target = target if target is not None else default_db_target()
    if is_postgres_url(target):
        from .pg import PgStore
        options.pop("read_only", None)
        return PgStore(str(target), **options)
    from .duck import DuckStore
    return DuckStore(target, **options)


__all__ = ["DEFAULT_DB", "DUCKDB", "POSTGRES", "SCHEMA_VERSION", "Cursor", "Dialect", "Store", "UnitOfWork",
           "companion_dir", "default_db_target", "ident", "is_postgres_url", "literal", "literal_list", "none_of",
           "one_of", "open_store", "utcnow"]
