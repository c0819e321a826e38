"""Named queries for the Insights page: how often the AI is right, what people choose instead, why cases
close, how long they take and who does the work. Every number is computed in DuckDB; each function takes a
cursor and a filter and returns a small, already-aggregated frame (or a dict).

Acceptance rate = accepted / (accepted + overridden): decisions made without a suggestion on screen do not
count for or against the AI.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from pydantic import BaseModel, Field

from .models import BUCKETS, Bucket, State, Verdict


class InsightsFilter(BaseModel):
    """The period and buckets every Insights panel looks at. Times are naive UTC; `until` is exclusive."""
    since: datetime | None = None
    until: datetime | None = None
    buckets: list[Bucket] = []


class DecisionLogFilter(InsightsFilter):
    """What the decision log can be narrowed by, on top of period and buckets."""
    reviewers: list[str] = []
    verdicts: list[Verdict] = []
    to_states: list[State] = []
    case_id: int | None = None
    text: str | None = Field(default=None, max_length=200)   # order id, evidence, note or action contains


def _where(f: InsightsFilter, time_col: str, bucket_col: str = "bucket") -> tuple[str, dict]:
    where, params = ["true"], {}
    if f.since is not None:
        where.append(f"{time_col} >= $since")
        params["since"] = f.since
    if f.until is not None:
        where.append(f"{time_col} < $until")
        params["until"] = f.until
    if f.buckets:
        where.append(f"{bucket_col} IN (SELECT unnest($buckets))")
        params["buckets"] = [b.value for b in f.buckets]
    return " AND ".join(where), params


def _bucket_order(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by the app's fixed bucket order (precedence), which SQL does not know."""
    order = {b.value: i for i, b in enumerate(BUCKETS)}
    return df.sort_values("bucket", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def summary(cur, f: InsightsFilter | None = None) -> dict:
    """The KPI row: decisions, AI acceptance, overrides, resolutions and median time to resolution."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    decisions, accepted, overridden, no_suggestion, reviewers = cur.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE verdict = 'accepted'),
               count(*) FILTER (WHERE verdict = 'overridden'), count(*) FILTER (WHERE verdict = 'no_suggestion'),
               count(DISTINCT reviewer)
        FROM decisions WHERE {where}""", params).fetchone()
    where, params = _where(f, "resolved_at")
    resolved, p50 = cur.execute(f"""
        SELECT count(*), quantile_cont(epoch(resolved_at - opened_at) / 3600.0, 0.5)
        FROM cases WHERE state = 'resolved' AND {where}""", params).fetchone()
    judged = accepted + overridden
    return {"decisions": decisions, "accepted": accepted, "overridden": overridden,
            "no_suggestion": no_suggestion, "reviewers": reviewers,
            "acceptance_rate": accepted / judged if judged else None,
            "ttr_p50_hours": p50, "resolved_cases": resolved}


