"""Counts over all of history that the Overview shows, kept as they change instead of counted on every view.

Orders and resolved cases only ever pile up; counting them on each view made the Overview's cost grow with
the history (PostgreSQL: 70 of its 100 ms at 1M orders went to counting orders, resolved cases and the days
of a month's cases). What is open is still counted from `cases`: the backlog is what a team works down.

Table `tallies` (name, n) holds, by name:
* "orders", "orders_with_case": an import adds the orders it stores, routing the orders it opens a first
  case for;
* "opened@2026-12-01": cases opened that UTC day (routing);
* PostgreSQL only: "resolved@2026-12-01", "resolved:payment_mismatch": cases resolved that day, and in that
  bucket (a decision that resolves a case adds one to both, a reopening takes one from the day it was
  resolved and its bucket, in one statement). DuckDB counts its resolved cases from their columns in 2 ms at
  1M orders; keeping the count would cost each decision about as much (a statement is 1-2 ms there, and a
  decision's p95 has a 20 ms budget), so it does not (`keeps_resolved`).

Each is changed in the transaction that changes what it counts. An import and a decision never touch the
same row, so a long import never holds a reviewer's decision. `recount` counts them all afresh: the migration
that added them, migrate-store's copy, the demo's simulated history and `init --recount` use it.
"""
from __future__ import annotations

from datetime import date

ORDERS, ORDERS_WITH_CASE = "orders", "orders_with_case"
RESOLVED_IN = "resolved:"       # + bucket
OPENED_ON, RESOLVED_ON = "opened@", "resolved@"     # + ISO day

RECOUNT = [
    "DELETE FROM tallies",
    f"INSERT INTO tallies (name, n) SELECT '{ORDERS}', count(*) FROM orders",
    f"INSERT INTO tallies (name, n) SELECT '{ORDERS_WITH_CASE}', count(*) FROM "
    "(SELECT DISTINCT source, order_id FROM cases) d",
    # a date cast to text is its ISO form on both engines (PostgreSQL sessions set DateStyle ISO: store.pg)
    f"INSERT INTO tallies (name, n) SELECT '{OPENED_ON}' || CAST(CAST(opened_at AS DATE) AS VARCHAR), count(*) "
    "FROM cases GROUP BY CAST(opened_at AS DATE)",
]
RECOUNT_RESOLVED = [        # PostgreSQL (keeps_resolved)
    f"INSERT INTO tallies (name, n) SELECT '{RESOLVED_IN}' || bucket, count(*) FROM cases "
    "WHERE state = 'resolved' GROUP BY bucket",
    f"INSERT INTO tallies (name, n) SELECT '{RESOLVED_ON}' || CAST(CAST(resolved_at AS DATE) AS VARCHAR), "
    "count(*) FROM cases WHERE resolved_at IS NOT NULL GROUP BY CAST(resolved_at AS DATE)",
]

_ADD = ("INSERT INTO tallies (name, n) VALUES {values} "
        "ON CONFLICT (name) DO UPDATE SET n = tallies.n + excluded.n")


def keeps_resolved(cur) -> bool:
    """Whether this engine keeps its resolved cases counted (else the Overview counts them)."""
    return cur.dialect.is_postgres


def recount(cur) -> None:
    for statement in RECOUNT + (RECOUNT_RESOLVED if keeps_resolved(cur) else []):
        cur.execute(statement)


def day_name(prefix: str, day: date) -> str:
    return prefix + day.isoformat()


def add(cur, counts: dict[str, int]) -> None:
    """Add to tallies by name (made when missing), in one statement, in name order."""
    items = sorted((name, int(n)) for name, n in counts.items() if n)
    if items:
        cur.execute(_ADD.format(values=", ".join("(?, ?)" for _ in items)), [v for item in items for v in item])


def add_resolved(cur, day: date, bucket: str, n: int) -> None:
    """A case resolved (n = 1) on `day` in `bucket`, or a resolved case reopened (n = -1, `day` the one it had
    been resolved on): one UPDATE of both rows; the first of a day (or bucket) inserts its row. Nothing where
    the engine does not keep them."""
    if not keeps_resolved(cur):
        return
    names = [day_name(RESOLVED_ON, day), RESOLVED_IN + bucket]
    found = cur.execute("UPDATE tallies SET n = n + ? WHERE name IN (?, ?) RETURNING name", [n, *names]).fetchall()
    missing = set(names) - {row[0] for row in found}
    if missing:
        add(cur, {name: n for name in missing})
