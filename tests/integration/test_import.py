"""Importing feed files into a real database (SPEC §2): all-or-nothing, the error report, --skip-invalid,
idempotent re-imports, bad input that writes nothing."""
from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal

import pytest

from exq_core.errors import FeedError, FeedInvalid, NotPermitted
from exq_core.ingest import import_file
from exq_core.rules import DEFAULT_RULES_PATH, load_rules

from tests.ingest_support import list_imports

from tests.feeds import counts, only_logged, snapshot

NOW = datetime(2026, 11, 27, 12, 0, 0)
RULES = load_rules(DEFAULT_RULES_PATH)
DATA = ("orders", "cases", "events", "decisions", "rejects")   # what an import writes besides its own record


def load(store, path, **kw):
    return import_file(store, path, rules=RULES, now=NOW, **kw)


def data(store) -> dict:
    snap = snapshot(store)
    return {t: snap[t] for t in DATA}


def test_a_good_file(store, feed):
    path = feed([{"order_id": "A"}, {"order_id": "B", "items_available": "0"},
                 {"order_id": "C", "placed_at": "2026-11-27T10:00:00+02:00", "updated_at": ""}])
    result = load(store, path)
    assert result.status == "imported" and result.report.ok
    assert (result.rows, result.orders_new, result.routine, result.cases_new) == (3, 3, 2, 1)
    with store.read() as cur:
        c = cur.execute("SELECT source, placed_at, updated_at, import_id, imported_at FROM orders "
                        "WHERE order_id = 'C'").fetchone()
        imp = cur.execute("SELECT file_name, status, rows_read, orders_new, cases_new, rules_version "
                          "FROM imports WHERE import_id = ?", [result.import_id]).fetchone()
    assert c == ("feed", datetime(2026, 11, 27, 8, 0), NOW, result.import_id, NOW)   # UTC; blank updated_at = now
    assert imp == ("feed.csv", "imported", 3, 3, 1, RULES.full_version)


def test_one_invalid_row_and_nothing_is_written(store, feed):
    load(store, feed([{"order_id": "OLD"}], "first.csv"))
    before = data(store)
    path = feed([{"order_id": "A"}, {"order_id": "B", "order_total": "12,50"}, {"order_id": "C"}], "orders.csv")
    with pytest.raises(FeedInvalid) as info:
        load(store, path)
    report = info.value.report
    assert report.error_count == 1 and report.rows == 3
    [error] = report.errors
    assert (error.line, error.column, error.value) == (3, "order_total", "12,50")
    assert "not a decimal number" in error.reason
    summary = str(info.value)
    assert "orders.csv" in summary and "nothing was imported" in summary
    assert "orders.csv:3" in summary and "order_total" in summary and "'12,50'" in summary
    assert data(store) == before


def test_the_report_lists_50_errors_then_a_count(store, feed):
    rows = [{"order_id": f"O{i}", "risk_score": "2"} for i in range(57)] + \
           [{"order_id": f"Q{i}", "placed_at": "soon"} for i in range(3)]
    with pytest.raises(FeedInvalid) as info:
        load(store, feed(rows))
    report = info.value.report
    assert report.error_count == 60 and len(report.errors) == 50
    assert [e.line for e in report.errors] == list(range(2, 52))
    assert "… and 10 more." in str(info.value)
    assert counts(store)["orders"] == 0


def test_skip_invalid_imports_the_rest_and_keeps_the_rejects(store, feed):
    path = feed([{"order_id": "A"}, {"order_id": "B", "order_total": "-1"},
                 {"order_id": "C", "items_available": "0"}, {"order_id": "D", "placed_at": "", "currency": "dollars"}])
    result = load(store, path, skip_invalid=True)
    assert result.status == "partial" and result.rejected == 2
    assert (result.orders_new, result.cases_new, result.routine) == (2, 1, 1)
    with store.read() as cur:
        orders = [r[0] for r in cur.execute("SELECT order_id FROM orders ORDER BY 1").fetchall()]
        rejects = cur.execute("SELECT import_id, file_name, line, column_name, value, reason FROM rejects "
                              "ORDER BY line, column_name").fetchall()
    assert orders == ["A", "C"]
    assert [(r[2], r[3], r[4]) for r in rejects] == [(3, "order_total", "-1"), (5, "currency", "dollars"),
                                                     (5, "placed_at", None)]
    assert all(r[0] == result.import_id and r[1] == "feed.csv" for r in rejects)


