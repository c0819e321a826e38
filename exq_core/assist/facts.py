"""The facts an assistant works from, and the key a suggestion is stored under.

A case here is `queries.case_detail`'s dict: the case row plus `order` (the stored snapshot). A suggestion
is about facts, not about a moment: its key (`facts_key`) covers the order snapshot, the bucket and flags,
the rules that fired and the rules version — not the case version (a claim bumps it) nor the clock.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from ..models import FEED_COLUMNS, Bucket, actions_for
from ..rules import RuleSet

SUMMARY_MAX = 400
RATIONALE_MAX = 1_000
EVIDENCE_ITEMS_MAX = 10
EVIDENCE_ITEM_MAX = 200


class Advice(BaseModel):
    """What an assistant (model or offline) advises, before it is stored."""
    summary: str = Field(max_length=SUMMARY_MAX)
    action: str
    rationale: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    missing_evidence: list[str] = []


def catalog(case: dict) -> tuple[str, ...]:
    """The actions allowed for this case (its bucket's, its flags', and the common ones)."""
    return actions_for(case["bucket"], case.get("flags") or ())


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    return value


def facts_key(case: dict) -> str:
    """What a stored suggestion is about: the order snapshot, bucket, flags, rules fired and rules version."""
    order = case.get("order") or {}
    facts = {
        "source": case.get("source"), "order_id": case.get("order_id"),
        "order": {c: _plain(order.get(c)) for c in FEED_COLUMNS},
        "bucket": str(case["bucket"]), "flags": sorted(str(f) for f in case.get("flags") or []),
        "rules_fired": list(case.get("rules_fired") or []), "rules_version": case.get("rules_version"),
        "condition_cleared": bool(case.get("condition_cleared")),
    }
    blob = json.dumps(facts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def fired_kinds(case: dict, rules: RuleSet) -> dict[str, str]:
    """rule name → rule kind for every rule that fired (a renamed or removed rule falls back to its name)."""
    by_name = {r.name: r for r in rules.rules}
    return {name: (by_name[name].kind if name in by_name else name) for name in case.get("rules_fired") or []}


def kinds_for(case: dict, rules: RuleSet, bucket: Bucket | str) -> list[str]:
    """Kinds of the fired rules that route to `bucket`."""
    by_name = {r.name: r for r in rules.rules}
    bucket = Bucket(bucket)
    return [by_name[n].kind for n in case.get("rules_fired") or [] if n in by_name and by_name[n].bucket == bucket]


def money(value) -> str | None:
    return None if value is None else f"{Decimal(value):,.2f}"


def plain_number(value) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def present(value) -> bool:
    return value is not None and str(value).strip() != ""


def payment_gap(order: dict) -> Decimal | None:
    """amount_paid − order_total (negative: short), or None when either is unknown."""
    total, paid = order.get("order_total"), order.get("amount_paid")
    if total is None or paid is None:
        return None
    return Decimal(paid) - Decimal(total)


SHIPPED = ("fulfilled", "delivered")
