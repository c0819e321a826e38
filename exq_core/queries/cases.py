"""One case: as the workflow sees it, as the Review page shows it, and its history."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import CaseNotFound
from ..models import FEED_COLUMNS, Case
from ..rules import RuleSet
from ..workflow import CLAIM_MINUTES
from .sql import claim_cutoff, claimed_by, hours_between

if TYPE_CHECKING:
    import pandas as pd

CASE_COLUMNS = ("case_id", "source", "order_id", "bucket", "flags", "rules_fired", "rules_version", "state",
                "version", "opened_at", "sla_due_at", "condition_cleared", "assignee", "claimed_at",
                "follow_up_at", "resolution_reason", "resolved_at", "updated_at")


def load_case(cur, case_id: int, *, lock: bool = False) -> Case:
    """The case as the workflow decides on it. `lock` (inside a unit of work) holds its row until commit, so
    two processes never decide on the same version at once (PostgreSQL; DuckDB serialises writers)."""
    row = cur.execute(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE case_id = ?"
                      f"{cur.dialect.for_update if lock else ''}", [int(case_id)]).fetchone()
    if row is None:
        raise CaseNotFound(case_id)
    return Case(**dict(zip(CASE_COLUMNS, row)))


def case_detail(cur, rules: RuleSet, case_id: int, now: datetime) -> dict | None:
    """A case with its order's facts and the priority's terms, for the Review page and the assistant."""
    terms = rules.priority_term_sql("$now", "c.")
    row = cur.execute(f"""
        SELECT c.*, {terms['bucket_weight']} AS bucket_weight, {terms['value_points']} AS value_points,
               {terms['urgency_points']} AS urgency_points,
               {hours_between('c.sla_due_at', '$now')} AS sla_remaining_hours, $now > c.sla_due_at AS breached,
               {claimed_by('c')} AS claimed_by
        FROM cases c WHERE c.case_id = $id""",
                      {"now": now, "id": int(case_id), "claimed_after": claim_cutoff(now)}).fetchone()
    if row is None:
        return None
    case = dict(zip(cur.columns, row))
    case["claim_expires_at"] = case["claimed_at"] + timedelta(minutes=CLAIM_MINUTES) if case["claimed_at"] else None
    case["priority"] = case["bucket_weight"] + case["value_points"] + case["urgency_points"]
    order = cur.execute(f"SELECT {', '.join(('source', *FEED_COLUMNS))} FROM orders WHERE source = ? AND order_id = ?",
                        [case["source"], case["order_id"]]).fetchone()
    case["order"] = dict(zip(cur.columns, order)) if order else {}
    return case


def history(cur, case_id: int) -> pd.DataFrame:
    """Events and decisions of a case, oldest first."""
    return cur.execute("""
        SELECT "at", actor, kind, from_state, to_state, detail, verdict, action, resolution_reason, evidence,
               note FROM (
            SELECT "at", actor, kind, from_state, to_state, detail, CAST(NULL AS VARCHAR) AS verdict,
                   CAST(NULL AS VARCHAR) AS action, CAST(NULL AS VARCHAR) AS resolution_reason,
                   CAST(NULL AS VARCHAR) AS evidence, CAST(NULL AS VARCHAR) AS note, event_id AS seq, 0 AS src
            FROM events WHERE case_id = $id
            UNION ALL
            SELECT decided_at, reviewer, 'decision', from_state, to_state, override_note, verdict, action,
                   resolution_reason, evidence, note, decision_id, 1
            FROM decisions WHERE case_id = $id) h
        ORDER BY "at", src, seq""", {"id": int(case_id)}).df()