def test_reimporting_the_same_file_changes_nothing(store, feed):
    path = feed([{"order_id": "A"}, {"order_id": "B", "items_available": "0"}])
    first = load(store, path)
    before = snapshot(store)
    again = load(store, path)
    assert again.status == "unchanged" and again.import_id == first.import_id + 1     # logged, as unchanged
    assert f"already imported as source feed (import #{first.import_id}" in again.message
    assert only_logged(before, snapshot(store))
    assert list_imports(store, limit=1)[0]["status"] == "unchanged"


def test_the_same_snapshots_in_another_file_change_no_order_or_case(store, feed, tmp_path):
    rows = [{"order_id": "A"}, {"order_id": "B", "items_available": "0"}, {"order_id": "C"}]
    load(store, feed(rows, "monday.csv"))
    before = data(store)
    result = load(store, feed(list(reversed(rows)), "monday-again.csv"))   # other bytes, same snapshots
    assert (result.orders_new, result.orders_updated, result.cases_new, result.cases_updated) == (0, 0, 0, 0)
    assert data(store) == before


def test_a_copy_of_an_imported_file_is_a_duplicate(store, feed, tmp_path):
    path = feed([{"order_id": "A"}])
    load(store, path)
    copy = tmp_path / "renamed.csv"
    shutil.copy(path, copy)
    before = snapshot(store)
    assert load(store, copy).status == "unchanged"
    assert only_logged(before, snapshot(store))


def test_the_same_order_ids_from_another_source_are_other_orders(store, feed):
    path = feed([{"order_id": "A", "items_available": "0"}])
    load(store, path, source="shop-eu")
    result = load(store, path, source="shop-us")
    assert result.status == "imported" and result.cases_new == 1
    with store.read() as cur:
        assert cur.execute("SELECT source FROM cases ORDER BY 1").fetchall() == [("shop-eu",), ("shop-us",)]


def test_money_is_exact_end_to_end(store, feed):
    result = load(store, feed([{"order_id": "A", "order_total": "483.13", "amount_paid": "483.12"},
                               {"order_id": "B", "order_total": "483.13", "amount_paid": "483.119"}]))
    assert result.cases_new_by_bucket == {"payment_mismatch": 1}
    with store.read() as cur:
        assert cur.execute("SELECT order_id, amount_paid - order_total FROM orders ORDER BY 1").fetchall() == \
            [("A", Decimal("-0.010")), ("B", Decimal("-0.011"))]
        assert cur.execute("SELECT order_id FROM cases").fetchall() == [("B",)]


def test_money_written_as_a_json_number_is_exact(store, tmp_path):
    # a JSON number was read as a double: 123456789012345.125 was stored as …120, 99999999999999.999 as 10^14
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(f'{{"order_id": "{oid}", "placed_at": "2026-11-27T08:00:00Z", "order_total": {total}}}\n'
                            for oid, total in (("A", "123456789012345.125"), ("B", "99999999999999.999"),
                                               ("C", "0.1"), ("D", "12.50"))))
    load(store, path)
    with store.read() as cur:
        assert cur.execute("SELECT order_id, order_total FROM orders ORDER BY 1").fetchall() == [
            ("A", Decimal("123456789012345.125")), ("B", Decimal("99999999999999.999")), ("C", Decimal("0.1")),
            ("D", Decimal("12.5"))]
    path.write_text('{"order_id": "E", "placed_at": "2026-11-27T08:00:00Z", "order_total": 1E+2}\n'
                    '{"order_id": "F", "placed_at": "2026-11-27T08:00:00Z", "order_total": 0.12345678901234567}\n')
    with pytest.raises(FeedInvalid) as info:
        load(store, path)
    assert [(e.value, e.reason) for e in info.value.report.errors] == [
        ("1E+2", "not a decimal number (use . for decimals, no thousands separators)"),
        ("0.12345678901234567", "more than 3 decimal places")]


