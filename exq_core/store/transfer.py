"""Moving a team's data from a DuckDB file into PostgreSQL (team server mode, SPEC §10):

    python -m exq_core migrate-store --from data/exq.duckdb --to postgresql://exq@db.internal/exq

Every table is copied with COPY inside one PostgreSQL transaction, the sequences carry on where the file's
left off, and the row counts are compared before the commit: the target ends with all of the data or none.
The target must be empty (no orders, cases, accounts or imports); the source file is only read (it is
migrated to the current schema first, as opening it always does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ExqError
from .base import Store
from .dialect import ident, literal
from . import tallies
from .schema import SEARCH_TEXT

# What makes a database "in use": copying over it would mix two teams' records.
_SIGNS_OF_USE = ("orders", "cases", "users", "imports", "decisions")
# Kept per database, never copied: the schema version is the target's own.
_OWN_META = ("schema_version",)


@dataclass
class Transfer:
    tables: dict[str, int]
    sequences: dict[str, int]

    def summary(self, source: str, target: str) -> str:
        rows = ", ".join(f"{table} {n:,}" for table, n in self.tables.items() if n)
        return (f"Copied {sum(self.tables.values()):,} rows from {source} to {target} ({rows or 'no rows'}); "
                f"{len(self.sequences)} sequences carried over; row counts checked in one transaction.")


def _tables(cur) -> list[str]:
    return [r[0] for r in cur.execute("""SELECT table_name FROM information_schema.tables
                                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                                         ORDER BY table_name""").fetchall()]


def _columns(cur, table: str) -> list[str]:
    return [r[0] for r in cur.execute("""SELECT column_name FROM information_schema.columns
                                         WHERE table_schema = current_schema() AND table_name = ?
                                         ORDER BY ordinal_position""", [table]).fetchall()]


def copy_duckdb_to_postgres(source: Store, target: Store,
                            progress: Callable[[str, float], None] | None = None) -> Transfer:
    if source.is_postgres or not target.is_postgres:
        raise ExqError("migrate-store copies a DuckDB file (--from) into a PostgreSQL database (--to "
                       "postgresql://…)")
    tick = progress or (lambda stage, fraction: None)
    with target.read() as cur:
        used = [t for t in _SIGNS_OF_USE if cur.scalar(f"SELECT count(*) FROM {ident(t)}")]
    if used:
        raise ExqError(f"{target.label} already holds data ({', '.join(used)}); migrate-store only fills an "
                       "empty database, so two teams' records never mix. Create a new database "
                       "(createdb exq) and point --to at it.")
    copied: dict[str, int] = {}
    sequences: dict[str, int] = {}
    with source.read() as src, target.unit_of_work() as uow:
        target_tables = set(_tables(uow.cursor))
        # meta is merged below; the tallies are counted afresh from what was copied
        tables = [t for t in _tables(src) if t in target_tables and t not in ("meta", "tallies")]
        for i, table in enumerate(tables):
            tick(f"copying {table}", i / max(len(tables), 1))
            wanted = set(_columns(uow.cursor, table))
            columns = [c for c in _columns(src, table) if c in wanted]
            exprs = [ident(c) for c in columns]
            if table == "orders" and "search_text" in wanted and "search_text" not in columns:
                # the file keeps no search text (DuckDB scans the columns); PostgreSQL's Queue search reads
                # the lower-cased copy of every order that has a case, as its own imports write it
                columns.append("search_text")
                exprs.append(f"CASE WHEN EXISTS (SELECT 1 FROM cases k WHERE k.source = orders.source "
                             f"AND k.order_id = orders.order_id) THEN {SEARCH_TEXT} END")
            select = f"SELECT {', '.join(exprs)} FROM {ident(table)}"
            copied[table] = target.copy_from_duckdb(uow, src, select, table, columns)
        for key, value in src.execute("SELECT key, value FROM meta").fetchall():
            if key not in _OWN_META:
                uow.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            [key, value])
        for name, last in src.execute("SELECT sequence_name, last_value FROM duckdb_sequences() "
                                      "WHERE last_value IS NOT NULL").fetchall():
            uow.execute(f"SELECT setval({literal(name)}, ?)", [int(last)])
            sequences[name] = int(last)
        tallies.recount(uow.cursor)
        tick("checking", 0.95)
        for table, n in copied.items():
            found = uow.cursor.scalar(f"SELECT count(*) FROM {ident(table)}")
            if found != n or n != src.execute(f"SELECT count(*) FROM {ident(table)}").fetchone()[0]:
                raise ExqError(f"{table}: {n:,} rows read but {found:,} in the target; nothing was copied.")
        uow.commit()
    tick("done", 1.0)
    return Transfer(copied, sequences)
