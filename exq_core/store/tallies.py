"""Counts over all of history that the Overview shows, kept as they change instead of counted on every view.

Orders and resolved cases only ever pile up; counting them on each view made the Overview's cost grow with
the history (PostgreSQL: 70 of its 100 ms at 1M orders went to counting orders, resolved cases and the days
of a month's cases). What is open is still counted from `cases`: the backlog is what a team works down.

* `tallies` (name, n): "orders", "orders_with_case" (an import and its routing change them) and
  "resolved:<bucket>" (a decision that resolves or reopens a case);
* `daily_tallies` (day, kind, n): cases "opened" per UTC day (routing) and "resolved" per day (decisions).

Each is changed in the transaction that changes what it counts. An import and a decision never touch the
same row (opened against resolved), so a long import never holds a reviewer's decision; decisions touch
their rows in one order (day, then bucket). `RECOUNT` counts them all afresh: the migration that added them,
migrate-store's copy and the demo's simulated history use it.
"""
from __future__ import annotations

from datetime import date

RESOLVED = "resolved:"          # + bucket

RECOUNT = [
    "DELETE FROM tallies",
    "INSERT INTO tallies (name, n) SELECT 'orders', count(*) FROM orders",
    "INSERT INTO tallies (name, n) SELECT 'orders_with_case', count(*) FROM "
    "(SELECT DISTINCT source, order_id FROM cases) d",
    f"INSERT INTO tallies (name, n) SELECT '{RESOLVED}' || bucket, count(*) FROM cases "
    "WHERE state = 'resolved' GROUP BY bucket",
    "DELETE FROM daily_tallies",
    "INSERT INTO daily_tallies (day, kind, n) SELECT CAST(opened_at AS DATE), 'opened', count(*) FROM cases "
    "GROUP BY 1",
    "INSERT INTO daily_tallies (day, kind, n) SELECT CAST(resolved_at AS DATE), 'resolved', count(*) FROM cases "
    "WHERE resolved_at IS NOT NULL GROUP BY 1",
]

_ADD = "INSERT INTO tallies (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = tallies.n + excluded.n"
_ADD_DAY = ("INSERT INTO daily_tallies (day, kind, n) VALUES (?, ?, ?) "
            "ON CONFLICT (day, kind) DO UPDATE SET n = daily_tallies.n + excluded.n")


def recount(cur) -> None:
    for statement in RECOUNT:
        cur.execute(statement)


def add(cur, name: str, n: int) -> None:
    if n:
        cur.execute(_ADD, [name, int(n)])


def add_opened(cur, opened: str) -> None:
    """Routing's new cases (temp table `opened`, column opened_at) counted on their days."""
    cur.execute("INSERT INTO daily_tallies (day, kind, n) "
                f"SELECT CAST(opened_at AS DATE), 'opened', count(*) FROM {opened} GROUP BY 1 "
                "ON CONFLICT (day, kind) DO UPDATE SET n = daily_tallies.n + excluded.n")


def add_resolved(cur, day: date, bucket: str, n: int) -> None:
    """A case resolved (n = 1) on `day` in `bucket`, or a resolved case reopened (n = -1: the day it had
    been resolved). The day's row first, then the bucket's: every decision takes them in that order."""
    cur.execute(_ADD_DAY, [day, "resolved", n])
    cur.execute(_ADD, [RESOLVED + bucket, n])
