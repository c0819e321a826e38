"""AI assist: a suggested next action for a case. The AI never decides; a person accepts or overrides.

This first version has the offline assistant only; the openai client lands in the AI issue behind the
same `suggestion_for` interface.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .models import DEFAULT_ACTIONS, BUCKET_LABELS, Bucket
from .queries import case_detail
from .rules import RuleSet
from .store import Store, utcnow

OFFLINE_MODEL = "offline"
OFFLINE_PROMPT_VERSION = "offline-1"


class Suggestion(BaseModel):
    """A stored suggestion, as the Review page shows it."""
    suggestion_id: int
    case_id: int
    case_version: int
    source: str                      # "offline" or "openai:<model>"
    model: str
    prompt_version: str
    summary: str = Field(max_length=400)
    action: str
    rationale: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    missing_evidence: list[str] = []
    error: str | None = None
    created_at: datetime


COLUMNS = ("suggestion_id", "case_id", "case_version", "source", "model", "prompt_version", "summary",
           "action", "rationale", "confidence", "missing_evidence", "error", "created_at")


def offline_suggestion(case: dict) -> dict:
    bucket = Bucket(case["bucket"])
    order = case.get("order") or {}
    summary = (f"{BUCKET_LABELS[bucket]} on order {case['order_id']} "
               f"({order.get('order_total', case.get('order_total'))} {order.get('currency', '')}); "
               f"rules fired: {', '.join(case['rules_fired'])}.")[:400]
    return {"summary": summary, "action": DEFAULT_ACTIONS[bucket],
            "rationale": "Default first step for this bucket.", "confidence": 0.5, "missing_evidence": []}


def suggestion_for(store: Store, rules: RuleSet, case_id: int, now: datetime | None = None) -> Suggestion | None:
    """The suggestion for the case's current version: stored one if present, else made and stored."""
    now = now or utcnow()
    with store.read() as cur:
        case = case_detail(cur, rules, case_id, now)
        if case is None:
            return None
        row = cur.execute(f"SELECT {', '.join(COLUMNS)} FROM suggestions WHERE case_id = ? AND case_version = ? "
                          "AND model = ? AND prompt_version = ? ORDER BY suggestion_id DESC LIMIT 1",
                          [case_id, case["version"], OFFLINE_MODEL, OFFLINE_PROMPT_VERSION]).fetchone()
    if row:
        return Suggestion(**dict(zip(COLUMNS, row)))
    made = offline_suggestion(case)
    with store.unit_of_work() as uow:
        sid = uow.execute("""INSERT INTO suggestions (case_id, case_version, model, prompt_version, source, summary,
                action, rationale, confidence, missing_evidence, error, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING suggestion_id""",
                          [case_id, case["version"], OFFLINE_MODEL, OFFLINE_PROMPT_VERSION, "offline",
                           made["summary"], made["action"], made["rationale"], made["confidence"],
                           made["missing_evidence"], None, now]).fetchone()[0]
        uow.commit()
    return Suggestion(suggestion_id=sid, case_id=case_id, case_version=case["version"], source="offline",
                      model=OFFLINE_MODEL, prompt_version=OFFLINE_PROMPT_VERSION, created_at=now, **made)