def test_the_same_objects_as_json_lines_and_as_a_json_array_import_the_same(store, tmp_path):
    # read_json guessed one type per key across a JSON array's objects: "Anna" beside a number was stored as
    # '"Anna"', ids 1 and 2.5 as '1.0' and '2.5', a text time converted to another zone, 88 items as 88.0
    at = '"placed_at": "2026-11-27T08:00:00Z", '
    objects = [
        at + '"order_id": 1, "order_total": "12.50", "ship_name": "Anna", "items_ordered": 88, '
             '"customer_message": "line\\nbreak \\"q\\""',
        at + '"order_id": 2.5, "ship_name": 12.5, "items_ordered": 3.0, "order_total": 7',
        at + '"order_id": 12345678901234567, "ship_name": null, "order_total": 123456789012345.125',
        '"placed_at": "2026-11-27T09:30:00+05:30", "order_id": "0012", "order_total": 12.50, '
        '"customer_message": "2026-11-28 10:00", "ship_postal_code": "01067", "address_verified": true',
        at + '"order_id": "A5", "order_total": "12.50", "customer_message": 12, "ship_postal_code": 1067, '
             '"address_verified": "no"',
    ]
    lines, array = tmp_path / "orders.jsonl", tmp_path / "orders.json"
    lines.write_text("".join("{" + o + "}\n" for o in objects))
    array.write_text("[\n  {" + "},\n  {".join(objects) + "}\n]\n")

    def imported(path, source):
        result = load(store, path, source=source, skip_invalid=True)
        with store.read() as cur:
            orders = cur.execute("SELECT order_id, placed_at, order_total, items_ordered, ship_name, ship_postal_code, "
                                 "customer_message, address_verified FROM orders WHERE source = ? ORDER BY 1",
                                 [source]).fetchall()
            rejects = cur.execute("SELECT line, column_name, value, reason FROM rejects WHERE import_id = ? "
                                  "ORDER BY 1, 2", [result.import_id]).fetchall()
        return orders, rejects

    orders, rejects = imported(lines, "lines")
    assert imported(array, "array") == (orders, rejects)
    assert orders == [
        ("0012", datetime(2026, 11, 27, 4, 0), Decimal("12.50"), None, None, "01067", "2026-11-28 10:00", True),
        ("1", datetime(2026, 11, 27, 8, 0), Decimal("12.50"), 88, "Anna", None, 'line\nbreak "q"', None),
        ("12345678901234567", datetime(2026, 11, 27, 8, 0), Decimal("123456789012345.125"), None, None, None, None,
         None),
        ("A5", datetime(2026, 11, 27, 8, 0), Decimal("12.50"), None, None, "1067", "12", False)]
    assert rejects == [(2, "items_ordered", "3.0", "not a whole number")]


def test_hostile_text_is_stored_as_data(store, feed):
    evil = "<script>alert('x')</script>\"; DROP TABLE orders; -- ' OR 1=1 {{7*7}} \u202e"
    load(store, feed([{"order_id": "A'; DROP TABLE cases; --", "customer_message": evil, "ship_name": evil,
                       "customer_tier": "vip"}]))
    with store.read() as cur:
        assert cur.execute("SELECT order_id, customer_message, ship_name FROM orders").fetchall() == \
            [("A'; DROP TABLE cases; --", evil, evil)]
        assert cur.execute("SELECT bucket FROM cases").fetchall() == [("vip_revenue",)]


