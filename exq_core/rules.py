"""Routing rules: a TOML file validated by pydantic, turned into SQL and evaluated vectorised in DuckDB.

Rules are data with a fixed set of kinds; each kind knows how to write its predicate. Parameters are
validated types (numbers, enums, known column names), so the SQL built from them cannot be injected.
Every predicate respects the feed's null semantics: blank is unknown and unknown never fires by itself.
"""
from __future__ import annotations

import hashlib
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import RulesFileError
from .models import BUCKETS, Bucket, CustomerTier, FulfillmentStatus, PaymentStatus, RiskLevel
from .store.dialect import DUCKDB, Dialect, literal, none_of, one_of

DEFAULT_RULES_PATH = Path(__file__).with_name("exq_rules.toml")

# Why a rule of each kind puts a case in the queue, in a person's words: the Review page and the model's
# prompt both say it this way.
RULE_EXPLANATIONS: dict[str, str] = {
    "fraud": "the PSP / fraud tool rates the order high risk, or its risk score is over the threshold",
    "payment": "the payment failed, or the amount paid differs from the order total",
    "inventory": "fewer items are available than were ordered",
    "address": "the shipping address is unverified or incomplete and the order has not shipped",
    "returns": "the customer asked for a return or reported damage",
    "vip": "a valuable customer or order, with another issue or a customer message",
}

ShipField = Literal["ship_name", "ship_address1", "ship_city", "ship_postal_code", "ship_country"]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3, allow_inf_nan=False)]
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)   # a rules file's `inf` or `nan` is refused at load


class _Rule(BaseModel):
    model_config = STRICT
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    bucket: Bucket
    enabled: bool = True


class FraudRule(_Rule):
    kind: Literal["fraud"]
    risk_levels: list[RiskLevel] = [RiskLevel.HIGH]
    risk_score_at_least: Annotated[float, Field(ge=0, le=1)] = 0.75

    def predicate(self) -> str:
        return _any(_in("risk_level", self.risk_levels), f"risk_score >= {literal(self.risk_score_at_least)}")


class PaymentRule(_Rule):
    kind: Literal["payment"]
    failed_statuses: list[PaymentStatus] = [PaymentStatus.FAILED]
    settled_statuses: list[PaymentStatus] = [PaymentStatus.REFUNDED, PaymentStatus.VOIDED]
    tolerance: Money = Decimal("0.01")

    def predicate(self) -> str:
        mismatch = f"({_not_in('payment_status', self.settled_statuses)} AND " \
                   f"abs(amount_paid - order_total) > {literal(self.tolerance)})"
        return _any(_in("payment_status", self.failed_statuses), mismatch)


class InventoryRule(_Rule):
    kind: Literal["inventory"]

    def predicate(self) -> str:
        return "items_available < items_ordered"


class AddressRule(_Rule):
    kind: Literal["address"]
    closed_statuses: list[FulfillmentStatus] = [FulfillmentStatus.FULFILLED, FulfillmentStatus.DELIVERED,
                                                FulfillmentStatus.CANCELED]
    ship_fields: list[ShipField] = list(ShipField.__args__)

    def predicate(self) -> str:
        blanks = [f"{f} IS NULL" for f in self.ship_fields]
        return f"({_not_in('fulfillment_status', self.closed_statuses)} AND " \
               f"{_any('address_verified = false', *blanks)})"


class ReturnsRule(_Rule):
    kind: Literal["returns"]

    def predicate(self) -> str:
        return _any("return_requested", "damage_reported")


class VipRule(_Rule):
    """Fires for a valuable customer or order, but only when something else needs attention."""
    kind: Literal["vip"]
    tiers: list[CustomerTier] = [CustomerTier.VIP]
    order_total_at_least: Money = Decimal("1000")
    customer_ltv_at_least: Money = Decimal("5000")

    def predicate(self, others_fired: str = "false") -> str:
        valuable = _any(_in("customer_tier", self.tiers),
                        f"order_total >= {literal(self.order_total_at_least)}",
                        f"customer_ltv >= {literal(self.customer_ltv_at_least)}")
        return f"({valuable} AND ({others_fired} OR customer_message IS NOT NULL))"


Rule = Annotated[Union[FraudRule, PaymentRule, InventoryRule, AddressRule, ReturnsRule, VipRule],
                 Field(discriminator="kind")]


class BucketSettings(BaseModel):
    model_config = STRICT
    sla_hours: Annotated[float, Field(gt=0, le=24 * 90)]
    weight: Annotated[float, Field(ge=0, le=1000)]


class PrioritySettings(BaseModel):
    model_config = STRICT
    value_cap: Annotated[float, Field(ge=0, le=1000)] = 20
    value_factor: Annotated[float, Field(ge=0, le=1000)] = 5
    breach_points: Annotated[float, Field(ge=0, le=1000)] = 30
    urgency_scale: Annotated[float, Field(ge=0, le=1000)] = 20

    @property
    def max_urgency(self) -> float:
        """The most urgency can add to a case's fixed share of its priority (SPEC §3)."""
        return max(self.breach_points, self.urgency_scale)


