"""Named queries for the Insights page: how often the AI is right, what people choose instead, why cases
close, how long they take and who does the work. Every number is computed in the database; each function
takes a cursor and a filter and returns a small, already-aggregated frame (or a dict).

Acceptance rate = accepted / (accepted + overridden), always per suggestion source — `model` (the model
answered), `offline` (no model configured) or `fallback` (the model failed and the offline assistant
answered) — never mixed: agreeing with a template is not agreeing with the model. Decisions made without a
suggestion on screen do not count for or against anyone.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..models import BUCKETS, Bucket, State, Verdict
from .sql import hours_between

if TYPE_CHECKING:
    import pandas as pd

SOURCES: tuple[str, ...] = ("model", "offline", "fallback")
SOURCE_LABELS = {"model": "Model", "offline": "Offline assistant", "fallback": "Fallback (model failed)"}

# Decisions with the source of the suggestion that was on screen, in the three words above. Decisions
# recorded before sources had these names carry the old label; the suggestion row has the new one.
DECISIONS = """(SELECT d.*, CASE WHEN d.suggestion_id IS NULL AND d.suggestion_source IS NULL THEN NULL
                             ELSE coalesce(s.source, CASE WHEN d.suggestion_source LIKE 'openai:%' THEN 'model'
                                                          ELSE d.suggestion_source END) END AS source
                FROM decisions d LEFT JOIN suggestions s ON s.suggestion_id = d.suggestion_id)"""


def _rate(accepted: str, judged: str) -> str:
    return f"CAST({accepted} AS DOUBLE PRECISION) / nullif({judged}, 0)"


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
        where.append(f"{bucket_col} = ANY($buckets)")
        params["buckets"] = [b.value for b in f.buckets]
    return " AND ".join(where), params


def _bucket_order(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by the app's fixed bucket order (precedence), then source, which SQL does not know."""
    order = {b.value: i for i, b in enumerate(BUCKETS)}
    keys = ["bucket"] + (["source"] if "source" in df.columns else [])
    return df.sort_values(keys, key=lambda s: s.map(order) if s.name == "bucket" else s.map(
        {x: i for i, x in enumerate(SOURCES)}), kind="stable").reset_index(drop=True)


def summary(cur, f: InsightsFilter | None = None) -> dict:
    """The KPI row: decisions, AI acceptance per source, overrides, resolutions and median time to resolution."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    decisions, accepted, overridden, no_suggestion, reviewers = cur.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE verdict = 'accepted'),
               count(*) FILTER (WHERE verdict = 'overridden'), count(*) FILTER (WHERE verdict = 'no_suggestion'),
               count(DISTINCT reviewer)
        FROM decisions WHERE {where}""", params).fetchone()
    by_source = {s: {"accepted": 0, "judged": 0, "acceptance_rate": None} for s in SOURCES}
    for source, acc, judged in cur.execute(f"""
            SELECT source, count(*) FILTER (WHERE verdict = 'accepted'), count(*)
            FROM {DECISIONS} d WHERE {where} AND verdict IN ('accepted', 'overridden') AND source IS NOT NULL
            GROUP BY source""", params).fetchall():
        by_source[source] = {"accepted": acc, "judged": judged, "acceptance_rate": acc / judged if judged else None}
    where, params = _where(f, "resolved_at")
    resolved, p50 = cur.execute(f"""
        SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {hours_between('resolved_at', 'opened_at')})
        FROM cases WHERE state = 'resolved' AND {where}""", params).fetchone()
    return {"decisions": decisions, "accepted": accepted, "overridden": overridden,
            "no_suggestion": no_suggestion, "reviewers": reviewers, "acceptance": by_source,
            "ttr_p50_hours": float(p50) if p50 is not None else None, "resolved_cases": resolved}