def test_a_huge_field_is_rejected_and_nothing_written(store, feed):
    with pytest.raises(FeedInvalid) as info:
        load(store, feed([{"order_id": "A"}, {"order_id": "B", "customer_message": "x" * 10_001}]))
    [error] = info.value.report.errors
    assert (error.line, error.column, error.reason) == (3, "customer_message", "text longer than 10,000 characters")
    assert len(error.value) <= 120                                 # the report does not echo the whole field
    assert counts(store)["orders"] == 0


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"order_id,placed_at,order_total\n", "no rows"),
    (b"order_id,order_total\nA,1\n", "missing required column(s): placed_at"),
    ("order_id,placed_at,order_total,ship_name\nA,2026-11-27T08:00:00Z,1,M\xfcller\n".encode("latin-1"), "UTF-8"),
])
def test_unreadable_files_write_nothing(store, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = data(store)
    with pytest.raises(FeedError) as info:
        load(store, path, fmt="csv")
    assert message in str(info.value)
    assert data(store) == before


def test_latin1_with_the_right_encoding(store, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("order_id,placed_at,order_total,ship_name\nA,2026-11-27T08:00:00Z,1,M\xfcller\n"
                     .encode("latin-1"))
    load(store, path, options={"encoding": "latin-1"})
    with store.read() as cur:
        assert cur.execute("SELECT ship_name FROM orders").fetchone() == ("Müller",)


def test_missing_file(store, tmp_path):
    with pytest.raises(FeedError, match="no such file"):
        load(store, tmp_path / "nope.csv")


def test_unknown_columns_are_ignored_with_a_warning(store, feed):
    from exq_core.models import FEED_COLUMNS
    path = feed([{"order_id": "A", "colour": "red"}], columns=FEED_COLUMNS + ("colour",))
    result = load(store, path)
    assert result.status == "imported" and any("colour" in w for w in result.report.warnings)


@pytest.mark.parametrize("header, second", [("order_total,Order Total", "'Order Total'"),
                                            ("order_total,Order_Total", "'Order_Total'"),
                                            ("order_total,ORDER_TOTAL", "'ORDER_TOTAL'"),
                                            ("order_total,order_total", "'order_total'")])
def test_two_columns_for_one_field_are_refused_naming_both(store, tmp_path, header, second):
    # the first was read and the second ignored, silently or as an "unknown column" DuckDB had renamed
    path = tmp_path / "orders.csv"
    path.write_text(f"order_id,placed_at,{header}\nA1,2026-11-27T08:00:00Z,1,999\n")
    before = data(store)
    with pytest.raises(FeedError, match=f"the columns 'order_total' and {second} are both order_total"):
        load(store, path)
    assert data(store) == before


def test_two_parquet_columns_for_one_field_are_refused(store, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "orders.parquet"
    columns = {"order_id": ["A1"], "nested": [{"x": 1, "y": {"z": [2]}}], "placed_at": ["2026-11-27T08:00:00Z"],
               "order_total": ["1"]}
    pq.write_table(pa.table(columns), path)
    assert load(store, path).orders_new == 1                  # nested fields are no columns of their own
    pq.write_table(pa.table(columns | {"Order_Total": ["999"]}), path)
    with pytest.raises(FeedError, match="'order_total' and 'Order_Total' are both order_total"):
        load(store, path)


def test_parquet_text_written_as_plain_binary_is_read_as_its_text(store, tmp_path):
    # some tools write text as Parquet's unannotated binary: cast as it was, "café" was stored 'caf\xC3\xA9'
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"order_id": pa.array([b"A-\xc3\xa9", b"B-2"]), "placed_at": ["2026-11-27T08:00:00Z"] * 2,
                             "order_total": [1.5, 2.0], "customer_message": pa.array([b"caf\xc3\xa9 \xe2\x82\xac", None]),
                             "unused": pa.array([b"\xff", b"\x00"])}), path)
    assert load(store, path).orders_new == 2
    with store.read() as cur:
        assert cur.execute("SELECT order_id, customer_message FROM orders ORDER BY 1").fetchall() == [
            ("A-é", "café €"), ("B-2", None)]


@pytest.mark.parametrize("column, values, message", [
    ("customer_message", [b"ok", b"bad \xff"], "column 'customer_message' holds bytes that are not UTF-8 text"),
    ("ship_city", [["Berlin", "Bonn"], ["Paris"]], "column 'ship_city' holds lists or records"),
    ("customer_tier", [{"tier": "vip"}, {"tier": "standard"}], "column 'customer_tier' holds lists or records"),
])
def test_a_parquet_column_that_holds_no_single_values_refuses_the_file(store, tmp_path, column, values, message):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"order_id": ["A1", "A2"], "placed_at": ["2026-11-27T08:00:00Z"] * 2,
                             "order_total": ["1", "2"], column: values}), path)
    before = data(store)
    with pytest.raises(FeedError, match=message):
        load(store, path)
    assert data(store) == before


