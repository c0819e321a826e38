"""Row validation of the generic feed in SQL: one pass over the raw text columns, every broken value
named with its line, column, value and reason. The same rules as `models.FeedRow`, vectorised."""
from __future__ import annotations

from ..models import (MAX_TEXT, CustomerTier, FulfillmentStatus, PaymentStatus, RiskLevel)

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

TEXT_COLUMNS = ("customer_id", "customer_email", "ship_name", "ship_address1", "ship_city",
                "ship_postal_code", "return_reason", "customer_message")
MONEY_COLUMNS = ("order_total", "customer_ltv", "amount_paid", "amount_refunded")
INT_COLUMNS = ("items_ordered", "items_available")
BOOL_COLUMNS = ("address_verified", "return_requested", "damage_reported")
TIME_COLUMNS = ("placed_at", "updated_at")
ENUM_COLUMNS = {"customer_tier": CustomerTier, "payment_status": PaymentStatus, "risk_level": RiskLevel,
                "fulfillment_status": FulfillmentStatus}
MONEY_RE = r"^[+-]?[0-9]{1,15}(\.[0-9]*)?$"


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def blank(col: str) -> str:
    return f"(nullif(trim({col}), '') IS NULL)"


def _check(col: str, bad: str, reason: str) -> str:
    """A struct naming the error when `bad` holds for a non-blank value, else NULL."""
    return (f"CASE WHEN NOT {blank(col)} AND ({bad}) THEN "
            f"{{'column': {_q(col)}, 'value': left({col}, 120), 'reason': {_q(reason)}}} END")


def _enum_list(enum) -> str:
    return ", ".join(_q(e.value) for e in enum)


def error_checks() -> list[str]:
    """SQL expressions, one per check, each NULL or a struct(column, value, reason)."""
    checks = []
    for col in ("order_id", "placed_at", "order_total"):
        checks.append(f"CASE WHEN {blank(col)} THEN {{'column': {_q(col)}, 'value': {col}, "
                      f"'reason': 'required value is blank'}} END")
    checks.append(_check("order_id", "length(trim(order_id)) > 200", "order_id longer than 200 characters"))
    for col in TIME_COLUMNS:
        checks.append(_check(col, f"TRY_CAST(trim({col}) AS TIMESTAMPTZ) IS NULL",
                             "not an ISO 8601 date-time (e.g. 2026-11-27T09:30:00Z)"))
    for col in MONEY_COLUMNS:
        checks.append(_check(col, f"NOT regexp_full_match(trim({col}), '{MONEY_RE}')",
                             "not a decimal number (use . for decimals, no thousands separators)"))
        checks.append(_check(col, f"regexp_full_match(trim({col}), '{MONEY_RE}') AND "
                                  f"length(split_part(trim({col}), '.', 2)) > 3",
                             "more than 3 decimal places"))
    checks.append(_check("order_total", "TRY_CAST(trim(order_total) AS DECIMAL(18,3)) < 0",
                         "order_total must not be negative"))
    checks.append(_check("risk_score", "TRY_CAST(trim(risk_score) AS DOUBLE) IS NULL OR "
                                       "NOT (TRY_CAST(trim(risk_score) AS DOUBLE) BETWEEN 0 AND 1)",
                         "risk_score must be a number from 0 to 1"))
    for col in INT_COLUMNS:
        checks.append(_check(col, f"TRY_CAST(trim({col}) AS INTEGER) IS NULL", "not a whole number"))
    checks.append(_check("items_ordered", "TRY_CAST(trim(items_ordered) AS INTEGER) < 0",
                         "items_ordered must not be negative"))
    for col in BOOL_COLUMNS:
        words = ", ".join(_q(w) for w in TRUE_WORDS + FALSE_WORDS)
        checks.append(_check(col, f"lower(trim({col})) NOT IN ({words})", "not true/false (or yes/no, 1/0)"))
    for col, enum in ENUM_COLUMNS.items():
        checks.append(_check(col, f"lower(trim({col})) NOT IN ({_enum_list(enum)})",
                             f"must be one of {', '.join(e.value for e in enum)}"))
    checks.append(_check("currency", "NOT regexp_full_match(trim(currency), '[A-Za-z]{3}')",
                         "not an ISO 4217 currency code (three letters)"))
    checks.append(_check("ship_country", "NOT regexp_full_match(trim(ship_country), '[A-Za-z]{2}')",
                         "not an ISO 3166 alpha-2 country code (two letters)"))
    for col in TEXT_COLUMNS + ("order_id",):
        checks.append(_check(col, f"length({col}) > {MAX_TEXT}", f"text longer than {MAX_TEXT:,} characters"))
    return checks


def errors_sql(raw: str) -> str:
    """All errors of the raw table, one row each: line, column, value, reason."""
    dup = ("CASE WHEN dup_first IS NOT NULL THEN {'column': 'order_id', 'value': order_id, "
           "'reason': 'duplicate order_id in this file (first at line ' || dup_first || ')'} END")
    checks = ",\n".join(error_checks() + [dup])
    return f"""
        SELECT line, e.column AS column_name, e.value AS value, e.reason AS reason
        FROM (SELECT line, unnest(list_filter([{checks}], lambda x: x IS NOT NULL)) AS e
              FROM (SELECT *, CASE WHEN NOT {blank('order_id')} AND
                                        line <> min(line) OVER (PARTITION BY trim(order_id))
                                   THEN min(line) OVER (PARTITION BY trim(order_id)) END AS dup_first
                    FROM {raw}))"""


def _text(col: str) -> str:
    return f"nullif(trim({col}), '')"


def _bool(col: str) -> str:
    t = ", ".join(_q(w) for w in TRUE_WORDS)
    f = ", ".join(_q(w) for w in FALSE_WORDS)
    return (f"CASE WHEN lower(trim({col})) IN ({t}) THEN true "
            f"WHEN lower(trim({col})) IN ({f}) THEN false END")


def typed_sql(raw: str, default_currency: str) -> str:
    """The raw text columns cast to the feed's types, blank as NULL. Run on rows that passed."""
    cols = ["line", f"trim(order_id) AS order_id"]
    for col in TIME_COLUMNS:
        cols.append(f"CAST(TRY_CAST({_text(col)} AS TIMESTAMPTZ) AS TIMESTAMP) AS {col}")
    for col in MONEY_COLUMNS:
        cols.append(f"TRY_CAST({_text(col)} AS DECIMAL(18,3)) AS {col}")
    cols.append(f"coalesce(upper({_text('currency')}), {_q(default_currency)}) AS currency")
    cols.append("TRY_CAST(" + _text("risk_score") + " AS DOUBLE) AS risk_score")
    for col in INT_COLUMNS:
        cols.append(f"TRY_CAST({_text(col)} AS INTEGER) AS {col}")
    for col in BOOL_COLUMNS:
        cols.append(f"{_bool(col)} AS {col}")
    for col in ENUM_COLUMNS:
        cols.append(f"lower({_text(col)}) AS {col}")
    for col in TEXT_COLUMNS:
        cols.append(f"{_text(col)} AS {col}")
    cols.append(f"upper({_text('ship_country')}) AS ship_country")
    return f"SELECT {', '.join(cols)} FROM {raw}"
