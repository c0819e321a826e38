"""The Queue: what to escalate first, filtered and paged in the database.

Escalate-first order is SPEC §3's priority descending, then oldest first, then case id. Most of a case's
priority is fixed (bucket weight + value points, stored as `static_priority`); only urgency moves with the
clock, and it adds at most `max_urgency` (30) points. So a page never sorts the whole backlog: the K best
cases by fixed priority give a floor L for the K-th best priority overall, and only cases whose fixed
priority reaches L − max_urgency can be on the page. Same order as sorting everything (a test compares
both on random data), at a cost that does not grow with the backlog.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError

from ..models import AGE_BANDS, OPEN_STATES, Bucket, State
from ..rules import RuleSet
from ..store.dialect import DUCKDB, Dialect
from .sql import age_band, claim_cutoff, claimed_by, hours_between

if TYPE_CHECKING:
    import pandas as pd


class QueueFilter(BaseModel):
    """What a person filters the queue by. Saved views store exactly this."""
    buckets: list[Bucket] = []
    states: list[State] = []            # empty: every open state
    assignee: str | None = None         # a username, or "__unassigned__"
    breached_only: bool = False
    min_age_hours: float | None = Field(default=None, ge=0, le=1e6)
    max_age_hours: float | None = Field(default=None, ge=0, le=1e6)
    text: str | None = Field(default=None, max_length=200)
    include_waiting: bool = False       # waiting cases whose follow-up is still in the future
    age_band: Literal[AGE_BANDS] | None = None  # one of the Overview's age bands, counted the same way


UNASSIGNED = "__unassigned__"


def search_term(text: str | None) -> str:
    """The text a search looks for, lower-cased as the order's text is when it is compared."""
    return (text or "").strip().lower()


def queue_where(f: QueueFilter, now: datetime, *, snoozed: bool = False, exclude: list[int] | None = None,
                dialect: Dialect = DUCKDB) -> tuple[str, dict]:
    """WHERE clause (over `cases c`) and parameters for a filter. `snoozed=True` keeps the waiting cases
    whose follow-up is still ahead even when the filter hides them (to count them); `exclude`: case ids
    left out (the ones 'claim next' just lost to someone else)."""
    where, params = [], {"now": now}
    params["states"] = [s.value for s in (f.states or OPEN_STATES)]
    where.append("c.state = ANY($states)")
    if not snoozed and not f.include_waiting and (not f.states or State.WAITING not in f.states):
        where.append("NOT (c.state = 'waiting' AND coalesce(c.follow_up_at > $now, false))")
    if f.buckets:
        where.append("c.bucket = ANY($buckets)")
        params["buckets"] = [b.value for b in f.buckets]
    if f.assignee == UNASSIGNED:
        where.append("(c.assignee IS NULL OR c.claimed_at IS NULL OR c.claimed_at <= $claimed_after)")
        params["claimed_after"] = claim_cutoff(now)
    elif f.assignee:
        where.append("c.assignee = $assignee")
        params["assignee"] = f.assignee
    if f.breached_only:
        where.append("c.state <> 'resolved' AND $now > c.sla_due_at")
    if f.min_age_hours is not None:
        where.append("c.opened_at <= $now - $min_age * INTERVAL '1 hour'")
        params["min_age"] = float(f.min_age_hours)
    if f.max_age_hours is not None:
        where.append("c.opened_at >= $now - $max_age * INTERVAL '1 hour'")
        params["max_age"] = float(f.max_age_hours)
    if f.age_band:
        where.append(f"({age_band(hours_between('$now', 'c.opened_at'))}) = $age_band")
        params["age_band"] = f.age_band
    text = search_term(f.text)
    if text:
        condition, text_params = dialect.order_text_contains("o", text)
        where.append("EXISTS (SELECT 1 FROM orders o WHERE o.source = c.source AND o.order_id = c.order_id "
                     f"AND {condition})")
        params.update(text_params)
    if exclude:
        where.append("NOT (c.case_id = ANY($exclude))")
        params["exclude"] = [int(i) for i in exclude]
    return " AND ".join(where), params


QUEUE_COLUMNS = ("case_id", "priority", "bucket", "state", "order_id", "order_total", "currency", "age_hours",
                 "sla_remaining_hours", "sla_remaining_fraction", "breached", "claimed_by", "assignee",
                 "condition_cleared", "flags", "rules_fired", "follow_up_at", "bucket_weight", "value_points",
                 "urgency_points", "opened_at", "version", "source")


def _static_sql(cur, rules: RuleSet) -> str:
    """The stored static priority when it was computed with these rules, else the expression itself."""
    stored = cur.scalar("SELECT value FROM meta WHERE key = 'priority_rules'")
    return "c.static_priority" if stored == rules.priority_key else rules.static_priority_sql("c.bucket",
                                                                                              "c.order_total")


