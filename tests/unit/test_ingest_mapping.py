"""Column mapping specs (pydantic) and suggestions from headers — no database; the SQL that reads a mapped
value is run on single values in an in-memory DuckDB."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pytest

from exq_core.errors import FeedError
from exq_core.ingest.mapping import (MappingSpec, _date_expr, _line_problem, _line_value, _number, load_toml,
                                     parse_spec, prepare)
from exq_core.ingest.suggest import suggest_mapping

BASE = {"name": "erp", "columns": {"Order No": "order_id", "Order Date": "placed_at", "Grand Total": "order_total"}}


def spec(**extra) -> MappingSpec:
    return parse_spec({**BASE, **extra})


def test_a_minimal_spec():
    s = spec()
    assert s.source_name == "erp" and s.encoding == "utf-8" and not s.decimal_comma


@pytest.mark.parametrize("extra, message", [
    ({"columns": {"Order No": "order_id", "Order Date": "placed_at"}}, "required field(s) not mapped: order_total"),
    ({"columns": {**BASE["columns"], "Ref": "order_id"}}, "mapped more than once: order_id"),
    ({"columns": {**BASE["columns"], "Colour": "colour"}}, "columns.Colour"),
    ({"values": {"payment_status": {"Bezahlt": "paid"}}}, "no column is mapped to payment_status"),
    ({"columns": {**BASE["columns"], "Paid?": "payment_status"}, "values": {"payment_status": {"Ja": "yes please"}}},
     "must translate to one of"),
    ({"columns": {**BASE["columns"], "Gift": "return_requested"}, "values": {"return_requested": {"Ja": "maybe"}}},
     "must translate to one of true, false"),
    ({"date_format": "DD/MM/YYYY"}, "no % codes"),
    ({"default_currency": "euro"}, "default_currency"),
    ({"delimiter": "::"}, "delimiter"),
    ({"name": "'; DROP TABLE orders; --"}, "name"),
    ({"surprise": 1}, "surprise"),
    ({"columns": {"Order\x00No": "order_id", "Order Date": "placed_at", "Grand Total": "order_total"}}, "columns"),
])
def test_an_invalid_spec_is_a_clear_error(extra, message):
    with pytest.raises(FeedError) as info:
        spec(**extra)
    assert message in str(info.value)
    assert "is not a valid column mapping" in str(info.value)


def test_value_maps_accept_our_words_for_flags():
    s = spec(columns={**BASE["columns"], "Gift": "return_requested"}, values={"return_requested": {"Ja": "yes", "Nein": "false"}})
    assert s.values["return_requested"] == {"Ja": "yes", "Nein": "false"}


def test_toml_round_trip(tmp_path):
    s = spec(values={}, date_format="%d/%m/%Y %H:%M", default_currency="EUR", decimal_comma=True, delimiter=";",
             columns={**BASE["columns"], "Status": "payment_status"})
    s = s.model_copy(update={"values": {"payment_status": {"Bezahlt": "paid", "Offen": "pending"}}})
    path = tmp_path / "erp.toml"
    path.write_text(s.to_toml())
    assert load_toml(path) == s


def test_a_toml_file_without_a_name_takes_the_file_name(tmp_path):
    path = tmp_path / "acme export.toml"
    path.write_text('[columns]\n"Order No" = "order_id"\n"Order Date" = "placed_at"\n"Grand Total" = "order_total"\n')
    assert load_toml(path).name == "acme export"


def test_a_broken_toml_file(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("[columns\n")
    with pytest.raises(FeedError, match="not valid TOML"):
        load_toml(path)


def test_suggestions_match_headers_to_fields():
    headers = ["Order Number", "Order Date", "Grand Total", "Currency Code", "E-Mail", "Financial Status",
               "Qty", "Zip", "Country", "Customer Note", "Colour"]
    s = suggest_mapping(headers)
    assert s.columns == {"Order Number": "order_id", "Order Date": "placed_at", "Grand Total": "order_total",
                         "Currency Code": "currency", "E-Mail": "customer_email", "Financial Status": "payment_status",
                         "Qty": "items_ordered", "Zip": "ship_postal_code", "Country": "ship_country",
                         "Customer Note": "customer_message"}
    assert "Colour" not in s.columns
    assert all(0 < c <= 1 for c in s.confidence.values())


def test_exact_field_names_win_and_each_field_is_used_once():
    s = suggest_mapping(["order_id", "Order No", "placed_at", "order_total", "total"])
    assert s.columns["order_id"] == "order_id" and "Order No" not in s.columns
    assert s.columns["order_total"] == "order_total" and "total" not in s.columns


def test_fuzzy_headers_with_typos():
    s = suggest_mapping(["Ordr Id", "Placed At", "Order Totl"])
    assert s.columns == {"Ordr Id": "order_id", "Placed At": "placed_at", "Order Totl": "order_total"}


def test_suggested_values_date_format_and_decimal_comma():
    headers = ["Order No", "Order Date", "Grand Total", "Payment", "Returned"]
    samples = {"Order No": ["A-1", "A-2"], "Order Date": ["20/11/2026 10:00", "21/11/2026 16:45"],
               "Grand Total": ["1.234,50", "99,90"], "Payment": ["Paid", "Partially Paid", "Refundd"],
               "Returned": ["Ja", "Nein", "yes"]}
    s = suggest_mapping(headers, samples)
    assert s.columns["Payment"] == "payment_status" and s.columns["Returned"] == "return_requested"
    assert s.values["payment_status"] == {"Partially Paid": "partially_paid", "Refundd": "refunded"}
    assert s.values["return_requested"] == {"Ja": "true", "Nein": "false"}
    assert s.date_format == "%d/%m/%Y %H:%M" and s.decimal_comma is True
    assert s.spec("erp").columns["Order No"] == "order_id"


def test_day_first_is_chosen_when_the_data_says_so():
    s = suggest_mapping(["Order No", "Date", "Total"], {"Date": ["03/04/2026", "25/04/2026"]})
    assert s.date_format == "%d/%m/%Y"
    s = suggest_mapping(["Order No", "Date", "Total"], {"Date": ["04/25/2026", "04/03/2026"]})
    assert s.date_format == "%m/%d/%Y"


def test_iso_dates_and_point_decimals_need_nothing():
    s = suggest_mapping(["id", "created", "amount"], {"created": ["2026-11-20T10:00:00Z"], "amount": ["1,234.50", "9.90"]})
    assert s.date_format is None and s.decimal_comma is False


# -- one value through the mapping's SQL -----------------------------------------------------------------

@pytest.fixture(scope="module")
def con():
    c = duckdb.connect(config={"autoinstall_known_extensions": False})
    yield c
    c.close()


def on_value(con, sql_of, written: str | None, amount: bool = False):
    """`sql_of(value)` for one written value, prepared (trimmed; an amount split) as the reader prepares it."""
    source, prepared = prepare({"v": ("v", amount)}, "(SELECT CAST(? AS VARCHAR) AS v)", "exq_")
    return con.execute(f"SELECT {sql_of(prepared['v'])} FROM ({source})", [written]).fetchone()[0]


BLANK_PRICE = "blank: every line needs its unit price, or the order's total is unknown"
QUANTITY_RANGE = "out of range: a quantity can be at most 2,147,483,647"
PLACES = "more than 10 decimal places: it cannot be used exactly"
DIGITS = "out of range: at most 15 digits before the decimal mark"


@pytest.mark.parametrize("role, written, number, problem", [
    ("quantity", "12", Decimal(12), None),
    ("quantity", " 2.000 ", Decimal(2), None),
    ("quantity", "-2,147,483,647", Decimal(-2147483647), None),
    ("quantity", "0.4", None, "quantity must be a whole number"),
    ("quantity", "3000000000", None, QUANTITY_RANGE),
    ("quantity", "1000000000000000", None, QUANTITY_RANGE),
    ("quantity", "", None, "blank: every line needs its quantity, or the order's total is unknown"),
    ("unit_price", "0.0000004", Decimal("0.0000004"), None),
    ("unit_price", "0.0125000000000000", Decimal("0.0125"), None),
    ("unit_price", "999,999,999,999,999.9999999999", Decimal("999999999999999.9999999999"), None),
    ("unit_price", "0.00000000004", None, PLACES),
    ("unit_price", "1000000000000000", None, DIGITS),
    ("unit_price", "  ", None, BLANK_PRICE),
    ("unit_price", None, None, BLANK_PRICE),
    ("unit_price", "abc", None, "not a number (the mapping declares a decimal point (1,234.56))"),
])
def test_a_line_number_is_used_exactly_as_written_or_not_at_all(con, role, written, number, problem):
    price = role != "quantity"
    currency = ("'GBP'", "the mapping's default_currency") if price else None
    assert on_value(con, lambda v: _line_value(_number(v, spec(), currency)[0], role), written, price) == number
    assert on_value(con, lambda v: _line_problem(v, role, spec(), False, currency), written, price) == problem


TWO_DIGITS = ("a year before 1900: a two-digit year? The date format %d.%m.%Y %H:%M has %Y, a year of four digits "
              "(2026, not 26)")


@pytest.mark.parametrize("written, parsed, problem", [
    ("02.11.2026 10:00", datetime(2026, 11, 2, 10, 0), None),
    (" 2.11.2026 8:05 ", datetime(2026, 11, 2, 8, 5), None),
    ("02.11.26 10:00", None, TWO_DIGITS),           # DuckDB's %Y read it as the year 26
    ("02.11.0026 10:00", None, TWO_DIGITS),
    ("2026-11-02 10:00", None, "does not match the date format %d.%m.%Y %H:%M"),
    ("", None, None),
])
def test_a_date_is_read_with_the_mapping_s_format_and_a_y_year_has_four_digits(con, written, parsed, problem):
    assert on_value(con, lambda v: _date_expr(v, "%d.%m.%Y %H:%M")[0], written) == parsed
    assert on_value(con, lambda v: _date_expr(v, "%d.%m.%Y %H:%M")[1], written) == problem


def test_a_two_digit_year_format_still_reads_two_digits(con):
    assert on_value(con, lambda v: _date_expr(v, "%d/%m/%y")[0], "02/11/26") == datetime(2026, 11, 2)
    assert on_value(con, lambda v: _date_expr(v, "%d/%m/%y")[1], "02/11/26") is None


EUROS = ("'EUR'", "the mapping's default_currency")     # an amount, in a row in euros
POINT_UNDER_COMMA = "written with a decimal point, but the mapping declares a decimal comma (1.234,56)"
COMMA_UNDER_POINT = "written with a decimal comma, but the mapping declares a decimal point (1,234.56)"


@pytest.mark.parametrize("decimal_comma, written, normal, problem", [
    (True, "1.234,50", "1234.50", None),
    (True, "0,125", "0.125", None),
    (True, "0.125", None, POINT_UNDER_COMMA),        # was 125: a first group of zeros is no thousands group
    (True, "00.500", None, POINT_UNDER_COMMA),       # was 500
    (True, "-0.500", None, POINT_UNDER_COMMA),
    (True, "\t12,50", "12.50", None),              # was "not a number": white space is trimmed, tabs too
    (True, "12,50\t", "12.50", None),
    (True, "\r\n1.234,50 €\t", "1234.50", None),
    (True, "\t", None, None),                       # blank
    (False, "0.125", "0.125", None),
    (False, "0,125", None, COMMA_UNDER_POINT),       # was 125
    (False, "1,234.50\t", "1234.50", None),
])
def test_a_number_is_read_by_the_declared_convention(con, decimal_comma, written, normal, problem):
    convention = spec(decimal_comma=decimal_comma)
    assert on_value(con, lambda v: _number(v, convention, EUROS)[0], written, amount=True) == normal
    assert on_value(con, lambda v: _number(v, convention, EUROS)[1], written, amount=True) == problem


ROW = "its Währung column, or the mapping's default_currency EUR when that is blank"
UNSAID = " alone does not say which currency: map a currency column or set the mapping's default_currency"


@pytest.mark.parametrize("row_currency, written, normal, problem", [
    ("'EUR'", "1.234,50 €", "1234.50", None),
    ("'EUR'", "EUR 12,50", "12.50", None),
    ("'EUR'", "12,50", "12.50", None),
    ("'EUR'", "USD 12,50", None, f"the amount is in USD, but the row's currency is EUR ({ROW})"),  # was 12.50 EUR
    ("'EUR'", "12,50 CHF", None, f"the amount is in CHF, but the row's currency is EUR ({ROW})"),
    ("'EUR'", "$12,50", None, f"the amount is in $, but the row's currency is EUR ({ROW})"),
    ("'CAD'", "$12,50", "12.50", None),
    ("'JPY'", "¥ 1.200", "1200", None),
    ("NULL", "$12,50", None, "$" + UNSAID),
])
def test_a_currency_written_in_an_amount_must_be_the_row_s(con, row_currency, written, normal, problem):
    currency, erp = (row_currency, ROW), spec(decimal_comma=True)
    assert on_value(con, lambda v: _number(v, erp, currency)[1], written, amount=True) == problem
    # strict (a line's price): no number when the currency is not the row's
    assert on_value(con, lambda v: _number(v, erp, currency, strict=True)[0], written, amount=True) == normal


def test_a_count_or_a_score_names_no_currency(con):
    assert on_value(con, lambda v: _number(v, spec(decimal_comma=True))[0], "EUR 5") is None
    assert on_value(con, lambda v: _number(v, spec(decimal_comma=True))[1], "EUR 5") == \
        "not a number (the mapping declares a decimal comma (1.234,56))"