def acceptance_by_bucket(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per bucket and suggestion source (every bucket × source, zeros included): accepted, overridden,
    acceptance_rate (None without a judgement)."""
    f = f or InsightsFilter()
    where, params = _where(f, "d.decided_at", "d.bucket")
    buckets = [b.value for b in (f.buckets or BUCKETS)]
    rows = cur.execute(f"""
        SELECT bucket, source, count(*) FILTER (WHERE verdict = 'accepted') AS accepted,
               count(*) FILTER (WHERE verdict = 'overridden') AS overridden
        FROM {DECISIONS} d WHERE {where} AND verdict IN ('accepted', 'overridden') AND source IS NOT NULL
        GROUP BY bucket, source""", params).fetchall()
    found = {(b, s): (a, o) for b, s, a, o in rows}
    out = []
    for bucket in buckets:
        for source in SOURCES:
            a, o = found.get((bucket, source), (0, 0))
            out.append({"bucket": bucket, "source": source, "accepted": a, "overridden": o,
                        "acceptance_rate": a / (a + o) if a + o else None})
    import pandas as pd
    return pd.DataFrame(out, columns=["bucket", "source", "accepted", "overridden", "acceptance_rate"])


def acceptance_for(cur, bucket: Bucket | str) -> dict[str, dict]:
    """All-time acceptance for one bucket, per source: what the Review page shows next to the suggestion."""
    df = acceptance_by_bucket(cur, InsightsFilter(buckets=[Bucket(bucket)]))
    return {r.source: {"accepted": int(r.accepted), "judged": int(r.accepted + r.overridden),
                       "acceptance_rate": r.acceptance_rate} for r in df.itertuples()}


def acceptance_by_week(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per ISO week (Monday), bucket and source: accepted, overridden, acceptance_rate (weeks with a
    judgement only)."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    return cur.execute(f"""
        SELECT CAST(date_trunc('week', decided_at) AS DATE) AS week, bucket, source,
               count(*) FILTER (WHERE verdict = 'accepted') AS accepted,
               count(*) FILTER (WHERE verdict = 'overridden') AS overridden,
               {_rate("count(*) FILTER (WHERE verdict = 'accepted')", "count(*)")} AS acceptance_rate
        FROM {DECISIONS} d WHERE {where} AND verdict IN ('accepted', 'overridden') AND source IS NOT NULL
        GROUP BY 1, 2, 3 ORDER BY week, bucket, source""", params).df()


def override_pairs(cur, f: InsightsFilter | None = None, limit: int = 50) -> pd.DataFrame:
    """What reviewers chose instead of the AI's suggestion: (bucket, source, suggested → chosen, n)."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    return cur.execute(f"""
        SELECT bucket, source, suggested_action, action AS chosen_action, count(*) AS n,
               {cur.dialect.round("100.0 * count(*) / sum(count(*)) OVER (PARTITION BY bucket, source)", 1)}
                   AS pct_of_bucket_overrides
        FROM {DECISIONS} d WHERE {where} AND verdict = 'overridden'
        GROUP BY 1, 2, 3, 4 ORDER BY n DESC, bucket, source, suggested_action, chosen_action LIMIT $limit""",
                       params | {"limit": limit}).df()


def resolution_reasons(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Resolutions per bucket and reason (decisions that moved a case to resolved)."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    df = cur.execute(f"""
        SELECT bucket, resolution_reason, count(*) AS n,
               {cur.dialect.round("100.0 * count(*) / sum(count(*)) OVER (PARTITION BY bucket)", 1)} AS pct_of_bucket
        FROM decisions WHERE {where} AND to_state = 'resolved'
        GROUP BY 1, 2 ORDER BY bucket, n DESC, resolution_reason""", params).df()
    return _bucket_order(df)


def time_to_resolution(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per bucket (every bucket): resolved cases, p50/p90 hours from open to resolved, share within SLA.
    Cases currently resolved, by resolution time in the period."""
    f = f or InsightsFilter()
    where, params = _where(f, "c.resolved_at", "c.bucket")
    hours = hours_between("c.resolved_at", "c.opened_at")
    rows = cur.execute(f"""
        SELECT c.bucket, count(*) AS resolved,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {hours}) AS p50_hours,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY {hours}) AS p90_hours,
               {_rate("count(*) FILTER (WHERE c.resolved_at <= c.sla_due_at)", "count(*)")} AS within_sla
        FROM cases c WHERE c.state = 'resolved' AND {where} GROUP BY c.bucket""", params).fetchall()
    found = {r[0]: r[1:] for r in rows}
    buckets = [b.value for b in (f.buckets or BUCKETS)]
    out = [{"bucket": b, "resolved": found.get(b, (0,))[0],
            "p50_hours": _float(found[b][1]) if b in found else None,
            "p90_hours": _float(found[b][2]) if b in found else None,
            "within_sla": _float(found[b][3]) if b in found else None} for b in buckets]
    import pandas as pd
    return pd.DataFrame(out, columns=["bucket", "resolved", "p50_hours", "p90_hours", "within_sla"]).astype(
        {"p50_hours": float, "p90_hours": float, "within_sla": float})


def _float(value):
    return None if value is None else float(value)


def reviewer_throughput(cur, f: InsightsFilter | None = None) -> pd.DataFrame:
    """Per reviewer: decisions, resolutions, escalations, waits, model acceptance, active days and
    decisions per active day. Busiest first."""
    f = f or InsightsFilter()
    where, params = _where(f, "decided_at")
    days = "count(DISTINCT CAST(decided_at AS DATE))"
    return cur.execute(f"""
        SELECT reviewer, count(*) AS decisions,
               count(*) FILTER (WHERE to_state = 'resolved') AS resolved,
               count(*) FILTER (WHERE to_state = 'escalated') AS escalated,
               count(*) FILTER (WHERE to_state = 'waiting') AS waiting,
               {_rate("count(*) FILTER (WHERE verdict = 'accepted' AND source = 'model')",
                      "count(*) FILTER (WHERE verdict IN ('accepted', 'overridden') AND source = 'model')")}
                   AS model_acceptance_rate,
               {days} AS active_days,
               {cur.dialect.round(f"CAST(count(*) AS DOUBLE PRECISION) / {days}", 1)} AS per_active_day,
               max(decided_at) AS last_decision
        FROM {DECISIONS} d WHERE {where}
        GROUP BY reviewer ORDER BY decisions DESC, reviewer""", params).df()


# -- the decision log -------------------------------------------------------------------------------

LOG_COLUMNS = ("decision_id", "decided_at", "case_id", "order_id", "bucket", "reviewer", "from_state",
               "to_state", "verdict", "suggested_action", "action", "suggestion_source", "override_note",
               "resolution_reason", "evidence", "note", "case_version", "suggestion_id", "suggestion_model")


def _log_where(f: DecisionLogFilter) -> tuple[str, dict]:
    where, params = _where(f, "d.decided_at", "d.bucket")
    parts = [where]
    if f.reviewers:
        parts.append("d.reviewer = ANY($reviewers)")
        params["reviewers"] = list(f.reviewers)
    if f.verdicts:
        parts.append("d.verdict = ANY($verdicts)")
        params["verdicts"] = [v.value for v in f.verdicts]
    if f.to_states:
        parts.append("d.to_state = ANY($to_states)")
        params["to_states"] = [s.value for s in f.to_states]
    if f.case_id is not None:
        parts.append("d.case_id = $case_id")
        params["case_id"] = f.case_id
    if f.text and f.text.strip():
        parts.append("(" + " OR ".join(f"strpos(lower(coalesce({col}, '')), $text) > 0" for col in (
            "c.order_id", "d.evidence", "d.note", "d.override_note", "d.action")) + ")")
        params["text"] = f.text.strip().lower()
    return " AND ".join(parts), params


def _log_select() -> str:
    return ", ".join("c.order_id AS order_id" if col == "order_id" else
                     "d.source AS suggestion_source" if col == "suggestion_source" else f"d.{col} AS {col}"
                     for col in LOG_COLUMNS)


def decision_log(cur, f: DecisionLogFilter | None = None, *, limit: int = 200,
                 offset: int = 0) -> tuple[pd.DataFrame, int]:
    """One page of decisions, newest first, and how many match. Paging happens in the database."""
    f = f or DecisionLogFilter()
    where, params = _log_where(f)
    base = f"FROM {DECISIONS} d LEFT JOIN cases c ON c.case_id = d.case_id"
    total = cur.execute(f"SELECT count(*) {base} WHERE {where}", params).fetchone()[0]
    df = cur.execute(f"""SELECT {_log_select()} {base} WHERE {where}
                         ORDER BY d.decided_at DESC, d.decision_id DESC LIMIT $limit OFFSET $offset""",
                     params | {"limit": limit, "offset": offset}).df()
    return df, total


def decision_log_rows(cur, f: DecisionLogFilter | None = None):
    """Every decision matching the filter, newest first: (column names, row iterator) for an export."""
    f = f or DecisionLogFilter()
    where, params = _log_where(f)
    cur.execute(f"""SELECT {_log_select()} FROM {DECISIONS} d LEFT JOIN cases c ON c.case_id = d.case_id
                    WHERE {where} ORDER BY d.decided_at DESC, d.decision_id DESC""", params)
    from ..exports import batches
    return cur.columns, batches(cur)


def decision_log_csv(cur, f: DecisionLogFilter | None = None) -> bytes:
    """Every decision matching the filter as CSV (UTF-8, header row, spreadsheet formulas neutralised)."""
    from ..exports import csv_bytes
    columns, rows = decision_log_rows(cur, f)
    return csv_bytes(columns, rows)


def reviewers(cur) -> list[str]:
    """Everyone who has made a decision (for the log's filter)."""
    return [r[0] for r in cur.execute("SELECT DISTINCT reviewer FROM decisions ORDER BY 1").fetchall()]