def test_json_objects_may_spell_a_field_their_own_way_but_an_object_has_it_once(store, tmp_path):
    at = '"placed_at": "2026-11-27T08:00:00Z"'
    path = tmp_path / "orders.jsonl"
    path.write_text(f'{{"order_id": "A1", {at}, "order_total": "1", "customer_message": "m1"}}\n'
                    f'{{"order_id": "A2", {at}, "Order Total": "2", "Customer Message": "m2"}}\n'
                    f'{{"order_id": "A3", {at}, "order_total": "1", "Order_Total": "999"}}\n'
                    f'{{"order_id": "A4", {at}, "order_total": "1", "order_total": "999"}}\n')
    with pytest.raises(FeedInvalid) as info:
        load(store, path)
    assert [(e.line, e.column, e.value) for e in info.value.report.errors] == [
        (3, "order_total", '"order_total", "Order_Total"'), (4, "order_total", '"order_total", "order_total"')]
    assert "2 keys for order_total in one object" in info.value.report.errors[0].reason
    load(store, path, skip_invalid=True)
    with store.read() as cur:
        assert cur.execute("SELECT order_id, order_total, customer_message FROM orders ORDER BY 1").fetchall() == [
            ("A1", Decimal("1"), "m1"), ("A2", Decimal("2"), "m2")]


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_a_list_or_an_object_is_no_value_of_a_field(store, tmp_path, layout):
    # its JSON text was stored as the value: a ship_name '{"a":1}'
    at = '"placed_at": "2026-11-27T08:00:00Z"'
    objects = [f'{{"order_id": "N1", {at}, "order_total": [1, 2], "ship_name": {{"a": 1}}, "x": {{"y": 1}}}}',
               f'{{"order_id": "N2", {at}, "order_total": "1", "Customer Message": ["hi"]}}',
               f'{{"order_id": "N3", {at}, "order_total": "1", "customer_message": "[1] {{not nested}}"}}']
    path = tmp_path / "orders.json"
    path.write_text("\n".join(objects) if layout == "lines" else "[" + ",\n".join(objects) + "]")
    with pytest.raises(FeedInvalid) as info:
        load(store, path)
    assert [(e.line, e.column, e.value, e.reason) for e in info.value.report.errors] == [
        (1, "order_total", "[1,2]", "a list or an object, not a single value"),
        (1, "ship_name", '{"a":1}', "a list or an object, not a single value"),
        (2, "customer_message", '["hi"]', "a list or an object, not a single value")]
    load(store, path, skip_invalid=True)
    with store.read() as cur:
        assert cur.execute("SELECT order_id, customer_message FROM orders").fetchall() == [("N3", "[1] {not nested}")]


def test_a_broken_json_line_beside_a_nested_value_is_one_invalid_row(store, tmp_path):
    # the nested-value check parsed the broken line too, and its half surrogate pair (\ud800) failed the file
    path = tmp_path / "orders.jsonl"
    path.write_text(
        '{"order_id": 105200, "placed_at": "2022-01-24T00:07:37+02:00", "order_total": "4.79", "amount_paid": -0.0, '
        '"items_ordered": "51", "address_verified": false, "customer_message": "true", "ship_name": ",\\r\\n#12.5"}\n'
        '{"ship_name": "atrue", "order_total": 1e2, "placed_at": "2022-10-03T03:12:30", "order_id": "J1", '
        '"customer_message": "a\\ud800b", "address_verified": 1}\n'
        '{"order_id": 105202, "placed_at": "2021-03-30T02:05:31Z", "order_total": "0.06", "amount_paid": 529614.535, '
        '"address_verified": true, "customer_message": "B0\\r\\na", "ship_name": ["x", 1]}\n')
    result = load(store, path, skip_invalid=True)
    assert [(e.line, e.column) for e in result.report.errors] == [(2, "line"), (3, "ship_name")]
    with store.read() as cur:
        assert cur.execute("SELECT order_id, ship_name FROM orders").fetchall() == [("105200", ",\r\n#12.5")]


def test_only_managers_import(store, feed, reviewer):
    with pytest.raises(NotPermitted):
        import_file(store, feed([{"order_id": "A"}]), actor=reviewer, rules=RULES, now=NOW)
    assert counts(store)["orders"] == 0