class NoMoneyAtStake(BaseModel):
    """Canceled orders with no money at stake: nothing ships and no money is held, so the rules of these
    kinds do not fire on them (SPEC §3; a real Shopify export had 53 of 78 fraud cases of this kind)."""
    model_config = STRICT
    fulfillment_statuses: list[FulfillmentStatus] = [FulfillmentStatus.CANCELED]
    payment_statuses: list[PaymentStatus] = [PaymentStatus.VOIDED, PaymentStatus.REFUNDED, PaymentStatus.FAILED,
                                             PaymentStatus.PENDING]
    rule_kinds: list[Literal["fraud", "payment"]] = ["fraud", "payment"]

    def predicate(self) -> str:
        """True only when both statuses are known and listed (unknown never exempts)."""
        if not self.fulfillment_statuses or not self.payment_statuses:
            return "false"
        return (f"coalesce({_in('fulfillment_status', self.fulfillment_statuses)} AND "
                f"{_in('payment_status', self.payment_statuses)}, false)")


class RuleSet(BaseModel):
    model_config = STRICT
    version: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w.\-]+$")]
    precedence: list[Bucket]
    priority: PrioritySettings = PrioritySettings()
    no_money_at_stake: NoMoneyAtStake = NoMoneyAtStake()
    buckets: dict[Bucket, BucketSettings]
    rules: list[Rule]
    source_hash: str = ""

    @model_validator(mode="after")
    def _complete(self):
        if sorted(self.precedence) != sorted(BUCKETS):
            raise ValueError("precedence must list each of the six buckets exactly once")
        missing = set(BUCKETS) - set(self.buckets)
        if missing:
            raise ValueError(f"buckets is missing settings for {', '.join(sorted(missing))}")
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique; used more than once: {', '.join(twice)}")
        return self

    @property
    def full_version(self) -> str:
        """The version recorded on every case: the declared version plus a hash of the file's content."""
        return f"{self.version}+{self.source_hash}" if self.source_hash else self.version

    @property
    def active(self) -> list:
        return [r for r in self.rules if r.enabled]

    def sla_hours(self, bucket: Bucket | str) -> float:
        return self.buckets[Bucket(bucket)].sla_hours

    # -- SQL -------------------------------------------------------------------------------------------

    def _predicate(self, rule, others: str = "false") -> str:
        pred = rule.predicate(others) if isinstance(rule, VipRule) else rule.predicate()
        if rule.kind in self.no_money_at_stake.rule_kinds:
            pred = f"({pred} AND NOT {self.no_money_at_stake.predicate()})"
        return pred

    def hit_columns_sql(self) -> str:
        """SELECT list of one boolean column per active rule, `r_<name>`, never NULL."""
        plain = [r for r in self.active if not isinstance(r, VipRule)]
        cols = [f"coalesce({self._predicate(r)}, false) AS r_{r.name}" for r in plain]
        others = _any(*[f"coalesce({self._predicate(r)}, false)" for r in plain]) if plain else "false"
        cols += [f"coalesce({self._predicate(r, others)}, false) AS r_{r.name}"
                 for r in self.active if isinstance(r, VipRule)]
        return ",\n       ".join(cols) if cols else "false AS r__none"

    def routing_sql(self, orders: str, dialect: Dialect = DUCKDB) -> str:
        """One row per order in `orders` (a table or subquery with the feed columns) with
        rules_fired (names), buckets (in precedence order), bucket (primary) and flags (secondary), and the
        order's updated_at and order_total (what a case opened from it needs, without reading it again)."""
        active = self.active
        fired = dialect.compact([f"CASE WHEN r_{r.name} THEN {literal(r.name)} END" for r in active])
        bucket_terms = []
        for b in self.precedence:
            rules = [f"r_{r.name}" for r in active if r.bucket == b]
            if rules:
                bucket_terms.append(f"CASE WHEN {' OR '.join(rules)} THEN {literal(b.value)} END")
        buckets = dialect.compact(bucket_terms)
        if active:
            # most orders are routine: build the lists only for the ones where something fired
            hit = " OR ".join(f"r_{r.name}" for r in active)
            fired = f"CASE WHEN {hit} THEN {fired} ELSE ARRAY[]::VARCHAR[] END"
            buckets = f"CASE WHEN {hit} THEN {buckets} ELSE ARRAY[]::VARCHAR[] END"
        return f"""
            SELECT source, order_id, updated_at, order_total, rules_fired, buckets,
                   buckets[1] AS bucket, buckets[2:] AS flags
            FROM (SELECT source, order_id, updated_at, order_total, {fired} AS rules_fired, {buckets} AS buckets
                  FROM (SELECT *, {self.hit_columns_sql()} FROM {orders} o) h) r"""

    def weight_sql(self, bucket_col: str = "bucket") -> str:
        whens = " ".join(f"WHEN {literal(b.value)} THEN {literal(float(s.weight))}" for b, s in self.buckets.items())
        return f"CAST(CASE {bucket_col} {whens} ELSE 0 END AS DOUBLE PRECISION)"

    def sla_hours_sql(self, bucket_col: str = "bucket") -> str:
        whens = " ".join(f"WHEN {literal(b.value)} THEN {literal(float(s.sla_hours))}"
                         for b, s in self.buckets.items())
        return f"CAST(CASE {bucket_col} {whens} END AS DOUBLE PRECISION)"

    def value_points_sql(self, total_col: str = "order_total") -> str:
        p = self.priority
        return (f"least({literal(float(p.value_cap))}, {literal(float(p.value_factor))} * "
                f"log10(1 + CAST({total_col} AS DOUBLE PRECISION)))")

    def static_priority_sql(self, bucket_col: str = "bucket", total_col: str = "order_total") -> str:
        """The part of a case's priority that never changes while its bucket and value stay: bucket weight +
        value points. Stored on the case (`static_priority`); urgency is added at query time."""
        return f"({self.weight_sql(bucket_col)} + {self.value_points_sql(total_col)})"

    def urgency_sql(self, now_param: str = "$now", alias: str = "") -> str:
        """Urgency points: breach_points once the SLA is breached, else urgency_scale × elapsed / SLA rounded
        half up (the same on both engines: PostgreSQL rounds a double half to even)."""
        p = self.priority
        opened, due = f"{alias}opened_at", f"{alias}sla_due_at"
        elapsed = f"greatest(0, CAST(extract(epoch FROM ({now_param} - {opened})) AS DOUBLE PRECISION))"
        sla = f"CAST(extract(epoch FROM ({due} - {opened})) AS DOUBLE PRECISION)"
        return (f"CAST(CASE WHEN {now_param} > {due} THEN {literal(float(p.breach_points))} ELSE "
                f"floor({literal(float(p.urgency_scale))} * {elapsed} / {sla} + 0.5) END AS DOUBLE PRECISION)")

    def priority_term_sql(self, now_param: str = "$now", alias: str = "") -> dict[str, str]:
        """The three terms of SPEC §3's priority as SQL over a cases row (`alias` like "c."), by name."""
        return {"bucket_weight": self.weight_sql(f"{alias}bucket"),
                "value_points": self.value_points_sql(f"{alias}order_total"),
                "urgency_points": self.urgency_sql(now_param, alias)}

    def priority_sql(self, now_param: str = "$now", alias: str = "") -> str:
        return "(" + " + ".join(self.priority_term_sql(now_param, alias).values()) + ")"

    @property
    def priority_key(self) -> str:
        """What the stored static priorities were computed with; they are recomputed when it changes."""
        weights = ",".join(f"{b.value}={self.buckets[b].weight!r}" for b in BUCKETS)
        return f"{weights};cap={self.priority.value_cap!r};factor={self.priority.value_factor!r}"


