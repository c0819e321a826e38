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
from .models import BUCKETS, Bucket, FulfillmentStatus, PaymentStatus, RiskLevel, CustomerTier

DEFAULT_RULES_PATH = Path(__file__).with_name("exq_rules.toml")

ShipField = Literal["ship_name", "ship_address1", "ship_city", "ship_postal_code", "ship_country"]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    bucket: Bucket
    enabled: bool = True


class FraudRule(_Rule):
    kind: Literal["fraud"]
    risk_levels: list[RiskLevel] = [RiskLevel.HIGH]
    risk_score_at_least: Annotated[float, Field(ge=0, le=1)] = 0.75

    def predicate(self) -> str:
        return _any(_in("risk_level", self.risk_levels), f"risk_score >= {self.risk_score_at_least!r}")


class PaymentRule(_Rule):
    kind: Literal["payment"]
    failed_statuses: list[PaymentStatus] = [PaymentStatus.FAILED]
    settled_statuses: list[PaymentStatus] = [PaymentStatus.REFUNDED, PaymentStatus.VOIDED]
    tolerance: Money = Decimal("0.01")

    def predicate(self) -> str:
        mismatch = f"({_not_in('payment_status', self.settled_statuses)} AND " \
                   f"abs(amount_paid - order_total) > {self.tolerance}::DECIMAL(18,3))"
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
                        f"order_total >= {self.order_total_at_least}::DECIMAL(18,3)",
                        f"customer_ltv >= {self.customer_ltv_at_least}::DECIMAL(18,3)")
        return f"({valuable} AND ({others_fired} OR customer_message IS NOT NULL))"


Rule = Annotated[Union[FraudRule, PaymentRule, InventoryRule, AddressRule, ReturnsRule, VipRule],
                 Field(discriminator="kind")]


class BucketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sla_hours: Annotated[float, Field(gt=0, le=24 * 90)]
    weight: Annotated[float, Field(ge=0, le=1000)]


class PrioritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value_cap: Annotated[float, Field(ge=0)] = 20
    value_factor: Annotated[float, Field(ge=0)] = 5
    breach_points: Annotated[float, Field(ge=0)] = 30
    urgency_scale: Annotated[float, Field(ge=0)] = 20


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w.\-]+$")]
    precedence: list[Bucket]
    priority: PrioritySettings = PrioritySettings()
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

    def hit_columns_sql(self) -> str:
        """SELECT list of one boolean column per active rule, `r_<name>`, never NULL."""
        plain = [r for r in self.active if not isinstance(r, VipRule)]
        cols = [f"coalesce({r.predicate()}, false) AS r_{r.name}" for r in plain]
        others = _any(*[f"coalesce({r.predicate()}, false)" for r in plain]) if plain else "false"
        cols += [f"coalesce({r.predicate(others)}, false) AS r_{r.name}"
                 for r in self.active if isinstance(r, VipRule)]
        return ",\n       ".join(cols) if cols else "false AS r__none"

    def routing_sql(self, orders: str) -> str:
        """One row per order in `orders` (a table or subquery with the feed columns) with
        rules_fired (names), buckets (in precedence order), bucket (primary) and flags (secondary)."""
        active = self.active
        fired = "list_filter([" + ", ".join(
            f"CASE WHEN r_{r.name} THEN '{r.name}' END" for r in active) + "], lambda x: x IS NOT NULL)" \
            if active else "[]::VARCHAR[]"
        bucket_terms = []
        for b in self.precedence:
            rules = [f"r_{r.name}" for r in active if r.bucket == b]
            if rules:
                bucket_terms.append(f"CASE WHEN {' OR '.join(rules)} THEN '{b.value}' END")
        buckets = ("list_filter([" + ", ".join(bucket_terms) + "], lambda x: x IS NOT NULL)") \
            if bucket_terms else "[]::VARCHAR[]"
        if active:
            # most orders are routine: build the lists only for the ones where something fired
            hit = " OR ".join(f"r_{r.name}" for r in active)
            fired = f"CASE WHEN {hit} THEN {fired} ELSE []::VARCHAR[] END"
            buckets = f"CASE WHEN {hit} THEN {buckets} ELSE []::VARCHAR[] END"
        return f"""
            SELECT source, order_id, rules_fired, buckets,
                   buckets[1] AS bucket, buckets[2:] AS flags
            FROM (SELECT source, order_id, {fired} AS rules_fired, {buckets} AS buckets
                  FROM (SELECT *, {self.hit_columns_sql()} FROM {orders}))"""

    def weight_sql(self, bucket_col: str = "bucket") -> str:
        whens = " ".join(f"WHEN '{b.value}' THEN {s.weight!r}" for b, s in self.buckets.items())
        return f"CAST(CASE {bucket_col} {whens} ELSE 0 END AS DOUBLE)"

    def sla_hours_sql(self, bucket_col: str = "bucket") -> str:
        whens = " ".join(f"WHEN '{b.value}' THEN {s.sla_hours!r}" for b, s in self.buckets.items())
        return f"(CASE {bucket_col} {whens} END)"

    def priority_term_sql(self, now_param: str = "$now") -> dict[str, str]:
        """The three terms of SPEC §3's priority as SQL over a cases row, by name."""
        p = self.priority
        elapsed = f"greatest(0, epoch({now_param} - opened_at))"
        return {
            "bucket_weight": self.weight_sql(),
            "value_points": f"least({p.value_cap!r}, {p.value_factor!r} * log10(1 + order_total::DOUBLE))",
            "urgency_points": f"CAST(CASE WHEN {now_param} > sla_due_at THEN {p.breach_points!r} ELSE "
                              f"round({p.urgency_scale!r} * {elapsed} / epoch(sla_due_at - opened_at)) END AS DOUBLE)",
        }

    def priority_sql(self, now_param: str = "$now") -> str:
        return "(" + " + ".join(self.priority_term_sql(now_param).values()) + ")"


def _in(column: str, values) -> str:
    if not values:
        return "false"
    return f"{column} IN ({', '.join(repr(str(v.value)) for v in values)})"


def _not_in(column: str, values) -> str:
    """Blank (NULL) is 'not in' every list: unknown is treated as still open."""
    if not values:
        return "true"
    return f"coalesce({column} NOT IN ({', '.join(repr(str(v.value)) for v in values)}), true)"


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