def acceptance_by_bucket(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per bucket (every bucket, zeros included): accepted, overridden, no_suggestion, acceptance_rate."""
    f = f or InsightsFilter()
    where, params = _where(f, "d.decided_at", "d.bucket")
    buckets = [b.value for b in (f.buckets or BUCKETS)]
    df = cur.execute(f"""
        WITH b AS (SELECT unnest($all_buckets) AS bucket),
             d AS (SELECT d.bucket,
                          count(*) FILTER (WHERE verdict = 'accepted') AS accepted,
                          count(*) FILTER (WHERE verdict = 'overridden') AS overridden,
                          count(*) FILTER (WHERE verdict = 'no_suggestion') AS no_suggestion
                   FROM decisions d WHERE {where} GROUP BY ALL)
        SELECT b.bucket, coalesce(accepted, 0) AS accepted, coalesce(overridden, 0) AS overridden,
               coalesce(no_suggestion, 0) AS no_suggestion,
               coalesce(accepted, 0) / nullif(coalesce(accepted, 0) + coalesce(overridden, 0), 0)
                   AS acceptance_rate
        FROM b LEFT JOIN d USING (bucket)""", params | {"all_buckets": buckets}).df()
    return _bucket_order(df)


def acceptance_for(cur, bucket: Bucket | str) -> dict:
    """All-time acceptance for one bucket: what the Review page shows next to the suggestion."""
    row = acceptance_by_bucket(cur, InsightsFilter(buckets=[Bucket(bucket)])).iloc[0]
    judged = int(row["accepted"] + row["overridden"])
    return {"accepted": int(row["accepted"]), "judged": judged,
            "acceptance_rate": float(row["acceptance_rate"]) if judged else None}


def acceptance_by_week(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per ISO week (Monday) and bucket: accepted, overridden, acceptance_rate (weeks with a judgement)."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    df = cur.execute(f"""
        SELECT date_trunc('week', decided_at)::DATE AS week, bucket,
               count(*) FILTER (WHERE verdict = 'accepted') AS accepted,
               count(*) FILTER (WHERE verdict = 'overridden') AS overridden,
               count(*) FILTER (WHERE verdict = 'accepted') /
                   count(*) FILTER (WHERE verdict IN ('accepted', 'overridden')) AS acceptance_rate
        FROM decisions WHERE {where} AND verdict IN ('accepted', 'overridden')
        GROUP BY ALL ORDER BY week, bucket""", params).df()
    return df


def override_pairs(cur, f: InsightsFilter | None = None, limit: int = 50) -> pd.DataFrame:
    """What reviewers chose instead of the AI's suggestion: (bucket, suggested → chosen, n), most first."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    return cur.execute(f"""
        SELECT bucket, suggested_action, action AS chosen_action, count(*) AS n,
               round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY bucket), 1) AS pct_of_bucket_overrides
        FROM decisions WHERE {where} AND verdict = 'overridden'
        GROUP BY 1, 2, 3 ORDER BY n DESC, bucket, suggested_action, chosen_action LIMIT $limit""",
                       params | {"limit": limit}).df()


def resolution_reasons(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Resolutions per bucket and reason (decisions that moved a case to resolved)."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    df = cur.execute(f"""
        SELECT bucket, resolution_reason, count(*) AS n,
               round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY bucket), 1) AS pct_of_bucket
        FROM decisions WHERE {where} AND to_state = 'resolved'
        GROUP BY 1, 2 ORDER BY bucket, n DESC, resolution_reason""", params).df()
    return _bucket_order(df)


def time_to_resolution(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per bucket (every bucket): resolved cases, p50/p90 hours from open to resolved, share within SLA.
    Cases currently resolved, by resolution time in the period."""
    f = f or InsightsFilter()
    where, params = _where(f, "c.resolved_at", "c.bucket")
    buckets = [b.value for b in (f.buckets or BUCKETS)]
    df = cur.execute(f"""
        WITH b AS (SELECT unnest($all_buckets) AS bucket),
             r AS (SELECT c.bucket, count(*) AS resolved,
                          quantile_cont(epoch(c.resolved_at - c.opened_at) / 3600.0, 0.5) AS p50_hours,
                          quantile_cont(epoch(c.resolved_at - c.opened_at) / 3600.0, 0.9) AS p90_hours,
                          count(*) FILTER (WHERE c.resolved_at <= c.sla_due_at) / count(*) AS within_sla
                   FROM cases c WHERE c.state = 'resolved' AND {where} GROUP BY ALL)
        SELECT b.bucket, coalesce(r.resolved, 0) AS resolved, r.p50_hours, r.p90_hours, r.within_sla
        FROM b LEFT JOIN r USING (bucket)""", params | {"all_buckets": buckets}).df()
    return _bucket_order(df)


