"""What-if: how would routing and the queue change under other thresholds, SLAs or weights?

Nothing is written. Both rule sets route every stored order in DuckDB and the results are compared;
the open queue is re-prioritised with the proposed weights and SLAs.
"""
from __future__ import annotations

from datetime import datetime

import tomli_w

from .models import BUCKETS
from .routing import sla_due_sql
from .rules import RuleSet


def _routed_buckets(cur, rules: RuleSet, table: str) -> None:
    for statement in cur.dialect.create_temp(
            table, f"SELECT source, order_id, bucket FROM ({rules.routing_sql('orders', cur.dialect)}) r"):
        cur.execute(statement)


def compare_routing(cur, current: RuleSet, proposed: RuleSet) -> dict:
    """Per bucket, how many orders each rule set routes there (primary bucket), and the moves between them."""
    _routed_buckets(cur, current, "wi_current")
    _routed_buckets(cur, proposed, "wi_proposed")
    moves = cur.execute("""
        SELECT coalesce(c.bucket, 'routine') AS from_bucket, coalesce(p.bucket, 'routine') AS to_bucket,
               count(*) AS orders
        FROM wi_current c JOIN wi_proposed p USING (source, order_id)
        WHERE c.bucket IS DISTINCT FROM p.bucket
        GROUP BY 1, 2 ORDER BY orders DESC, 1, 2""").fetchall()
    current = dict(cur.execute("SELECT bucket, count(*) FROM wi_current GROUP BY bucket").fetchall())
    proposed = dict(cur.execute("SELECT bucket, count(*) FROM wi_proposed GROUP BY bucket").fetchall())
    routine = (current.get(None, 0), proposed.get(None, 0))
    cur.execute("DROP TABLE wi_current")
    cur.execute("DROP TABLE wi_proposed")
    rows = [{"bucket": b.value, "current": current.get(b.value, 0), "proposed": proposed.get(b.value, 0),
             "change": proposed.get(b.value, 0) - current.get(b.value, 0)} for b in BUCKETS]
    rows.append({"bucket": "routine", "current": routine[0], "proposed": routine[1],
                 "change": routine[1] - routine[0]})
    return {"buckets": rows, "moves": [{"from": f, "to": t, "orders": n} for f, t, n in moves]}


def queue_top(cur, rules: RuleSet, now: datetime, limit: int = 20) -> list[dict]:
    """The top of the open queue as these rules' weights and SLAs would order it."""
    rows = cur.execute(f"""
        SELECT case_id, order_id, bucket, {cur.dialect.round(rules.priority_sql('$now'), 1)} AS priority
        FROM (SELECT case_id, order_id, bucket, order_total, opened_at, {sla_due_sql(rules)} AS sla_due_at
              FROM cases WHERE state <> 'resolved' AND NOT (state = 'waiting' AND coalesce(follow_up_at > $now, false))) c
        ORDER BY {rules.priority_sql('$now')} DESC, opened_at, case_id LIMIT $limit""",
                       {"now": now, "limit": limit}).fetchall()
    return [{"rank": i + 1, "case_id": c, "order_id": o, "bucket": b, "priority": p}
            for i, (c, o, b, p) in enumerate(rows)]


def to_toml(rules: RuleSet) -> str:
    """The rule set as a rules file a manager can save and point EXQ_RULES at."""
    data = rules.model_dump(mode="json", exclude={"source_hash"})
    for rule in data["rules"]:
        for key, value in list(rule.items()):
            if value is None:
                del rule[key]
    return tomli_w.dumps(data)
