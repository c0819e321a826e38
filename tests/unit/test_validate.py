"""Feed row validation (SPEC §2) in DuckDB: every broken value named with line, column, value and reason,
and the typed projection (blank -> NULL, trimmed, lower-cased enums, exact decimals).

The expected reports are spelled out in full so that any change to a check or a message shows here.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pytest

from exq_core.ingest.validate import errors_sql, failing_rows_sql, typed_sql
from exq_core.models import FEED_COLUMNS

from .test_rules import ROUTINE

NOT_DECIMAL = "not a decimal number (use . for decimals, no thousands separators)"
NOT_TIME = "not an ISO 8601 date-time (e.g. 2026-11-27T09:30:00Z)"
NOT_WHOLE = "not a whole number"
NOT_BOOL = "not true/false (or yes/no, 1/0)"
RISK = "risk_score must be a number from 0 to 1"
TOO_LONG = "text longer than 10,000 characters"


@pytest.fixture
def con():
    c = duckdb.connect(config={"autoinstall_known_extensions": False})
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


def load(con, rows: list[dict]) -> None:
    con.execute("CREATE OR REPLACE TABLE raw (line BIGINT, " + ", ".join(f"{c} VARCHAR" for c in FEED_COLUMNS) + ")")
    for i, row in enumerate(rows):
        values = {**ROUTINE, "order_id": f"O-{i + 1}", **row}
        con.execute(f"INSERT INTO raw VALUES ({', '.join('?' * (len(FEED_COLUMNS) + 1))})",
                    [i + 2] + [values.get(c) for c in FEED_COLUMNS])


def errors(con, rows: list[dict]) -> list[tuple]:
    load(con, rows)
    out = con.execute(f"SELECT * FROM ({errors_sql('raw')}) ORDER BY line, column_name, reason").fetchall()
    # the cheap screen an import runs first finds exactly the rows that have errors
    failing = {line for (line,) in con.execute(failing_rows_sql("raw")).fetchall()}
    assert failing == {line for line, *_ in out}
    return [(line, col, value if value is None or len(value) <= 30 else f"<{len(value)} chars>", reason)
            for line, col, value, reason in out]


def typed(con, rows: list[dict]) -> list[dict]:
    load(con, rows)
    cur = con.execute(f"SELECT * FROM ({typed_sql('raw', 'USD')}) ORDER BY line")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_a_good_row_has_no_errors(con):
    assert errors(con, [{}, {"order_id": " padded ", "payment_status": " PAID ", "address_verified": "Yes",
                             "currency": "eur", "ship_country": "de", "order_total": " 12.5 ",
                             "items_ordered": " +5 ", "risk_score": "1e-1", "placed_at": "2026-11-27"}]) == []


INVISIBLE = ("contains invisible or direction-changing characters (bidi controls, zero-width characters): an id "
             "must read as what it is")


def test_every_check_and_its_message(con):
    rows = [
        {"order_id": "", "placed_at": " ", "order_total": None},                            # 2
        {"order_id": "X" * 201},                                                            # 3
        {"order_id": "X" * 10001},                                                          # 4
        {"placed_at": "yesterday", "updated_at": "2026-13-01T00:00:00Z"},                   # 5
        {"placed_at": "2026-11-27T08:00:00+02:00", "updated_at": "2026-11-27"},             # 6 fine
        {"order_total": "12,50", "customer_ltv": "1.2345", "amount_paid": "abc", "amount_refunded": "1e5"},
        {"order_total": "-3", "amount_paid": "-1.5"},                                       # 8
        {"order_total": "1234567890123456", "customer_ltv": "123456789012345.123"},         # 9
        {"order_total": " 7.5 ", "amount_paid": "+7.5", "customer_ltv": "7."},              # 10 fine
        {"risk_score": "1.5"}, {"risk_score": "-0.1"}, {"risk_score": "nan"}, {"risk_score": "high"},
        {"risk_score": "1e-1"},                                                             # 15 fine
        {"items_ordered": "2.5", "items_available": "1e3"},                                 # 16
        {"items_ordered": "-1", "items_available": "-4"},                                   # 17
        {"items_ordered": "0x10", "items_available": "1_000"},                              # 18
        {"items_ordered": "3000000000"}, {"items_ordered": " +5 "},                         # 19, 20
        {"address_verified": "maybe", "return_requested": "Y", "damage_reported": "2"},     # 21
        {"customer_tier": "gold", "payment_status": "PAID", "risk_level": "extreme", "fulfillment_status": "shipped"},
        {"currency": "US", "ship_country": "USA"}, {"currency": "eur", "ship_country": "de"},
        {"currency": "€UR", "ship_country": "1A"},                                          # 25
        {"customer_message": "y" * 10001, "return_reason": "z" * 10000, "ship_name": "w" * 10001},
        {"order_id": "DUP"}, {"order_id": " DUP "},                                        # 27, 28: not errors
        {"order_id": "A\u202eB"}, {"order_id": "A\u200bB", "customer_id": "C\ufeff1"},          # 29, 30
        {"order_total": "100.0000", "amount_paid": "99.9900"},                              # 31 fine
        {"order_total": "100.0001"},                                                        # 32
    ]
    assert errors(con, rows) == [
        (2, "order_id", "", "required value is blank"),
        (2, "order_total", None, "required value is blank"),
        (2, "placed_at", " ", "required value is blank"),
        (3, "order_id", "<120 chars>", "order_id longer than 200 characters"),
        (4, "order_id", "<120 chars>", "order_id longer than 200 characters"),
        (4, "order_id", "<120 chars>", TOO_LONG),
        (5, "placed_at", "yesterday", NOT_TIME),
        (5, "updated_at", "2026-13-01T00:00:00Z", NOT_TIME),
        (7, "amount_paid", "abc", NOT_DECIMAL),
        (7, "amount_refunded", "1e5", NOT_DECIMAL),
        (7, "customer_ltv", "1.2345", "more than 3 decimal places"),
        (7, "order_total", "12,50", NOT_DECIMAL),
        (8, "order_total", "-3", "order_total must not be negative"),
        (9, "order_total", "1234567890123456", "too large: at most 15 digits before the decimal point"),
        (11, "risk_score", "1.5", RISK),
        (12, "risk_score", "-0.1", RISK),
        (13, "risk_score", "nan", RISK),
        (14, "risk_score", "high", RISK),
        (16, "items_available", "1e3", NOT_WHOLE),
        (16, "items_ordered", "2.5", NOT_WHOLE),
        (17, "items_ordered", "-1", "items_ordered must not be negative"),
        (18, "items_available", "1_000", NOT_WHOLE),
        (18, "items_ordered", "0x10", NOT_WHOLE),
        (19, "items_ordered", "3000000000", "out of range: a whole number from -2,147,483,648 to 2,147,483,647"),
        (21, "address_verified", "maybe", NOT_BOOL),
        (21, "damage_reported", "2", NOT_BOOL),
        (22, "customer_tier", "gold", "must be one of standard, vip"),
        (22, "fulfillment_status", "shipped", "must be one of unfulfilled, partial, fulfilled, delivered, canceled"),
        (22, "risk_level", "extreme", "must be one of low, medium, high"),
        (23, "currency", "US", "not an ISO 4217 currency code (three letters)"),
        (23, "ship_country", "USA", "not an ISO 3166 alpha-2 country code (two letters)"),
        (25, "currency", "€UR", "not an ISO 4217 currency code (three letters)"),
        (25, "ship_country", "1A", "not an ISO 3166 alpha-2 country code (two letters)"),
        (26, "customer_message", "<120 chars>", TOO_LONG),
        (26, "ship_name", "<120 chars>", TOO_LONG),
        (29, "order_id", "A\u202eB", INVISIBLE),
        (30, "customer_id", "C\ufeff1", INVISIBLE),
        (30, "order_id", "A\u200bB", INVISIBLE),
        (32, "order_total", "100.0001", "more than 3 decimal places"),
    ]


def test_text_of_exactly_the_limit_passes(con):
    assert errors(con, [{"customer_message": "é" * 10_000, "order_id": "Z" * 200}]) == []


def test_typed_values(con):
    [a, b] = typed(con, [
        {"order_id": "  A-1 ", "placed_at": "2026-11-27T08:00:00+02:00", "updated_at": "", "order_total": " 483.13 ",
         "amount_paid": "483.12", "currency": " eur ", "ship_country": "de", "payment_status": " Paid ",
         "customer_tier": "VIP", "address_verified": " YES ", "return_requested": "0", "damage_reported": "",
         "items_ordered": " 3 ", "risk_score": " 0.5 ", "customer_email": "   ", "ship_city": " Berlin ",
         "customer_message": "<script>alert(1)</script>'; DROP TABLE orders; --"},
        {"currency": "", "risk_level": "  ", "fulfillment_status": None},
    ])
    assert a["order_id"] == "A-1"
    assert a["placed_at"] == datetime(2026, 11, 27, 6, 0) and a["updated_at"] is None
    assert a["order_total"] == Decimal("483.130") and a["amount_paid"] - a["order_total"] == Decimal("-0.010")
    assert (a["currency"], a["ship_country"], a["payment_status"], a["customer_tier"]) == ("EUR", "DE", "paid", "vip")
    assert (a["address_verified"], a["return_requested"], a["damage_reported"]) == (True, False, None)
    assert (a["items_ordered"], a["risk_score"]) == (3, 0.5)
    assert a["customer_email"] is None and a["ship_city"] == "Berlin"
    assert a["customer_message"] == "<script>alert(1)</script>'; DROP TABLE orders; --"   # data, kept verbatim
    assert (b["currency"], b["risk_level"], b["fulfillment_status"]) == ("USD", None, None)


@pytest.mark.parametrize("blank", ["\t", "\n", " \t \r\n ", "\v\f"])
def test_white_space_of_any_kind_is_blank(con, blank):
    """SPEC §2: blank is null, empty or only white space — tabs and line breaks included."""
    fields = {"return_requested": blank, "damage_reported": blank, "address_verified": blank,
              "payment_status": blank, "risk_level": blank, "amount_paid": blank, "risk_score": blank,
              "items_available": blank, "updated_at": blank, "currency": blank, "ship_city": blank,
              "customer_message": blank}
    assert errors(con, [fields]) == []
    [row] = typed(con, [fields])
    assert all(row[c] is None for c in fields if c != "currency") and row["currency"] == "USD"
    assert errors(con, [{"order_id": blank, "order_total": blank}]) == [
        (2, "order_id", blank, "required value is blank"), (2, "order_total", blank, "required value is blank")]


def test_white_space_around_values_is_trimmed(con):
    fields = {"order_id": "\tA-7\n", "payment_status": "\tpaid", "return_requested": "\nyes",
              "order_total": "\t12.5", "items_ordered": " \t3", "currency": "\teur", "ship_city": "\t Berlin "}
    assert errors(con, [fields]) == []
    [row] = typed(con, [fields])
    assert (row["order_id"], row["payment_status"], row["return_requested"], row["order_total"],
            row["items_ordered"], row["currency"], row["ship_city"]) == \
        ("A-7", "paid", True, Decimal("12.500"), 3, "EUR", "Berlin")


@pytest.mark.parametrize("word, meaning", [
    *[(w, True) for w in ("true", "t", "yes", "y", "1")], *[(w, False) for w in ("false", "f", "no", "n", "0")]])
def test_every_boolean_word_in_any_case_and_padding_types_as_it_means(con, word, meaning):
    spellings = [word, word.upper(), word.title(), f" {word}", f"{word.upper()}\t", f"\n{word} "]
    rows = [{"address_verified": s, "return_requested": s, "damage_reported": s} for s in spellings]
    assert errors(con, rows) == []
    for row in typed(con, rows):
        assert (row["address_verified"], row["return_requested"], row["damage_reported"]) == (meaning,) * 3


@pytest.mark.parametrize("word", ["ja", "tru", "yes!", "2", "-1", "on", "off", "null", "y e s"])
def test_no_other_word_is_a_boolean(con, word):
    assert errors(con, [{"damage_reported": word}]) == [(2, "damage_reported", word, NOT_BOOL)]
