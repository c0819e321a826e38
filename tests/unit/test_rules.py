"""Routing rules (SPEC §3), evaluated for real in DuckDB.

Each order goes the way an import takes it: text values in a `raw` table, the feed validation (which must
find nothing), the typed projection (blank -> NULL), then `RuleSet.routing_sql`. Nothing here re-implements
a rule in Python; the tests only state what the spec says must come out.
"""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from exq_core.errors import RulesFileError
from exq_core.ingest.validate import errors_sql, failing_rows_sql, typed_sql
from exq_core.models import BUCKETS, FEED_COLUMNS, Bucket
from exq_core.rules import DEFAULT_RULES_PATH, RuleSet, load_rules, parse_rules

DEFAULTS = load_rules(DEFAULT_RULES_PATH)
DEFAULT_TEXT = DEFAULT_RULES_PATH.read_text(encoding="utf-8")

# A routine order: every value present and unremarkable; each test changes only what it is about.
ROUTINE = {
    "order_id": "O-1", "placed_at": "2026-11-27T10:00:00Z", "order_total": "100.00", "currency": "USD",
    "updated_at": "2026-11-27T10:05:00Z", "customer_id": "C1", "customer_email": "a@example.com",
    "customer_tier": "standard", "customer_ltv": "200.00", "payment_status": "paid", "amount_paid": "100.00",
    "amount_refunded": "", "risk_score": "0.10", "risk_level": "low", "items_ordered": "2",
    "items_available": "5", "ship_name": "Ada Lovelace", "ship_address1": "1 Main St", "ship_city": "Austin",
    "ship_postal_code": "78701", "ship_country": "US", "address_verified": "true",
    "fulfillment_status": "unfulfilled", "return_requested": "false", "damage_reported": "false",
    "return_reason": "", "customer_message": "",
}


def _load(con, rows: list[dict]) -> None:
    con.execute("CREATE TABLE raw (line BIGINT, " + ", ".join(f"{c} VARCHAR" for c in FEED_COLUMNS) + ")")
    for i, row in enumerate(rows):
        values = {**ROUTINE, "order_id": f"O-{i + 1}", **row}
        con.execute(f"INSERT INTO raw VALUES ({', '.join('?' * (len(FEED_COLUMNS) + 1))})",
                    [i + 2] + [values.get(c) for c in FEED_COLUMNS])
    if con.execute(failing_rows_sql("raw")).fetchall():     # the quicker screen; the errors say what failed
        raise AssertionError(f"test rows must be valid feed rows: {con.execute(errors_sql('raw')).fetchall()}")
    con.execute(f"CREATE TABLE orders AS SELECT 'test' AS source, * EXCLUDE (line) "
                f"FROM ({typed_sql('raw', 'USD')})")


def route_many(rows: list[dict], rules: RuleSet = DEFAULTS) -> list[dict]:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        _load(con, rows)
        out = con.execute(f"SELECT order_id, rules_fired, bucket, flags FROM ({rules.routing_sql('orders')}) "
                          "ORDER BY CAST(substr(order_id, 3) AS INTEGER)").fetchall()
    finally:
        con.close()
    return [{"rules": r, "bucket": b, "flags": f} for _, r, b, f in out]


def route(rules: RuleSet = DEFAULTS, **fields) -> dict:
    return route_many([fields], rules)[0]


def fired(**fields) -> list[str]:
    return route(**fields)["rules"]


# -- the routine order -------------------------------------------------------------------------------

def test_routine_order_fires_nothing():
    assert route() == {"rules": [], "bucket": None, "flags": []}


# -- fraud ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, fires", [
    ({"risk_level": "high"}, True),
    ({"risk_level": "HIGH "}, True),           # validation accepts any case; typing lowercases
    ({"risk_score": "0.75"}, True),            # the boundary itself fires (>=)
    ({"risk_score": "0.7500001"}, True),
    ({"risk_score": "0.7499"}, False),
    ({"risk_score": "1"}, True),
    ({"risk_level": "medium", "risk_score": "0.74"}, False),
    ({"risk_level": "", "risk_score": "0.5"}, False),      # blank level is unknown
    ({"risk_level": "low", "risk_score": ""}, False),       # blank score is unknown
    ({"risk_level": "  ", "risk_score": "   "}, False),
])
def test_fraud_rule(fields, fires):
    assert ("fraud" in fired(**fields)) is fires