def _urgency_room(rules: RuleSet) -> float:
    """The most urgency can add, with room for floating point: (a + 30) - 30 is not always a."""
    return float(rules.priority.max_urgency) + 1e-6


def page_ids(cur, rules: RuleSet, now: datetime, where: str, params: dict, *, limit: int, offset: int) -> list[int]:
    """The case ids of one page in escalate-first order, pruned by the most urgency can add."""
    k = offset + limit
    static = _static_sql(cur, rules)
    priority = f"({static} + {rules.urgency_sql('$now', 'c.')})"
    # The floor first, on its own: as a plain bound the prune is an index range on PostgreSQL (joined to
    # the floor's subquery it was a filter over every open case).
    low = cur.execute(f"""
        SELECT CASE WHEN count(*) < $k THEN NULL ELSE min(priority) END FROM (
            SELECT {priority} AS priority FROM cases c WHERE {where}
            ORDER BY {static} DESC LIMIT $k) top_static""", params | {"k": k}).fetchone()[0]
    prune = ""
    if low is not None:
        prune = f" AND {static} >= $floor"
        params = params | {"floor": float(low) - _urgency_room(rules)}
    def page(prune: str, params: dict) -> list[int]:
        return [r[0] for r in cur.execute(f"""
            SELECT c.case_id FROM cases c
            WHERE {where}{prune}
            ORDER BY {priority} DESC, c.opened_at ASC, c.case_id ASC
            LIMIT $limit OFFSET $offset""", params | {"limit": limit, "offset": offset}).fetchall()]

    ids = page(prune, params)
    if prune and len(ids) < limit:
        # Cases changed between the two statements (a claim, a decision): the floor may no longer hold.
        # Without it the page is right whatever happened meanwhile.
        ids = page("", {key: value for key, value in params.items() if key != "floor"})
    return ids


def page_rows(cur, rules: RuleSet, now: datetime, ids: list[int]) -> pd.DataFrame:
    """What the Queue shows for these cases, in the order given."""
    terms = rules.priority_term_sql("$now", "c.")
    frame = cur.execute(f"""
        SELECT c.case_id, {cur.dialect.round(f"{terms['bucket_weight']} + {terms['value_points']} + {terms['urgency_points']}", 1)}
                   AS priority,
               c.bucket, c.state, c.order_id, c.order_total, o.currency,
               {hours_between('$now', 'c.opened_at')} AS age_hours,
               {hours_between('c.sla_due_at', '$now')} AS sla_remaining_hours,
               greatest(0.0, least(1.0, {hours_between('c.sla_due_at', '$now')} /
                        nullif({hours_between('c.sla_due_at', 'c.opened_at')}, 0))) AS sla_remaining_fraction,
               $now > c.sla_due_at AS breached,
               {claimed_by('c')} AS claimed_by,
               c.assignee, c.condition_cleared, c.flags, c.rules_fired, c.follow_up_at,
               {terms['bucket_weight']} AS bucket_weight, {cur.dialect.round(terms['value_points'], 2)} AS value_points,
               {terms['urgency_points']} AS urgency_points,
               c.opened_at, c.version, c.source, array_position($ids, c.case_id) AS pos
        FROM cases c LEFT JOIN orders o ON o.source = c.source AND o.order_id = c.order_id
        WHERE c.case_id = ANY($ids)
        ORDER BY pos""", {"now": now, "ids": [int(i) for i in ids], "claimed_after": claim_cutoff(now)}).df()
    return frame.drop(columns=["pos"])[list(QUEUE_COLUMNS)]


def _snoozed_sql(f: QueueFilter) -> str:
    """True for the waiting cases the filter hides because their follow-up time has not come."""
    hides = not f.include_waiting and not (f.states and State.WAITING in f.states)
    return "(c.state = 'waiting' AND coalesce(c.follow_up_at > $now, false))" if hides else "false"


def counts(cur, now: datetime, f: QueueFilter) -> tuple[int, int]:
    """(matching cases, waiting cases the filter hides because their follow-up time has not come)."""
    where, params = queue_where(f, now, snoozed=True, dialect=cur.dialect)
    snoozed = _snoozed_sql(f)
    total, hidden = cur.execute(f"""SELECT count(*) FILTER (WHERE NOT {snoozed}), count(*) FILTER (WHERE {snoozed})
                                    FROM cases c WHERE {where}""", params).fetchone()
    return int(total), int(hidden)


