"""The Overview's numbers and `stats --json`: counts, backlog age and flow, every aggregate in the database."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from ..models import AGE_BANDS, BUCKETS, STATES
from ..store import tallies
from .sql import OPEN, age_band, hours_between


def _open_cases() -> str:
    return f"""(SELECT bucket, {hours_between('$now', 'opened_at')} AS age_h, $now > sla_due_at AS breached
                FROM cases WHERE {OPEN})"""


def kpis(cur, now: datetime) -> dict:
    """The Overview's KPI row."""
    row = cur.execute(f"""
        SELECT coalesce((SELECT n FROM tallies WHERE name = $orders), 0) AS orders,
               coalesce((SELECT n FROM tallies WHERE name = $with_case), 0) AS orders_with_case,
               count(*) AS open,
               count(*) FILTER (WHERE breached) AS breached,
               max(age_h) AS oldest_open_hours
        FROM {_open_cases()} o""", {"now": now, "orders": tallies.ORDERS,
                                    "with_case": tallies.ORDERS_WITH_CASE}).fetchone()
    orders, with_case, open_, breached, oldest = row
    return {"orders": orders, "routine": orders - with_case, "exceptions": with_case, "open": open_,
            "breached": breached, "oldest_open_hours": round(oldest, 2) if oldest is not None else None,
            "exception_rate": round(100.0 * with_case / orders, 2) if orders else 0.0,
            "resolved_today": _resolved_per_day(cur, now.date(), now.date()).get(now.date(), 0)}


def _resolved_per_day(cur, first: date, last: date) -> dict[date, int]:
    """Cases resolved per UTC day from `first` to `last`: kept counts, or counted (store/tallies.py)."""
    if tallies.keeps_resolved(cur):
        return {date.fromisoformat(name[len(tallies.RESOLVED_ON):]): n
                for name, n in _tallies_named(cur, tallies.RESOLVED_ON, first, last).items()}
    return dict(cur.execute("SELECT CAST(resolved_at AS DATE), count(*) FROM cases WHERE resolved_at >= ? "
                            "AND resolved_at < ? GROUP BY 1", [first, last + timedelta(days=1)]).fetchall())


def _tallies_named(cur, prefix: str, first: date, last: date) -> dict[str, int]:
    """The kept counts of each day from `first` to `last` (named by prefix and ISO day), by name."""
    names = [tallies.day_name(prefix, first + timedelta(days=i)) for i in range((last - first).days + 1)]
    return {name: int(n) for name, n in cur.execute(
        f"SELECT name, n FROM tallies WHERE name IN ({', '.join('?' * len(names))})", names).fetchall()}


def by_bucket_state(cur) -> dict[str, dict[str, int]]:
    """{bucket: {state: n}} for every bucket and state (zeros included). Resolved cases, the growing history,
    are kept counted on PostgreSQL (store/tallies.py); open ones are counted."""
    if tallies.keeps_resolved(cur):
        sql = f"""SELECT bucket, state, count(*) FROM cases WHERE {OPEN} GROUP BY bucket, state
                  UNION ALL
                  SELECT substr(name, {len(tallies.RESOLVED_IN) + 1}), 'resolved', n FROM tallies
                  WHERE name LIKE '{tallies.RESOLVED_IN}%' AND n <> 0"""
    else:
        sql = "SELECT bucket, state, count(*) FROM cases GROUP BY bucket, state"
    out = {b.value: {s.value: 0 for s in STATES} for b in BUCKETS}
    for bucket, state, n in cur.execute(sql).fetchall():
        out.setdefault(bucket, {s.value: 0 for s in STATES})[state] = int(n)
    return out


def aging(cur, now: datetime) -> dict[str, dict[str, int]]:
    """{bucket: {age band: n}} over open cases (every bucket and band, zeros included)."""
    rows = cur.execute(f"SELECT bucket, {age_band('age_h')} AS band, count(*) FROM {_open_cases()} o "
                       "GROUP BY 1, 2", {"now": now}).fetchall()
    out = {b.value: {band: 0 for band in AGE_BANDS} for b in BUCKETS}
    for bucket, band, n in rows:
        out.setdefault(bucket, {band: 0 for band in AGE_BANDS})[band] = n
    return out


def breaches_by_bucket(cur, now: datetime) -> dict[str, int]:
    rows = dict(cur.execute("SELECT bucket, count(*) FROM cases WHERE state <> 'resolved' AND sla_due_at < $now "
                            "GROUP BY bucket", {"now": now}).fetchall())
    return {b.value: rows.get(b.value, 0) for b in BUCKETS}


def opened_resolved_per_day(cur, now: datetime, days: int = 30) -> list[dict]:
    """Cases opened and resolved per UTC day over the last `days` days (zeros included)."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    first, last = start.date(), (start + timedelta(days=days - 1)).date()
    opened = _tallies_named(cur, tallies.OPENED_ON, first, last)
    resolved = _resolved_per_day(cur, first, last)
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        out.append({"day": day, "opened": opened.get(tallies.day_name(tallies.OPENED_ON, day), 0),
                    "resolved": int(resolved.get(day, 0))})
    return out


def stats(cur, now: datetime) -> dict:
    """Everything `stats --json` prints; the same numbers the Overview shows."""
    return {**kpis(cur, now), "by_bucket": by_bucket_state(cur), "aging": aging(cur, now),
            "breached_by_bucket": breaches_by_bucket(cur, now)}


def overview(cur, now: datetime, days: int = 30) -> dict:
    """Every number and series the Overview shows: `stats` plus cases opened and resolved per day."""
    return {**stats(cur, now), "per_day": opened_resolved_per_day(cur, now, days)}


def data_stamp(cur) -> tuple:
    """Changes whenever anything is written (every state change appends an event; every import and every
    suggestion a row). Cached reads take it as an argument."""
    return cur.execute("SELECT (SELECT max(event_id) FROM events), (SELECT max(import_id) FROM imports), "
                       "(SELECT max(suggestion_id) FROM suggestions)").fetchone()


def last_import(cur) -> dict | None:
    row = cur.execute("""SELECT import_id, file_name, finished_at, status, rows_read FROM imports
                         WHERE status IN ('imported', 'partial', 'unchanged') ORDER BY import_id DESC LIMIT 1""").fetchone()
    return dict(zip(("import_id", "file_name", "finished_at", "status", "rows"), row)) if row else None


def any_case(cur) -> bool:
    return cur.execute("SELECT EXISTS (SELECT 1 FROM cases)").fetchone()[0]