def test_fraud_routes_to_fraud_risk():
    assert route(risk_level="high") == {"rules": ["fraud"], "bucket": "fraud_risk", "flags": []}


# -- payment -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, fires", [
    ({"payment_status": "failed"}, True),                                   # failed fires even when paid in full
    ({"payment_status": "failed", "amount_paid": ""}, True),
    ({"order_total": "483.13", "amount_paid": "483.12"}, False),            # exactly 0.01: not more than tolerance
    ({"order_total": "483.12", "amount_paid": "483.13"}, False),
    ({"order_total": "100.00", "amount_paid": "100.01"}, False),
    ({"order_total": "100.00", "amount_paid": "99.99"}, False),
    ({"order_total": "100.000", "amount_paid": "100.011"}, True),           # 0.011 > 0.01
    ({"order_total": "100.000", "amount_paid": "99.989"}, True),
    ({"order_total": "483.13", "amount_paid": "483.119"}, True),
    ({"order_total": "100.00", "amount_paid": "50.00", "payment_status": "partially_paid"}, True),
    ({"order_total": "100.00", "amount_paid": "0", "payment_status": "refunded"}, False),   # settled
    ({"order_total": "100.00", "amount_paid": "0", "payment_status": "voided"}, False),
    ({"order_total": "100.00", "amount_paid": "0", "payment_status": ""}, True),     # blank is "not in" the list
    ({"order_total": "100.00", "amount_paid": "0", "payment_status": "   "}, True),
    ({"order_total": "100.00", "amount_paid": "", "payment_status": "paid"}, False),  # null amount_paid
    ({"order_total": "100.00", "amount_paid": "  ", "payment_status": ""}, False),
    ({"order_total": "100.00", "amount_paid": "200.00", "payment_status": "authorized"}, True),
])
def test_payment_rule(fields, fires):
    assert ("payment" in fired(**fields)) is fires


def test_money_is_exact_decimal_end_to_end():
    """483.13 − 483.12 is 0.01 exactly, not 0.0100000000000477: the typed order holds DECIMALs."""
    con = duckdb.connect()
    try:
        _load(con, [{"order_total": "483.13", "amount_paid": "483.12"}])
        diff, typ = con.execute("SELECT abs(amount_paid - order_total), typeof(order_total) FROM orders").fetchone()
    finally:
        con.close()
    assert diff == Decimal("0.010") and typ.startswith("DECIMAL")


# -- inventory -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, fires", [
    ({"items_ordered": "3", "items_available": "2"}, True),
    ({"items_ordered": "3", "items_available": "0"}, True),
    ({"items_ordered": "3", "items_available": "3"}, False),
    ({"items_ordered": "3", "items_available": "4"}, False),
    ({"items_ordered": "3", "items_available": ""}, False),
    ({"items_ordered": "", "items_available": "0"}, False),
])
def test_inventory_rule(fields, fires):
    assert ("inventory" in fired(**fields)) is fires


# -- address -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, fires", [
    ({"address_verified": "false"}, True),
    ({"address_verified": "no"}, True),
    ({"address_verified": "0", "fulfillment_status": "partial"}, True),
    ({"address_verified": "false", "fulfillment_status": "fulfilled"}, False),
    ({"address_verified": "false", "fulfillment_status": "delivered"}, False),
    ({"address_verified": "false", "fulfillment_status": "canceled"}, False),
    ({"address_verified": "false", "fulfillment_status": ""}, True),     # blank status: still open
    ({"address_verified": ""}, False),                                   # blank is not a failed check
    ({"address_verified": "   "}, False),
    ({"address_verified": "true"}, False),
    ({"ship_name": ""}, True),
    ({"ship_address1": "   "}, True),
    ({"ship_city": ""}, True),
    ({"ship_postal_code": " "}, True),
    ({"ship_country": ""}, True),
    ({"ship_country": "", "fulfillment_status": "delivered"}, False),
    ({"ship_city": "", "address_verified": ""}, True),
])
def test_address_rule(fields, fires):
    assert ("address" in fired(**fields)) is fires


