"""Applying the rules to orders whose snapshot just changed: open, update or flag cases, in SQL.

* an order that fires nothing and has no case is routine: counted, not queued;
* a firing order with no case (or whose last case was resolved and now fires a rule it did not have)
  opens a case in the highest-precedence bucket, the other buckets kept as flags;
* an open case whose order changed is re-routed (bucket, flags, rules, SLA due) and its version bumped;
  if the order no longer fires anything it is flagged *condition cleared* and stays open. Nothing closes here.

Written in the SQL both engines run; the caller's transaction holds it all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from .queries.sql import plus_seconds
from .rules import RuleSet
from .store import tallies


@dataclass
class RouteResult:
    cases_new_by_bucket: dict[str, int] = field(default_factory=dict)
    cases_updated: int = 0
    routine: int = 0

    @property
    def cases_new(self) -> int:
        return sum(self.cases_new_by_bucket.values())


def sla_due_sql(rules: RuleSet, opened: str = "opened_at", bucket: str = "bucket") -> str:
    return plus_seconds(opened, f"{rules.sla_hours_sql(bucket)} * 3600")


def _temp(cur, name: str, select: str, params=None) -> None:
    for statement in cur.dialect.create_temp(name, select):
        cur.execute(statement, params if statement.startswith("CREATE") else None)


def route_changed(cur, rules: RuleSet, changed: str, now: datetime, actor: str, *,
                  facts: str | None = None, hold: Callable[[], None] = lambda: None,
                  appended: Callable[[str], None] = lambda routed: None) -> RouteResult:
    """Route the orders listed in temp table `changed` (source, order_id; one row per order). Runs inside the caller's
    transaction on its cursor. `facts` may name a table that holds exactly those orders' rows as they
    are being stored (an import's own batch); routing then reads nothing of `orders`. New cases are
    appended first; then `appended(routed)` is called with the name of a temp table of the changed orders
    that have a case now (source, order_id, …): an import appends its orders there. `hold()` is called
    before the cases that exist already are changed (an import's transaction then holds the process's
    other writers: Store.bulk_unit_of_work)."""
    version = rules.full_version
    orders = facts or (f"(SELECT o.* FROM orders o WHERE EXISTS (SELECT 1 FROM {changed} c "
                       f"WHERE o.source = c.source AND o.order_id = c.order_id))")
    if cur.dialect.is_postgres:
        # Hold the cases about to be re-routed (in one order, so two writers never deadlock): a reviewer's
        # decision on one of them waits for this commit and then finds its version moved on, and this
        # re-routing never works from a state a decision has just changed. (DuckDB: one writer at a time.)
        cur.execute(f"""SELECT c.case_id FROM cases c WHERE EXISTS (SELECT 1 FROM {changed} ch
                            WHERE c.source = ch.source AND c.order_id = ch.order_id)
                        ORDER BY c.case_id FOR UPDATE""")
    _temp(cur, "latest", f"""
        SELECT case_id, source, order_id, state, rules_fired, bucket, flags, condition_cleared FROM (
            SELECT c.case_id, c.source, c.order_id, c.state, c.rules_fired, c.bucket, c.flags, c.condition_cleared,
                   row_number() OVER (PARTITION BY c.source, c.order_id ORDER BY c.case_id DESC) AS rn
            FROM cases c WHERE EXISTS (SELECT 1 FROM {changed} ch
                                       WHERE c.source = ch.source AND c.order_id = ch.order_id)) l
        WHERE rn = 1""")
    # Only the orders that concern a case are kept: something fires, or the order has a case already. The
    # rest (most orders) are routine: counted, not written.
    _temp(cur, "routed", f"""SELECT * FROM ({rules.routing_sql(orders, cur.dialect)}) r
        WHERE cardinality(r.buckets) > 0
           OR EXISTS (SELECT 1 FROM latest l WHERE l.source = r.source AND l.order_id = r.order_id)""")

    # New cases: fires something, and no case yet, or the last one is resolved and a new rule fires.
    _temp(cur, "opened", f"""
        SELECT nextval('case_seq') AS case_id, nextval('event_seq') AS event_id, r.source, r.order_id, r.bucket,
               r.flags, r.rules_fired,
               least(r.updated_at, $now) AS opened_at, r.order_total, l.case_id IS NULL AS first_case
        FROM routed r LEFT JOIN latest l ON l.source = r.source AND l.order_id = r.order_id
        WHERE cardinality(r.buckets) > 0
          AND (l.case_id IS NULL OR (l.state = 'resolved' AND NOT (l.rules_fired @> r.rules_fired)))""",
          {"now": now})
    cur.execute(f"""INSERT INTO cases (case_id, source, order_id, bucket, flags, rules_fired, rules_version,
                        state, version, opened_at, sla_due_at, condition_cleared, updated_at, order_total,
                        static_priority)
        SELECT case_id, source, order_id, bucket, flags, rules_fired, $version, 'new', 1, opened_at,
               {sla_due_sql(rules)}, false, $now, order_total, {rules.static_priority_sql()} FROM opened""",
                {"now": now, "version": version})
    # The 'opened' event is dated when the case opened (its SLA clock start: the snapshot's time), so the
    # history of a back-filled feed reads in order. Its id was drawn with the case's: DuckDB appends rows
    # whose ids are given in parallel, and draws a column default one row at a time.
    cur.execute("""INSERT INTO events (event_id, case_id, "at", actor, kind, from_state, to_state, detail)
        SELECT event_id, case_id, opened_at, $actor, 'opened', NULL, 'new',
               'rules: ' || array_to_string(rules_fired, ', ')
        FROM opened""", {"actor": actor})

    # every routed order has a case now: a new one, or the one it had
    appended("routed")

    # Open cases whose order changed: re-route, or flag condition cleared. Version always moves on,
    # because the facts a reviewer saw have changed.
    hold()
    _temp(cur, "touched", f"""
        SELECT l.case_id, l.state,
               cardinality(r.buckets) = 0 AS cleared,
               coalesce(r.bucket, l.bucket) AS bucket,
               CASE WHEN cardinality(r.buckets) = 0 THEN l.flags ELSE r.flags END AS flags,
               CASE WHEN cardinality(r.buckets) = 0 THEN l.rules_fired ELSE r.rules_fired END AS rules_fired,
               r.order_total,
               CASE WHEN cardinality(r.buckets) = 0 AND NOT l.condition_cleared THEN 'condition_cleared'
                    WHEN cardinality(r.buckets) > 0 AND (r.bucket <> l.bucket OR r.rules_fired <> l.rules_fired
                                                         OR l.condition_cleared) THEN 'rerouted'
                    ELSE 'snapshot_updated' END AS kind,
               CASE WHEN cardinality(r.buckets) = 0 THEN 'no rule fires on the new snapshot'
                    ELSE 'rules: ' || array_to_string(r.rules_fired, ', ') END AS detail
        FROM latest l JOIN routed r ON r.source = l.source AND r.order_id = l.order_id
        WHERE l.state <> 'resolved'""")
    cur.execute(f"""UPDATE cases SET bucket = t.bucket, flags = t.flags, rules_fired = t.rules_fired,
            rules_version = CASE WHEN t.cleared THEN cases.rules_version ELSE $version END,
            condition_cleared = t.cleared, order_total = t.order_total,
            sla_due_at = {sla_due_sql(rules, 'cases.opened_at', 't.bucket')},
            static_priority = {rules.static_priority_sql('t.bucket', 't.order_total')},
            version = cases.version + 1, updated_at = $now
        FROM touched t WHERE cases.case_id = t.case_id""", {"now": now, "version": version})
    cur.execute("""INSERT INTO events (case_id, "at", actor, kind, from_state, to_state, detail)
        SELECT case_id, $now, $actor, kind, state, state, detail FROM touched""",
                {"now": now, "actor": actor})

    # the new cases by bucket and by day (one pass), and those that are their order's first
    opened = cur.execute("SELECT bucket, CAST(opened_at AS DATE), count(*), count(*) FILTER (WHERE first_case) "
                         "FROM opened GROUP BY 1, 2").fetchall()
    updated = cur.execute("SELECT count(*) FROM touched").fetchone()[0]
    routine = cur.scalar(f"SELECT count(*) FROM {changed}") - cur.scalar("SELECT count(*) FROM routed")
    by_bucket: dict[str, int] = {}
    kept = {tallies.ORDERS_WITH_CASE: 0}        # the Overview's counts over all of history (store/tallies.py)
    for bucket, day, n, first in opened:
        by_bucket[bucket] = by_bucket.get(bucket, 0) + n
        kept[tallies.ORDERS_WITH_CASE] += first
        name = tallies.day_name(tallies.OPENED_ON, day)
        kept[name] = kept.get(name, 0) + n
    tallies.add(cur, kept)
    for t in ("routed", "latest", "opened", "touched"):
        cur.execute(f"DROP TABLE IF EXISTS {t}")
    return RouteResult(cases_new_by_bucket=by_bucket, cases_updated=updated, routine=routine)


def sync_static_priority(uow, rules: RuleSet) -> int:
    """Recompute the cases' stored static priority when the rules' weights or value points changed since
    it was stored (or it never was). Only the cases whose value differs are written: the ones routing has
    just stored with these rules are not (rewriting them cost a first PostgreSQL import of 300k orders
    11 s, every index entry of every new case written again). Returns how many cases were updated."""
    cur = uow.cursor
    stored = cur.scalar("SELECT value FROM meta WHERE key = 'priority_rules'")
    if stored == rules.priority_key:
        return 0
    differs = f"static_priority IS DISTINCT FROM {rules.static_priority_sql()}"
    n = cur.scalar(f"SELECT count(*) FROM cases WHERE {differs}")
    if n:
        cur.execute(f"UPDATE cases SET static_priority = {rules.static_priority_sql()} WHERE {differs}")
    cur.execute("INSERT INTO meta VALUES ('priority_rules', $key) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value", {"key": rules.priority_key})
    return int(n or 0)