def reviewer_throughput(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per reviewer: decisions, resolutions, escalations, waits, AI acceptance, active days and
    decisions per active day. Busiest first."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    return cur.execute(f"""
        SELECT reviewer, count(*) AS decisions,
               count(*) FILTER (WHERE to_state = 'resolved') AS resolved,
               count(*) FILTER (WHERE to_state = 'escalated') AS escalated,
               count(*) FILTER (WHERE to_state = 'waiting') AS waiting,
               count(*) FILTER (WHERE verdict = 'accepted') /
                   nullif(count(*) FILTER (WHERE verdict IN ('accepted', 'overridden')), 0) AS acceptance_rate,
               count(DISTINCT decided_at::DATE) AS active_days,
               round(count(*) / count(DISTINCT decided_at::DATE), 1) AS per_active_day,
               max(decided_at) AS last_decision
        FROM decisions WHERE {where}
        GROUP BY reviewer ORDER BY decisions DESC, reviewer""", params).df()


# -- the decision log -------------------------------------------------------------------------------

LOG_COLUMNS = ("decision_id", "decided_at", "case_id", "order_id", "bucket", "reviewer", "from_state",
               "to_state", "verdict", "suggested_action", "action", "suggestion_source", "override_note",
               "resolution_reason", "evidence", "note", "case_version", "suggestion_id", "suggestion_model")
# Free-text columns: in the CSV export a leading = + - @ is neutralised so a spreadsheet never runs it.
_TEXT_COLUMNS = ("order_id", "override_note", "evidence", "note", "reviewer")


def _log_where(f: DecisionLogFilter) -> tuple[str, dict]:
    where, params = _where(f, "d.decided_at", "d.bucket")
    parts = [where]
    if f.reviewers:
        parts.append("d.reviewer IN (SELECT unnest($reviewers))")
        params["reviewers"] = list(f.reviewers)
    if f.verdicts:
        parts.append("d.verdict IN (SELECT unnest($verdicts))")
        params["verdicts"] = [v.value for v in f.verdicts]
    if f.to_states:
        parts.append("d.to_state IN (SELECT unnest($to_states))")
        params["to_states"] = [s.value for s in f.to_states]
    if f.case_id is not None:
        parts.append("d.case_id = $case_id")
        params["case_id"] = f.case_id
    if f.text and f.text.strip():
        parts.append("""(contains(lower(c.order_id), $text) OR contains(lower(coalesce(d.evidence, '')), $text)
                         OR contains(lower(coalesce(d.note, '')), $text)
                         OR contains(lower(coalesce(d.override_note, '')), $text)
                         OR contains(lower(coalesce(d.action, '')), $text))""")
        params["text"] = f.text.strip().lower()
    return " AND ".join(parts), params


def _log_select(csv_safe: bool = False) -> str:
    cols = []
    for col in LOG_COLUMNS:
        src = "c.order_id" if col == "order_id" else f"d.{col}"
        if csv_safe and col in _TEXT_COLUMNS:
            src = f"CASE WHEN regexp_matches({src}, '^[=+\\-@\\t\\r]') THEN '''' || {src} ELSE {src} END"
        cols.append(f"{src} AS {col}")
    return ", ".join(cols)


def decision_log(cur, f: DecisionLogFilter | None = None, *, limit: int = 200,
                 offset: int = 0) -> tuple[pd.DataFrame, int]:
    """One page of decisions, newest first, and how many match. Paging happens in DuckDB."""
    f = f or DecisionLogFilter()
    where, params = _log_where(f)
    base = "FROM decisions d LEFT JOIN cases c ON c.case_id = d.case_id"
    total = cur.execute(f"SELECT count(*) {base} WHERE {where}", params).fetchone()[0]
    df = cur.execute(f"""SELECT {_log_select()} {base} WHERE {where}
                         ORDER BY d.decided_at DESC, d.decision_id DESC LIMIT $limit OFFSET $offset""",
                     params | {"limit": limit, "offset": offset}).df()
    return df, total


def decision_log_csv(cur, f: DecisionLogFilter | None = None) -> bytes:
    """Every decision matching the filter as CSV (UTF-8, header row), newest first."""
    f = f or DecisionLogFilter()
    where, params = _log_where(f)
    df = cur.execute(f"""SELECT {_log_select(csv_safe=True)}
                         FROM decisions d LEFT JOIN cases c ON c.case_id = d.case_id WHERE {where}
                         ORDER BY d.decided_at DESC, d.decision_id DESC""", params).df()
    return df.to_csv(index=False).encode("utf-8")


def reviewers(cur) -> list[str]:
    """Everyone who has made a decision (for the log's filter)."""
    return [r[0] for r in cur.execute("SELECT DISTINCT reviewer FROM decisions ORDER BY 1").fetchall()]