# -- returns -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, fires", [
    ({"return_requested": "true"}, True),
    ({"return_requested": "Yes"}, True),
    ({"damage_reported": "1"}, True),
    ({"damage_reported": "true", "return_requested": "false"}, True),
    ({"return_requested": "false", "damage_reported": "false"}, False),
    ({"return_requested": "", "damage_reported": ""}, False),            # blank is not a return
    ({"return_requested": "  ", "damage_reported": "false"}, False),
])
def test_returns_rule(fields, fires):
    assert ("returns" in fired(**fields)) is fires


# -- vip -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, fires", [
    ({"customer_tier": "vip"}, False),                                   # valuable alone is routine
    ({"order_total": "5000.00", "amount_paid": "5000.00"}, False),
    ({"customer_ltv": "90000"}, False),
    ({"customer_tier": "vip", "customer_message": "Where is my parcel?"}, True),
    ({"customer_tier": "vip", "customer_message": "   "}, False),        # a blank message is no message
    ({"customer_tier": "vip", "items_available": "0"}, True),
    ({"customer_tier": "standard", "customer_message": "hi"}, False),
    ({"customer_tier": "", "customer_message": "hi"}, False),
    # order_total threshold (with a message so only the value decides)
    ({"order_total": "1000", "amount_paid": "1000", "customer_message": "hi"}, True),
    ({"order_total": "1000.000", "amount_paid": "1000", "customer_message": "hi"}, True),
    ({"order_total": "999.99", "amount_paid": "999.99", "customer_message": "hi"}, False),
    ({"order_total": "999.999", "amount_paid": "999.999", "customer_message": "hi"}, False),
    # customer_ltv threshold
    ({"customer_ltv": "5000", "customer_message": "hi"}, True),
    ({"customer_ltv": "4999.99", "customer_message": "hi"}, False),
    ({"customer_ltv": "", "customer_message": "hi"}, False),
    ({"customer_ltv": "5000", "items_available": "0"}, True),
])
def test_vip_rule(fields, fires):
    assert ("vip" in fired(**fields)) is fires


def test_vip_needs_another_rule_that_actually_fired():
    """A rule that does not fire (here: address on a delivered order) does not make a VIP a case."""
    assert route(customer_tier="vip", address_verified="false", fulfillment_status="delivered") == \
        {"rules": [], "bucket": None, "flags": []}


# -- precedence ----------------------------------------------------------------------------------------

def test_every_rule_at_once_takes_fraud_and_keeps_the_rest_as_flags_in_precedence_order():
    out = route(risk_level="high", customer_tier="vip", payment_status="failed", items_available="0",
                address_verified="false", return_requested="true")
    assert out["bucket"] == "fraud_risk"
    assert out["flags"] == ["vip_revenue", "payment_mismatch", "inventory_conflict", "address_problem",
                            "return_damage"]
    assert sorted(out["rules"]) == sorted(["fraud", "payment", "inventory", "address", "returns", "vip"])


@pytest.mark.parametrize("fields, bucket, flags", [
    ({"payment_status": "failed", "return_requested": "true"}, "payment_mismatch", ["return_damage"]),
    ({"items_available": "0", "address_verified": "false"}, "inventory_conflict", ["address_problem"]),
    ({"address_verified": "false", "damage_reported": "true"}, "address_problem", ["return_damage"]),
    ({"customer_tier": "vip", "payment_status": "failed"}, "vip_revenue", ["payment_mismatch"]),
    ({"customer_tier": "vip", "risk_score": "0.9"}, "fraud_risk", ["vip_revenue"]),
    ({"return_requested": "true"}, "return_damage", []),
])
def test_precedence(fields, bucket, flags):
    out = route(**fields)
    assert (out["bucket"], out["flags"]) == (bucket, flags)