def _in(column: str, values) -> str:
    return one_of(column, [str(v.value) for v in values])


def _not_in(column: str, values) -> str:
    """Blank (NULL) is 'not in' every list: unknown is treated as still open."""
    if not values:
        return "true"
    return f"coalesce({none_of(column, [str(v.value) for v in values])}, true)"


def _any(*terms: str) -> str:
    """OR of predicates where a NULL term counts as false, so an unknown never fires on its own."""
    return "(" + " OR ".join(f"coalesce({t}, false)" for t in terms) + ")"


def parse_rules(text: str, origin: str = "rules file") -> RuleSet:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RulesFileError(f"{origin} is not valid TOML: {err}") from None
    try:
        ruleset = RuleSet.model_validate(data)
    except ValidationError as err:
        raise RulesFileError(_explain(err, data, origin)) from None
    ruleset.source_hash = hashlib.sha256(text.encode()).hexdigest()[:8]
    return ruleset


def _explain(err: ValidationError, data: dict, origin: str) -> str:
    lines = []
    for e in err.errors():
        loc = list(e["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = data.get("rules") or []
            name = rules[loc[1]].get("name", f"#{loc[1] + 1}") if loc[1] < len(rules) and isinstance(rules[loc[1]], dict) else f"#{loc[1] + 1}"
            field = ".".join(str(p) for p in loc[3:] if not str(p).endswith("Rule")) or ".".join(str(p) for p in loc[2:])
            where = f"rule '{name}', field '{field or 'kind'}'"
        # a whole-file check (precedence, missing buckets, duplicate names) has no location of its own
        message = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return f"{origin} is invalid:\n  " + "\n  ".join(lines)


def load_rules(path: str | os.PathLike | None = None) -> RuleSet:
    """Load the rules file: explicit path, else $EXQ_RULES, else the shipped defaults."""
    path = Path(path or os.environ.get("EXQ_RULES") or DEFAULT_RULES_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RulesFileError(f"cannot read rules file {path}: {err.strerror}") from None
    return parse_rules(text, origin=str(path))
