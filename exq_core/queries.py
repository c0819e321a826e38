"""Named read queries: every number the dashboard and the CLI show, computed in DuckDB.

Each function takes a cursor (or store), the active rules and `now`, and returns plain Python or a small
DataFrame of already-aggregated rows. Pages and `stats --json` call the same functions.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field

from .models import AGE_BANDS, BUCKETS, OPEN_STATES, STATES, Bucket, State
from .rules import RuleSet

AGE_BAND_SQL = f"""CASE WHEN age_h < 4 THEN '{AGE_BANDS[0]}' WHEN age_h < 24 THEN '{AGE_BANDS[1]}'
    WHEN age_h < 72 THEN '{AGE_BANDS[2]}' WHEN age_h < 168 THEN '{AGE_BANDS[3]}' ELSE '{AGE_BANDS[4]}' END"""

OPEN = "state <> 'resolved'"


def _open_cases(now_param: str = "$now") -> str:
    return f"""(SELECT *, epoch({now_param} - opened_at) / 3600.0 AS age_h,
                      {now_param} > sla_due_at AS breached FROM cases WHERE {OPEN})"""


def kpis(cur, now: datetime) -> dict:
    """The Overview's KPI row."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    row = cur.execute(f"""
        SELECT (SELECT count(*) FROM orders) AS orders,
               (SELECT count(DISTINCT (source, order_id)) FROM cases) AS orders_with_case,
               count(*) AS open,
               count(*) FILTER (WHERE breached) AS breached,
               max(age_h) AS oldest_open_hours,
               (SELECT count(*) FROM cases WHERE state = 'resolved' AND resolved_at >= $day) AS resolved_today
        FROM {_open_cases()}""", {"now": now, "day": day_start}).fetchone()
    orders, with_case, open_, breached, oldest, resolved_today = row
    return {"orders": orders, "routine": orders - with_case, "exceptions": with_case, "open": open_,
            "breached": breached, "oldest_open_hours": round(oldest, 2) if oldest is not None else None,
            "exception_rate": round(100.0 * with_case / orders, 2) if orders else 0.0,
            "resolved_today": resolved_today}


def by_bucket_state(cur) -> dict[str, dict[str, int]]:
    """{bucket: {state: n}} for every bucket and state (zeros included)."""
    rows = cur.execute("SELECT bucket, state, count(*) FROM cases GROUP BY ALL").fetchall()
    out = {b.value: {s.value: 0 for s in STATES} for b in BUCKETS}
    for bucket, state, n in rows:
        out.setdefault(bucket, {s.value: 0 for s in STATES})[state] = n
    return out


def aging(cur, now: datetime) -> dict[str, dict[str, int]]:
    """{bucket: {age band: n}} over open cases (every bucket and band, zeros included)."""
    rows = cur.execute(f"SELECT bucket, {AGE_BAND_SQL} AS band, count(*) FROM {_open_cases()} GROUP BY ALL",
                       {"now": now}).fetchall()
    out = {b.value: {band: 0 for band in AGE_BANDS} for b in BUCKETS}
    for bucket, band, n in rows:
        out.setdefault(bucket, {band: 0 for band in AGE_BANDS})[band] = n
    return out


def breaches_by_bucket(cur, now: datetime) -> dict[str, int]:
    rows = dict(cur.execute(f"SELECT bucket, count(*) FROM {_open_cases()} WHERE breached GROUP BY ALL",
                            {"now": now}).fetchall())
    return {b.value: rows.get(b.value, 0) for b in BUCKETS}


def opened_resolved_per_day(cur, now: datetime, days: int = 30) -> list[dict]:
    """Cases opened and resolved per UTC day over the last `days` days (zeros included)."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = cur.execute("""
        WITH days AS (SELECT unnest(generate_series($start, $now, INTERVAL 1 DAY))::DATE AS day),
             o AS (SELECT opened_at::DATE AS day, count(*) AS n FROM cases WHERE opened_at >= $start GROUP BY 1),
             r AS (SELECT resolved_at::DATE AS day, count(*) AS n FROM cases
                   WHERE resolved_at >= $start GROUP BY 1)
        SELECT d.day, coalesce(o.n, 0), coalesce(r.n, 0) FROM days d
        LEFT JOIN o USING (day) LEFT JOIN r USING (day) ORDER BY d.day""",
                       {"start": start, "now": now}).fetchall()
    return [{"day": d, "opened": o, "resolved": r} for d, o, r in rows]


def stats(cur, now: datetime) -> dict:
    """Everything `stats --json` prints; the same numbers the Overview shows."""
    return {**kpis(cur, now), "by_bucket": by_bucket_state(cur), "aging": aging(cur, now),
            "breached_by_bucket": breaches_by_bucket(cur, now)}


# -- the queue ---------------------------------------------------------------------------------------

class QueueFilter(BaseModel):
    """What a person filters the queue by. Saved views store exactly this."""
    buckets: list[Bucket] = []
    states: list[State] = []            # empty: every open state
    assignee: str | None = None         # a username, or "__unassigned__"
    breached_only: bool = False
    min_age_hours: float | None = Field(default=None, ge=0)
    max_age_hours: float | None = Field(default=None, ge=0)
    text: str | None = Field(default=None, max_length=200)
    include_waiting: bool = False       # waiting cases whose follow-up is still in the future
    age_band: Literal[AGE_BANDS] | None = None  # one of the Overview's age bands, counted the same way


UNASSIGNED = "__unassigned__"


def _queue_where(f: QueueFilter) -> tuple[str, dict]:
    where, params = [], {}
    states = [s.value for s in (f.states or OPEN_STATES)]
    where.append("c.state IN (SELECT unnest($states))")
    params["states"] = states
    if not f.include_waiting and (not f.states or State.WAITING not in f.states):
        where.append("NOT (c.state = 'waiting' AND c.follow_up_at > $now)")
    if f.buckets:
        where.append("c.bucket IN (SELECT unnest($buckets))")
        params["buckets"] = [b.value for b in f.buckets]
    if f.assignee == UNASSIGNED:
        where.append("(c.assignee IS NULL OR c.claimed_at IS NULL OR c.claimed_at + INTERVAL 60 MINUTE <= $now)")
    elif f.assignee:
        where.append("c.assignee = $assignee")
        params["assignee"] = f.assignee
    if f.breached_only:
        where.append("c.state <> 'resolved' AND $now > c.sla_due_at")
    if f.min_age_hours is not None:
        where.append("c.opened_at <= $now - to_microseconds(CAST($min_age * 3600000000 AS BIGINT))")
        params["min_age"] = f.min_age_hours
    if f.max_age_hours is not None:
        where.append("c.opened_at >= $now - to_microseconds(CAST($max_age * 3600000000 AS BIGINT))")
        params["max_age"] = f.max_age_hours
    if f.age_band:
        where.append(f"({AGE_BAND_SQL.replace('age_h', '(epoch($now - c.opened_at) / 3600.0)')}) = $age_band")
        params["age_band"] = f.age_band
    if f.text and f.text.strip():
        params["text"] = f.text.strip().lower()
        # The order's text is matched after the join (the expression names c.order_id, so DuckDB cannot push
        # it into the orders scan): only the filtered cases' orders are lowered and searched, not every order.
        where.append("""(contains(lower(c.order_id), $text) OR EXISTS (
            SELECT 1 FROM orders o WHERE o.source = c.source AND o.order_id = c.order_id AND
                contains(lower(concat_ws(chr(31), c.order_id, o.customer_id, o.customer_email, o.ship_name,
                                         o.customer_message)), $text)))""")
    return " AND ".join(where), params


QUEUE_COLUMNS = ("case_id", "priority", "bucket", "state", "order_id", "order_total", "currency", "age_hours",
                 "sla_remaining_hours", "sla_remaining_fraction", "breached", "claimed_by", "assignee",
                 "condition_cleared", "flags", "rules_fired", "follow_up_at", "bucket_weight", "value_points",
                 "urgency_points", "opened_at", "version", "source")


def queue_view(cur, rules: RuleSet, now: datetime, f: QueueFilter | None = None, *, limit: int = 50,
               offset: int = 0):
    """What the Queue shows for a filter: one page in escalate-first order (priority desc, then oldest
    first) with the priority's terms, the number of matching cases, and how many waiting cases the filter
    hides because their follow-up time has not come. Paging happens in DuckDB; the filter is evaluated once."""
    f = f or QueueFilter()
    hides_snoozed = not f.include_waiting and not (f.states and State.WAITING in f.states)
    text = (f.text or "").strip().lower()
    where, params = _queue_where(f.model_copy(update={"include_waiting": True, "text": None}))
    cases, currency = "cases", "NULL::VARCHAR"
    if text:
        # A text search joins the orders anyway: match there (after the join, so only the filtered cases'
        # orders are searched) and take the currency along instead of looking it up afterwards.
        cases = """(SELECT c.*, o.currency AS _currency, concat_ws(chr(31), c.order_id, o.customer_id,
                           o.customer_email, o.ship_name, o.customer_message) AS _text
                    FROM cases c LEFT JOIN orders o ON o.source = c.source AND o.order_id = c.order_id)"""
        where += " AND contains(lower(c._text), $text)"
        params["text"] = text
        currency = "p._currency"
    snoozed = "(c.state = 'waiting' AND c.follow_up_at > $now)" if hides_snoozed else "false"
    terms = rules.priority_term_sql("$now")
    params |= {"now": now, "limit": limit, "offset": offset}
    rows = cur.execute(f"""
        WITH matched AS MATERIALIZED (
            SELECT c.*, coalesce({snoozed}, false) AS snoozed, {terms['bucket_weight']} AS bucket_weight,
                   {terms['value_points']} AS value_points, {terms['urgency_points']} AS urgency_points
            FROM {cases} c WHERE {where}),
        counts AS (SELECT count(*) FILTER (WHERE NOT snoozed) AS total, count(*) FILTER (WHERE snoozed) AS hidden
                   FROM matched),
        page AS (
            SELECT * FROM matched WHERE NOT snoozed
            ORDER BY bucket_weight + value_points + urgency_points DESC, opened_at ASC, case_id ASC
            LIMIT $limit OFFSET $offset)
        SELECT n.total AS _total, n.hidden AS _hidden, {currency} AS _currency,
               p.case_id, round(p.bucket_weight + p.value_points + p.urgency_points, 1) AS priority,
               p.bucket, p.state, p.order_id, p.order_total,
               epoch($now - p.opened_at) / 3600.0 AS age_hours,
               epoch(p.sla_due_at - $now) / 3600.0 AS sla_remaining_hours,
               greatest(0.0, least(1.0, epoch(p.sla_due_at - $now) / nullif(epoch(p.sla_due_at - p.opened_at), 0)))
                   AS sla_remaining_fraction,
               $now > p.sla_due_at AS breached,
               CASE WHEN p.claimed_at + INTERVAL 60 MINUTE > $now THEN p.assignee END AS claimed_by,
               p.assignee, p.condition_cleared, p.flags, p.rules_fired, p.follow_up_at,
               p.bucket_weight, round(p.value_points, 2) AS value_points, p.urgency_points,
               p.opened_at, p.version, p.source
        FROM counts n LEFT JOIN page p ON true
        ORDER BY p.bucket_weight + p.value_points + p.urgency_points DESC, p.opened_at ASC, p.case_id ASC""",
                       params).df()
    total, hidden = int(rows.iat[0, 0]), int(rows.iat[0, 1])
    page = rows.iloc[:, 3:] if pd.notna(rows.iat[0, 3]) else rows.iloc[0:0, 3:]   # no page: one row of counts
    if text:
        currencies = list(rows["_currency"].iloc[:len(page)])
    else:
        # The page's currencies in a second query filtered by the page's order ids: a join would read the
        # orders table's columns for every order (DuckDB's join filter only prunes row groups).
        keys = list(zip(page["source"], page["order_id"]))
        found = dict(((src, oid), c) for src, oid, c in cur.execute(
            "SELECT source, order_id, currency FROM orders WHERE order_id = ANY($ids) AND source = ANY($sources)",
            {"ids": list({k[1] for k in keys}), "sources": list({k[0] for k in keys})}).fetchall()) if keys else {}
        currencies = [found.get(k) for k in keys]
    page.insert(QUEUE_COLUMNS.index("currency"), "currency", currencies)
    return page, total, hidden


def queue_page(cur, rules: RuleSet, now: datetime, f: QueueFilter | None = None, *, limit: int = 50,
               offset: int = 0):
    """One page of the queue in escalate-first order and the total number of matching cases."""
    page, total, _ = queue_view(cur, rules, now, f, limit=limit, offset=offset)
    return page, total


def next_unclaimed(cur, rules: RuleSet, now: datetime, f: QueueFilter | None = None,
                   exclude: list[int] | None = None) -> int | None:
    """The top case of the queue nobody holds a live claim on (what 'claim next' takes)."""
    f = (f or QueueFilter()).model_copy(update={"assignee": UNASSIGNED})
    where, params = _queue_where(f)
    if exclude:
        where += " AND c.case_id NOT IN (SELECT unnest($exclude))"
        params["exclude"] = list(exclude)
    row = cur.execute(f"""SELECT c.case_id FROM cases c WHERE {where}
                          ORDER BY {rules.priority_sql('$now')} DESC, c.opened_at, c.case_id LIMIT 1""",
                      params | {"now": now}).fetchone()
    return row[0] if row else None


def cases_by_id(cur, now: datetime, case_ids: list[int]):
    """The few facts a bulk action shows per selected case (bucket, state, version, who holds it), in the
    order given."""
    return cur.execute("""
        SELECT c.case_id, c.order_id, c.bucket, c.state, c.version, c.order_total,
               CASE WHEN c.claimed_at + INTERVAL 60 MINUTE > $now THEN c.assignee END AS claimed_by,
               c.follow_up_at
        FROM cases c JOIN (SELECT unnest($ids) AS case_id, generate_subscripts($ids, 1) AS pos) i USING (case_id)
        ORDER BY i.pos""", {"now": now, "ids": [int(i) for i in case_ids]}).df()


def case_detail(cur, rules: RuleSet, case_id: int, now: datetime) -> dict | None:
    """A case with its order's facts and the priority's terms, for the Review page."""
    terms = rules.priority_term_sql("$now")
    df = cur.execute(f"""
        SELECT c.*, {terms['bucket_weight']} AS bucket_weight, {terms['value_points']} AS value_points,
               {terms['urgency_points']} AS urgency_points,
               epoch(c.sla_due_at - $now) / 3600.0 AS sla_remaining_hours, $now > c.sla_due_at AS breached,
               CASE WHEN c.claimed_at + INTERVAL 60 MINUTE > $now THEN c.assignee END AS claimed_by,
               c.claimed_at + INTERVAL 60 MINUTE AS claim_expires_at
        FROM cases c WHERE c.case_id = $id""", {"now": now, "id": case_id}).fetchone()
    if df is None:
        return None
    names = [d[0] for d in cur.description]
    case = dict(zip(names, df))
    case["priority"] = case["bucket_weight"] + case["value_points"] + case["urgency_points"]
    order = cur.execute("SELECT * FROM orders WHERE source = ? AND order_id = ?",
                        [case["source"], case["order_id"]]).fetchone()
    case["order"] = dict(zip([d[0] for d in cur.description], order)) if order else {}
    return case


def history(cur, case_id: int):
    """Events and decisions of a case, oldest first."""
    return cur.execute("""
        SELECT "at", actor, kind, from_state, to_state, detail, NULL AS verdict, NULL AS action,
               NULL AS resolution_reason, NULL AS evidence, NULL AS note
        FROM events WHERE case_id = $id
        UNION ALL
        SELECT decided_at, reviewer, 'decision', from_state, to_state, override_note, verdict, action,
               resolution_reason, evidence, note
        FROM decisions WHERE case_id = $id
        ORDER BY 1, 3""", {"id": case_id}).df()


def last_import(cur) -> dict | None:
    row = cur.execute("""SELECT import_id, file_name, finished_at, status, rows_read FROM imports
                         WHERE status IN ('imported', 'partial') ORDER BY import_id DESC LIMIT 1""").fetchone()
    return dict(zip(("import_id", "file_name", "finished_at", "status", "rows"), row)) if row else None