def test_many_orders_in_one_pass_are_routed_independently():
    rows = [{}, {"risk_level": "high"}, {"items_available": "0"}, {"customer_tier": "vip"},
            {"customer_tier": "vip", "customer_message": "hello"}]
    assert [r["bucket"] for r in route_many(rows)] == [None, "fraud_risk", "inventory_conflict", None,
                                                        "vip_revenue"]


# -- rules are data ------------------------------------------------------------------------------------

def _edited(old: str, new: str) -> RuleSet:
    assert DEFAULT_TEXT.count(old) == 1, old
    return parse_rules(DEFAULT_TEXT.replace(old, new), "edited.toml")


def test_thresholds_come_from_the_rules_file():
    loose = _edited('tolerance = "0.01"', 'tolerance = "1.00"')
    assert "payment" not in route(loose, amount_paid="99.50")["rules"]
    assert "payment" in route(loose, amount_paid="98.99")["rules"]
    strict = _edited("risk_score_at_least = 0.75", "risk_score_at_least = 0.5")
    assert "fraud" in route(strict, risk_score="0.5")["rules"]
    big = _edited('order_total_at_least = "1000"', 'order_total_at_least = "50"')
    assert "vip" in route(big, customer_message="hi")["rules"]


def test_a_disabled_rule_does_not_fire_and_does_not_count_for_vip():
    rules = _edited('name = "inventory"\nkind = "inventory"',
                    'name = "inventory"\nkind = "inventory"\nenabled = false')
    assert route(rules, items_available="0", customer_tier="vip") == {"rules": [], "bucket": None, "flags": []}


def test_precedence_comes_from_the_rules_file():
    rules = _edited('precedence = ["fraud_risk", "vip_revenue", "payment_mismatch", "inventory_conflict", '
                    '"address_problem", "return_damage"]',
                    'precedence = ["return_damage", "fraud_risk", "vip_revenue", "payment_mismatch", '
                    '"inventory_conflict", "address_problem"]')
    out = route(rules, risk_level="high", return_requested="true")
    assert (out["bucket"], out["flags"]) == ("return_damage", ["fraud_risk"])


def test_shipped_defaults_match_the_spec():
    assert DEFAULTS.precedence == list(BUCKETS)
    assert {b.value: DEFAULTS.sla_hours(b) for b in Bucket} == {
        "fraud_risk": 2, "vip_revenue": 4, "payment_mismatch": 8, "inventory_conflict": 8,
        "address_problem": 12, "return_damage": 48}
    assert {b.value: s.weight for b, s in DEFAULTS.buckets.items()} == {
        "fraud_risk": 50, "vip_revenue": 40, "payment_mismatch": 30, "inventory_conflict": 25,
        "address_problem": 20, "return_damage": 10}
    p = DEFAULTS.priority
    assert (p.value_cap, p.value_factor, p.breach_points, p.urgency_scale) == (20, 5, 30, 20)
    assert DEFAULTS.full_version.startswith("2026.12.1+") and len(DEFAULTS.source_hash) == 8


def test_full_version_changes_with_the_file_content():
    edited = _edited("risk_score_at_least = 0.75", "risk_score_at_least = 0.8")
    assert edited.version == DEFAULTS.version and edited.full_version != DEFAULTS.full_version


