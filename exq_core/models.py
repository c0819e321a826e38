"""The domain's vocabulary: buckets, states, catalogs and the pydantic types at every boundary.

Plain Python and pydantic only; no database and no web framework here.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class Bucket(StrEnum):
    FRAUD_RISK = "fraud_risk"
    VIP_REVENUE = "vip_revenue"
    PAYMENT_MISMATCH = "payment_mismatch"
    INVENTORY_CONFLICT = "inventory_conflict"
    ADDRESS_PROBLEM = "address_problem"
    RETURN_DAMAGE = "return_damage"


# Precedence order (highest first); also the fixed display order everywhere in the app.
BUCKETS: tuple[Bucket, ...] = tuple(Bucket)

BUCKET_LABELS: dict[Bucket, str] = {
    Bucket.FRAUD_RISK: "Fraud risk",
    Bucket.VIP_REVENUE: "VIP / revenue",
    Bucket.PAYMENT_MISMATCH: "Payment mismatch",
    Bucket.INVENTORY_CONFLICT: "Inventory conflict",
    Bucket.ADDRESS_PROBLEM: "Address problem",
    Bucket.RETURN_DAMAGE: "Return / damage",
}

# One colour per bucket, used by every chart (colour-blind safe, Tableau 10 order).
BUCKET_COLORS: dict[Bucket, str] = {
    Bucket.FRAUD_RISK: "#e15759",
    Bucket.VIP_REVENUE: "#b07aa1",
    Bucket.PAYMENT_MISMATCH: "#f28e2b",
    Bucket.INVENTORY_CONFLICT: "#edc948",
    Bucket.ADDRESS_PROBLEM: "#4e79a7",
    Bucket.RETURN_DAMAGE: "#59a14f",
}


class State(StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    WAITING = "waiting"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


STATES: tuple[State, ...] = tuple(State)

# How a state reads on screen (the one table: Queue, Overview, Review, Insights).
STATE_LABELS: dict[str, str] = {"new": "New", "in_review": "In review", "waiting": "Waiting",
                                "escalated": "Escalated", "resolved": "Resolved"}
OPEN_STATES: tuple[State, ...] = tuple(s for s in State if s is not State.RESOLVED)


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    OVERRIDDEN = "overridden"
    NO_SUGGESTION = "no_suggestion"


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    MANAGER = "manager"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    REFUNDED = "refunded"
    FAILED = "failed"
    VOIDED = "voided"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIAL = "partial"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CANCELED = "canceled"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CustomerTier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"


AGE_BANDS: tuple[str, ...] = ("< 4h", "4–24h", "1–3d", "3–7d", "> 7d")

COMMON_ACTIONS: tuple[str, ...] = ("escalate_to_manager", "request_more_info")

ACTIONS: dict[Bucket, tuple[str, ...]] = {
    Bucket.PAYMENT_MISMATCH: ("capture_remaining", "refund_difference", "contact_customer",
                              "hold_fulfillment", "mark_reconciled"),
    Bucket.INVENTORY_CONFLICT: ("reallocate_stock", "backorder_and_notify", "offer_substitute",
                                "partial_ship", "cancel_line_and_refund"),
    Bucket.ADDRESS_PROBLEM: ("contact_customer_for_address", "correct_verified_address",
                             "hold_shipment", "reroute_with_carrier"),
    Bucket.FRAUD_RISK: ("cancel_and_refund", "verify_identity", "hold_fulfillment", "approve_order"),
    Bucket.RETURN_DAMAGE: ("issue_refund", "send_replacement", "request_photos",
                           "file_carrier_claim", "deny_per_policy"),
    Bucket.VIP_REVENUE: ("expedite", "personal_outreach", "goodwill_credit", "assign_account_manager"),
}

COMMON_REASONS: tuple[str, ...] = ("duplicate_case", "other")

RESOLUTION_REASONS: dict[Bucket, tuple[str, ...]] = {
    Bucket.PAYMENT_MISMATCH: ("payment_captured", "difference_refunded", "reconciled_with_psp",
                              "order_canceled"),
    Bucket.INVENTORY_CONFLICT: ("stock_reallocated", "backordered", "substituted", "shipped_partially",
                                "line_canceled_refunded"),
    Bucket.ADDRESS_PROBLEM: ("address_corrected", "address_confirmed_by_customer", "rerouted",
                             "order_canceled"),
    Bucket.FRAUD_RISK: ("verified_legitimate", "canceled_as_fraud", "chargeback_accepted"),
    Bucket.RETURN_DAMAGE: ("refunded", "replacement_sent", "carrier_claim_filed", "denied_per_policy"),
    Bucket.VIP_REVENUE: ("expedited", "customer_contacted", "credit_issued", "account_manager_assigned"),
}


# What the offline assistant (and the demo's seeded history) suggests first, per bucket.
DEFAULT_ACTIONS: dict[Bucket, str] = {
    Bucket.PAYMENT_MISMATCH: "contact_customer",
    Bucket.INVENTORY_CONFLICT: "reallocate_stock",
    Bucket.ADDRESS_PROBLEM: "contact_customer_for_address",
    Bucket.FRAUD_RISK: "verify_identity",
    Bucket.RETURN_DAMAGE: "request_photos",
    Bucket.VIP_REVENUE: "personal_outreach",
}


def actions_for(bucket: Bucket | str, flags=()) -> tuple[str, ...]:
    """Every action a reviewer (or the AI) may choose for a case in this bucket: the bucket's catalog, then
    the catalogs of the case's secondary flags (a VIP order that is also short-paid can have the payment
    captured), then the actions every bucket has. Flags come from the rules, never from customer text."""
    actions = list(ACTIONS[Bucket(bucket)])
    for flag in flags or ():
        actions += [a for a in ACTIONS[Bucket(flag)] if a not in actions]
    return tuple(actions) + COMMON_ACTIONS


def reasons_for(bucket: Bucket | str) -> tuple[str, ...]:
    """Every resolution reason allowed to close a case in this bucket."""
    return RESOLUTION_REASONS[Bucket(bucket)] + COMMON_REASONS


MAX_TEXT = 10_000
MIN_EVIDENCE = 8

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class Actor(BaseModel):
    """The signed-in person doing something. Comes from the session, never from a form field."""
    model_config = ConfigDict(frozen=True)

    username: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    role: Role
    # A process acting on its own account (the command line run by the file's owner, the inbox): not a
    # sign-in, so not looked up among the accounts. A person is re-checked at every write.
    system: bool = False

    def __str__(self) -> str:
        return self.username


SYSTEM = Actor(username="system", role=Role.MANAGER, system=True)


def cli_actor() -> Actor:
    """Who a command-line change is recorded as: the operating-system user who ran it."""
    import getpass
    try:
        user = getpass.getuser()
    except Exception:          # no user name in this environment (a container without one)
        user = "unknown"
    return Actor(username=f"cli:{user}"[:100], role=Role.MANAGER, system=True)


class FeedRow(BaseModel):
    """One order snapshot as the feed describes it (SPEC §2). Bulk imports validate the same rules in SQL."""
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    placed_at: datetime
    order_total: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    updated_at: datetime | None = None
    customer_id: Text | None = None
    customer_email: Text | None = None
    customer_tier: CustomerTier | None = None
    customer_ltv: Annotated[Decimal, Field(max_digits=18, decimal_places=3)] | None = None
    payment_status: PaymentStatus | None = None
    amount_paid: Annotated[Decimal, Field(max_digits=18, decimal_places=3)] | None = None
    amount_refunded: Annotated[Decimal, Field(max_digits=18, decimal_places=3)] | None = None
    risk_score: Annotated[float, Field(ge=0, le=1)] | None = None
    risk_level: RiskLevel | None = None
    items_ordered: Annotated[int, Field(ge=0)] | None = None
    items_available: int | None = None
    ship_name: Text | None = None
    ship_address1: Text | None = None
    ship_city: Text | None = None
    ship_postal_code: Text | None = None
    ship_country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    address_verified: bool | None = None
    fulfillment_status: FulfillmentStatus | None = None
    return_requested: bool | None = None
    damage_reported: bool | None = None
    return_reason: Text | None = None
    customer_message: Text | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_null(cls, value):
        if isinstance(value, str) and not value.strip():
            return None
        return value


FEED_COLUMNS: tuple[str, ...] = tuple(FeedRow.model_fields)
REQUIRED_COLUMNS: tuple[str, ...] = ("order_id", "placed_at", "order_total")


class Case(BaseModel):
    """An exception case as the workflow sees it."""
    case_id: int
    source: str
    order_id: str
    bucket: Bucket
    flags: list[Bucket] = []
    rules_fired: list[str] = []
    rules_version: str
    state: State
    version: int
    opened_at: datetime
    sla_due_at: datetime
    condition_cleared: bool = False
    assignee: str | None = None
    claimed_at: datetime | None = None
    follow_up_at: datetime | None = None
    resolution_reason: str | None = None
    resolved_at: datetime | None = None
    updated_at: datetime


class SuggestionRef(BaseModel):
    """The AI suggestion that was on screen when a decision was made."""
    suggestion_id: int
    action: str
    model: str
    source: str


class DecisionRequest(BaseModel):
    """What a person asks for on a case. The reviewer is never part of it: it comes from the session."""
    model_config = ConfigDict(str_strip_whitespace=True)

    case_id: int
    case_version: int
    to_state: State
    action: str | None = None
    suggestion: SuggestionRef | None = None
    resolution_reason: str | None = None
    evidence: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    note: Annotated[str, StringConstraints(max_length=MAX_TEXT)] | None = None
    override_note: Annotated[str, StringConstraints(max_length=MAX_TEXT)] | None = None
    follow_up_at: datetime | None = None


class Decision(BaseModel):
    decision_id: int | None = None
    case_id: int
    case_version: int
    reviewer: str
    decided_at: datetime
    suggestion_id: int | None = None
    suggested_action: str | None = None
    suggestion_model: str | None = None
    suggestion_source: str | None = None
    action: str | None = None
    verdict: Verdict
    override_note: str | None = None
    resolution_reason: str | None = None
    evidence: str | None = None
    note: str | None = None
    from_state: State
    to_state: State


class Event(BaseModel):
    case_id: int
    at: datetime
    actor: str
    kind: str
    from_state: State | None = None
    to_state: State | None = None
    detail: str | None = None