def searched(cur, rules: RuleSet, now: datetime, f: QueueFilter, *, limit: int, offset: int,
             exclude: list[int] | None = None) -> tuple[list[int], int, int]:
    """A text search in one statement: every order's text is read once, into the matching cases, and the
    page (escalate-first order, pruned as in page_ids) and both counts come from that set. A search that
    walked the priority order would look at every open case when few match; one that handed the matching
    ids back to three more statements paid for a 57,000-id list three times."""
    where, params = queue_where(f, now, snoozed=True, exclude=exclude, dialect=cur.dialect)
    static = _static_sql(cur, rules)
    priority = f"(c.static_priority + {rules.urgency_sql('$now', 'c.')})"
    k = offset + limit
    room = _urgency_room(rules)
    ids, total, hidden = cur.execute(f"""
        WITH found AS MATERIALIZED (
            SELECT c.case_id, {static} AS static_priority, c.opened_at, c.sla_due_at, {_snoozed_sql(f)} AS snoozed
            FROM cases c WHERE {where}),
        bound AS (
            SELECT CASE WHEN count(*) < $k THEN NULL ELSE min({priority}) - $room END AS low
            FROM (SELECT * FROM found WHERE NOT snoozed ORDER BY static_priority DESC LIMIT $k) c),
        page AS (
            SELECT c.case_id, {priority} AS priority, c.opened_at FROM found c, bound
            WHERE NOT c.snoozed AND (bound.low IS NULL OR c.static_priority >= bound.low)
            ORDER BY priority DESC, c.opened_at ASC, c.case_id ASC LIMIT $limit OFFSET $offset)
        SELECT (SELECT array_agg(case_id ORDER BY priority DESC, opened_at ASC, case_id ASC) FROM page),
               count(*) FILTER (WHERE NOT snoozed), count(*) FILTER (WHERE snoozed)
        FROM found""", params | {"k": k, "room": room, "limit": limit, "offset": offset}).fetchone()
    return [int(i) for i in ids or []], int(total), int(hidden)


def queue_view(cur, rules: RuleSet, now: datetime, f: QueueFilter | None = None, *, limit: int = 50,
               offset: int = 0):
    """What the Queue shows for a filter: one page in escalate-first order with the priority's terms, the
    number of matching cases, and how many waiting cases the filter hides because their follow-up time
    has not come."""
    f = f or QueueFilter()
    if search_term(f.text):
        ids, total, hidden = searched(cur, rules, now, f, limit=limit, offset=offset)
    else:
        where, params = queue_where(f, now, dialect=cur.dialect)
        ids = page_ids(cur, rules, now, where, params, limit=limit, offset=offset)
        total, hidden = counts(cur, now, f)
    if not ids:
        import pandas as pd
        return pd.DataFrame(columns=list(QUEUE_COLUMNS)), total, hidden
    page = page_rows(cur, rules, now, ids)
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
    if search_term(f.text):
        ids = searched(cur, rules, now, f, limit=1, offset=0, exclude=exclude)[0]
        return ids[0] if ids else None
    where, params = queue_where(f, now, exclude=exclude, dialect=cur.dialect)
    ids = page_ids(cur, rules, now, where, params, limit=1, offset=0)
    return ids[0] if ids else None


def cases_by_id(cur, now: datetime, case_ids: list[int]) -> pd.DataFrame:
    """The few facts a bulk action shows per selected case (bucket, state, version, who holds it), in the
    order given."""
    return cur.execute(f"""
        SELECT c.case_id, c.order_id, c.bucket, c.flags, c.state, c.version, c.order_total,
               {claimed_by('c')} AS claimed_by, c.follow_up_at
        FROM cases c WHERE c.case_id = ANY($ids)
        ORDER BY array_position($ids, c.case_id)""",
                       {"ids": [int(i) for i in case_ids], "claimed_after": claim_cutoff(now)}).df()


def assignees(cur) -> list[str]:
    """Everyone who holds or held an open case, for the assignee filter."""
    return [r[0] for r in cur.execute(
        "SELECT DISTINCT assignee FROM cases WHERE assignee IS NOT NULL AND state <> 'resolved' ORDER BY 1"
    ).fetchall()]


# -- saved views ---------------------------------------------------------------------------------------

ViewName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class SavedView(BaseModel):
    """A person's named Queue filter."""
    owner: str
    name: ViewName
    filters: QueueFilter
    created_at: datetime


def list_views(cur, owner: str) -> list[SavedView]:
    """The owner's saved views, by name. A view whose stored filter no longer validates is skipped."""
    views = []
    for owner_, name, filters, created_at in cur.execute(
            "SELECT owner, name, filters, created_at FROM saved_views WHERE owner = ? ORDER BY lower(name), name",
            [owner]).fetchall():
        try:
            data = json.loads(filters) if isinstance(filters, str) else filters
            views.append(SavedView(owner=owner_, name=name, created_at=created_at,
                                   filters=QueueFilter.model_validate(data)))
        except (ValidationError, ValueError, TypeError):
            continue
    return views


def get_view(cur, owner: str, name: str) -> SavedView | None:
    return next((v for v in list_views(cur, owner) if v.name == name), None)