# -- a bad rules file ----------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, expected", [
    ("risk_score_at_least = 0.75", "risk_score_at_least = 1.5", ["rule 'fraud'", "risk_score_at_least"]),
    ("risk_score_at_least = 0.75", "risk_score_at_lest = 0.75", ["rule 'fraud'", "risk_score_at_lest"]),
    ('tolerance = "0.01"', 'tolerance = "abc"', ["rule 'payment'", "tolerance", "decimal"]),
    ('tolerance = "0.01"', 'tolerance = "-1"', ["rule 'payment'", "tolerance"]),
    ('failed_statuses = ["failed"]', 'failed_statuses = ["bounced"]', ["rule 'payment'", "failed_statuses"]),
    ('kind = "inventory"', 'kind = "stock"', ["rule 'inventory'", "kind", "stock"]),
    ('name = "inventory"\nkind = "inventory"\n', 'name = "inventory"\n', ["rule 'inventory'", "kind"]),
    ('bucket = "return_damage"\n', 'bucket = "returns"\n', ["rule 'returns'", "bucket"]),
    ('ship_fields = ["ship_name",', 'ship_fields = ["ship_nam",', ["rule 'address'", "ship_fields"]),
    ('order_total_at_least = "1000"', 'order_total_at_least = "lots"', ["rule 'vip'", "order_total_at_least"]),
    ('name = "vip"', 'name = "VIP rule"', ["rule 'VIP rule'", "name"]),
    ("sla_hours = 2\n", "sla_hours = 0\n", ["buckets.fraud_risk.sla_hours"]),
    ("weight = 50\n", "weight = -1\n", ["buckets.fraud_risk.weight"]),
    ('"return_damage"]', '"fraud_risk"]', ["precedence"]),
    ("[buckets.return_damage]\nsla_hours = 48\nweight = 10\n", "", ["return_damage"]),
    ('name = "vip"', 'name = "fraud"', ["unique", "fraud"]),
    ("value_cap = 20", "value_cap = -20", ["priority.value_cap"]),
    ("value_cap = 20", "value_cap = inf", ["priority.value_cap"]),          # not finite: refused at load
    ("value_cap = 20", "value_cap = nan", ["priority.value_cap"]),
    ("risk_score_at_least = 0.75", "risk_score_at_least = nan", ["rule 'fraud'", "risk_score_at_least"]),
    ("weight = 50\n", "weight = inf\n", ["buckets.fraud_risk.weight"]),
])
def test_bad_rules_file_names_the_rule_and_field(old, new, expected):
    text = DEFAULT_TEXT.replace(old, new, 1)
    assert text != DEFAULT_TEXT
    with pytest.raises(RulesFileError) as info:
        parse_rules(text, "my_rules.toml")
    message = str(info.value)
    assert "my_rules.toml" in message
    for part in expected:
        assert part in message, message
    assert ": :" not in message and "\n  :" not in message   # every line says where, or is a whole-file check


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(RulesFileError, match="not valid TOML"):
        parse_rules(DEFAULT_TEXT + "\n[[rules]\n", "broken.toml")
    with pytest.raises(RulesFileError, match="cannot read rules file"):
        load_rules(tmp_path / "nope.toml")


def test_rules_path_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "rules.toml"
    path.write_text(DEFAULT_TEXT.replace('version = "2026.12.1"', 'version = "local-7"'), encoding="utf-8")
    monkeypatch.setenv("EXQ_RULES", str(path))
    assert load_rules().version == "local-7"


def test_white_space_only_values_are_unknown_and_fire_nothing_by_themselves():
    assert route(return_requested="\t", damage_reported="\n", address_verified=" \t ",
                 payment_status="\t", amount_paid="\t") == {"rules": [], "bucket": None, "flags": []}
    assert route(ship_city="\t")["rules"] == ["address"]       # a blank ship field is a problem


@pytest.mark.parametrize("values", [[], ["a"], ["a", "b", "c", "d", "e", "f", "g"], ["it's", ""]])
def test_one_of_and_none_of_are_in_and_not_in(values):
    """The comparisons that replace `IN (...)` (dialect.one_of) mean exactly what IN means, NULL included
    (an empty list, which IN cannot spell, is nothing: one_of false, none_of true)."""
    from exq_core.store.dialect import none_of, one_of
    con = duckdb.connect()
    for x in ["a", "g", "it's", "", "z", None]:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT CAST(? AS VARCHAR) AS x", [x])
        expected_in = False if not values else None if x is None else x in values
        assert con.execute(f"SELECT {one_of('x', values)} FROM t").fetchone()[0] == expected_in, (x, values)
        expected_not = True if not values else None if x is None else x not in values
        assert con.execute(f"SELECT {none_of('x', values)} FROM t").fetchone()[0] == expected_not, (x, values)
