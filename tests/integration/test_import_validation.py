"""Every kind of bad input is a clear error naming file, line, column, value and reason, and writes nothing
but the record of the refused import."""
from __future__ import annotations

import gzip
import io
import zipfile

from decimal import Decimal

import pytest

from exq_core.cli import main
from exq_core.errors import FeedError, FeedInvalid
from exq_core.ingest import import_file, preview_file
from exq_core.models import FEED_COLUMNS
from tests.feeds import ROUTINE
from tests.ingest_support import list_imports
from tests.feeds import ROUTINE, snapshot, write_feed

DATA_TABLES = ("orders", "cases", "events", "decisions", "rejects")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def assert_nothing_written(store, before, status=None):
    after = snapshot(store)
    for table in DATA_TABLES:
        assert after[table] == before[table], f"{table} changed"
    if status:
        last = list_imports(store, limit=1)[0]
        assert last["status"] == status and last["orders_new"] == 0


def refused(store, path, **kw):
    before = snapshot(store)
    with pytest.raises(FeedInvalid) as info:
        import_file(store, path, **kw)
    assert_nothing_written(store, before, "refused")
    return info.value.report


def failed(store, path, match, **kw):
    before = snapshot(store)
    with pytest.raises(FeedError, match=match) as info:
        import_file(store, path, **kw)
    assert_nothing_written(store, before, "failed")
    assert getattr(info.value, "import_id", None), "a failed import is recorded"
    return info.value


# -- row errors: line, column, value, reason -----------------------------------------------------------

@pytest.mark.parametrize("field, value, reason", [
    ("placed_at", "27/11/2026", "not an ISO 8601 date-time"),
    ("placed_at", "yesterday", "not an ISO 8601 date-time"),
    ("updated_at", "2026-13-45T10:00:00Z", "not an ISO 8601 date-time"),
    ("order_total", "12,50", "not a decimal number"),
    ("order_total", "abc", "not a decimal number"),
    ("order_total", "-5", "must not be negative"),
    ("amount_paid", "1e5", "not a decimal number"),
    ("items_ordered", "2.5", "not a whole number"),
    ("items_ordered", "3000000000", "out of range: a whole number from -2,147,483,648 to 2,147,483,647"),
    ("items_available", " -2147483649\t", "out of range"),
    ("items_available", "1e3", "not a whole number"),
    ("risk_score", "1.5", "from 0 to 1"),
    ("payment_status", "maybe", "must be one of"),
    ("address_verified", "perhaps", "not true/false"),
    ("currency", "US Dollar", "ISO 4217"),
    ("ship_country", "USA", "ISO 3166"),
    ("customer_message", "x" * 10_001, "longer than 10,000"),
    ("order_id", "", "required value is blank"),
])
def test_a_bad_value_is_refused_with_line_column_value_and_reason(store, feed, field, value, reason):
    path = feed([{"order_id": "A1"}, {"order_id": "A2", field: value}, {"order_id": "A3"}])
    report = refused(store, path)
    assert report.error_count == 1 and report.invalid_rows == 1 and report.rows == 3
    error = report.errors[0]
    assert error.line == 3 and error.column == field and reason in error.reason
    assert error.value is None or value.startswith(error.value)
    summary = report.summary()
    assert f"{path.name}:3" in summary and field in summary and reason in summary and "nothing was imported" in summary


def test_text_of_exactly_10000_characters_is_fine(store, feed):
    result = import_file(store, feed([{"order_id": "A1", "customer_message": "y" * 10_000}]))
    assert result.orders_new == 1


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_two_snapshots_of_one_order_in_one_file_the_newest_wins(store, feed, skip_invalid):
    rows = [{"order_id": "D1", "updated_at": "2026-11-27T10:00:00Z", "order_total": "10.00"},
            {"order_id": "D2"},
            {"order_id": "D1", "updated_at": "2026-11-27T09:00:00Z", "order_total": "99.00"},    # older
            {"order_id": "D1", "updated_at": "2026-11-27T08:00:00Z", "order_total": "5.00"}]      # older still
    result = import_file(store, feed(rows), skip_invalid=skip_invalid)
    assert (result.status, result.orders_new, result.older_in_file, result.rejected) == ("imported", 2, 2, 0)
    with store.read() as cur:
        assert cur.execute("SELECT order_total FROM orders WHERE order_id = 'D1'").fetchone()[0] == Decimal("10.000")
    assert any("2 older snapshot(s)" in w for w in result.report.warnings)


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_row_repeated_in_a_file_is_counted_and_stored_once(store, feed, skip_invalid):
    row = {"order_id": "R1", "updated_at": "2026-11-27T10:00:00Z", "order_total": "10.00"}
    result = import_file(store, feed([row, {"order_id": "R2"}, dict(row)]), skip_invalid=skip_invalid)
    assert (result.rows, result.orders_new, result.older_in_file, result.conflicts, result.rejected) == \
        (3, 2, 1, 0, 0)                                  # every row accounted for: 2 stored, 1 left out
    assert "1 older or repeated snapshots in the file" in result.summary()


def test_two_different_snapshots_at_the_same_time_are_one_conflict(store, feed):
    rows = [{"order_id": "C1", "updated_at": "2026-11-27T10:00:00Z", "order_total": "10.00"},
            {"order_id": "C1", "updated_at": "2026-11-27T10:00:00Z", "order_total": "12.00"},
            {"order_id": "C1", "updated_at": "2026-11-27T10:00:00Z", "order_total": "10.00"},   # a copy of line 2
            {"order_id": "C2"}]
    report = refused(store, feed(rows))
    assert {(e.line, e.column) for e in report.errors} == {(2, "updated_at"), (3, "updated_at")}
    assert all("conflict: lines 2, 3, 4 are different snapshots of order C1 with the same updated_at" in e.reason
               for e in report.errors)
    assert "older" not in report.summary()
    result = import_file(store, feed(rows, "again.csv"), skip_invalid=True)
    assert (result.orders_new, result.conflicts, result.rejected) == (1, 1, 2)
    with store.read() as cur:
        assert [r[0] for r in cur.execute("SELECT order_id FROM orders").fetchall()] == ["C2"]


@pytest.mark.parametrize("id_as_written", ["\tW1", "W1\t", "W1\n", " W1\r", "\x0bW1\x0c"])
def test_an_order_id_written_with_white_space_around_it_is_the_same_order(store, feed, id_as_written):
    rows = [{"order_id": "W1", "updated_at": "2026-11-27T10:00:00Z", "order_total": "10.00"},
            {"order_id": id_as_written, "updated_at": "2026-11-27T11:00:00Z", "order_total": "12.00",
             "amount_paid": "12.00"}]
    result = import_file(store, feed(rows))
    assert (result.orders_new, result.older_in_file) == (1, 1)
    with store.read() as cur:
        assert cur.execute("SELECT order_id, order_total FROM orders").fetchall() == [("W1", Decimal("12.000"))]
    again = import_file(store, feed([{**rows[1], "order_id": id_as_written, "updated_at": "2026-11-27T12:00:00Z",
                                      "order_total": "14.00", "amount_paid": "14.00"}], "later.csv"))
    assert (again.orders_new, again.orders_updated) == (0, 1)
    with store.read() as cur:
        assert cur.execute("SELECT order_id, order_total FROM orders").fetchall() == [("W1", Decimal("14.000"))]


def test_order_ids_that_start_with_a_hash_are_never_taken_for_comment_lines(store, feed):
    # DuckDB's sniffer, left to guess, took '#' for a comment character in this file and imported 1 order of 4
    rows = [{"order_id": "#1001"}, {"order_id": "#1002\n", "customer_email": ""},
            {"order_id": "#1003", "customer_email": "", "ship_name": ""}, {"order_id": "#1004"}]
    result = import_file(store, feed(rows))
    assert (result.rows, result.orders_new, result.rejected) == (4, 4, 0)
    with store.read() as cur:
        assert sorted(r[0] for r in cur.execute("SELECT order_id FROM orders").fetchall()) == \
            ["#1001", "#1002", "#1003", "#1004"]


@pytest.mark.parametrize("row, first_column", [
    ({"order_id": "'O0'", "customer_message": "", "ship_name": "", "customer_email": "|NULL"}, "customer_message"),
    ({"order_id": "#O0'", "customer_message": "#0\t\\", "ship_name": "''", "customer_email": ""}, "order_id"),
])
def test_apostrophes_in_values_are_kept_as_written(store, feed, row, first_column):
    # DuckDB's sniffer, left to guess, took the apostrophe for these files' quote character (found by a
    # random test of hostile text): 'O0' lost its apostrophes, '' became blank
    columns = [first_column] + [c for c in FEED_COLUMNS if c != first_column]
    result = import_file(store, feed([row], columns=columns))
    assert (result.rows, result.orders_new, result.rejected) == (1, 1, 0)
    with store.read() as cur:
        stored = cur.execute("SELECT order_id, ship_name, customer_email FROM orders").fetchone()
    assert stored == (row["order_id"], row["ship_name"] or None, row["customer_email"] or None)


def test_identical_copies_of_a_row_are_one_snapshot(store, feed):
    result = import_file(store, feed([{"order_id": "K1"}, {"order_id": "K1"}, {"order_id": " K1 "}]))
    assert (result.orders_new, result.conflicts, result.rejected) == (1, 0, 0)


def test_the_report_lists_the_first_50_errors_and_counts_the_rest(store, feed):
    rows = [{"order_id": f"B{i}", "order_total": "-1"} for i in range(60)]
    report = refused(store, feed(rows))
    assert report.error_count == 60 and len(report.errors) == 50
    assert report.errors[0].line == 2 and report.errors[-1].line == 51
    assert "… and 10 more." in report.summary()


def test_the_refused_import_is_recorded_with_its_report(store, feed):
    path = feed([{"order_id": "R1", "placed_at": "soon"}], "refused.csv")
    refused(store, path)
    record = list_imports(store, limit=1)[0]
    assert record["file_name"] == "refused.csv" and record["status"] == "refused"
    assert record["rows_read"] == 1 and record["rejected"] == 1
    assert "refused.csv:2" in record["message"] and "placed_at" in record["message"]
    # a refused file may be fixed and imported again: the refusal does not count as "already imported"
    write_feed(path, [{"order_id": "R1"}])
    assert import_file(store, path).status == "imported"


# -- files that cannot be read at all ---------------------------------------------------------------

def test_missing_required_columns(store, tmp_path):
    path = write_feed(tmp_path / "cols.csv", [{"order_id": "A"}], columns=["order_id", "placed_at", "currency"])
    err = failed(store, path, "missing required column.*order_total")
    assert "the file has: order_id, placed_at, currency" in str(err)


def test_a_latin1_file_is_a_clear_encoding_error_and_imports_with_the_right_encoding(store, tmp_path):
    path = tmp_path / "latin1.csv"
    text = "order_id,placed_at,order_total,ship_name\nL1,2026-11-20T10:00:00Z,10.00,Jürgen Müller\n"
    path.write_bytes(text.encode("latin-1"))
    failed(store, path, "not valid UTF-8.*--encoding latin-1")
    result = import_file(store, path, options={"encoding": "latin-1"})
    assert result.orders_new == 1
    with store.read() as cur:
        assert cur.execute("SELECT ship_name FROM orders").fetchone()[0] == "Jürgen Müller"



@pytest.mark.parametrize("text, stored", [
    # the sniffer took the apostrophe for the escape character: "' 0" was stored as "0"
    ("O1,2026-11-20T10:00:00Z,10.00,\"' 0\r\n\",''''\n", [("O1", "' 0", "''''")]),
    ("O1,2026-11-20T10:00:00Z,10.00,\"'a' said, ''b''\",x\nO2,2026-11-20T10:00:00Z,1,\"It's \"\"ok\"\"\",'y\n",
     [("O1", "'a' said, ''b''", "x"), ("O2", "It's \"ok\"", "'y")]),
    # a file that escapes quotes with a backslash is read so
    ("O1,2026-11-20T10:00:00Z,10.00,\"say \\\"hi\\\", ok\",x\n", [("O1", "say \"hi\", ok", "x")]),
], ids=["apostrophe-first", "apostrophes-and-doubled-quotes", "backslash-escapes"])
def test_apostrophes_and_quotes_in_quoted_values_are_kept(store, tmp_path, text, stored):
    path = tmp_path / "quotes.csv"
    path.write_bytes(("order_id,placed_at,order_total,customer_message,ship_name\n" + text).encode())
    import_file(store, path)
    with store.read() as cur:
        assert cur.execute("SELECT order_id, customer_message, ship_name FROM orders ORDER BY 1").fetchall() == stored


def test_a_windows_1252_file_imports_as_latin_1_with_its_euro_signs_and_quotes(store, tmp_path):
    # what "Latin-1" files from Windows tools are: € „ “ – … are bytes 0x80–0x9F, which strict Latin-1
    # (DuckDB's) refuses ("File is not latin-1 encoded"): a dead end after the hint above
    path = tmp_path / "cp1252.csv"
    text = ("order_id;placed_at;order_total;customer_message;ship_name\r\n"
            "W1;2026-11-20T10:00:00Z;10.00;Gutschein 50 € – „danke“ …;Jürgen Müller\r\n")
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(FeedError, match="not valid UTF-8.*--encoding latin-1"):
        import_file(store, path)
    for fmt, encoding in (("csv", "latin-1"), ("csv", "cp1252"), ("csv", "windows-1252")):
        report, rows = preview_file(store, path, fmt=fmt, options={"encoding": encoding})
        assert report.ok, report.summary()
    result = import_file(store, path, options={"encoding": "latin-1"})
    assert result.orders_new == 1
    with store.read() as cur:
        assert cur.execute("SELECT customer_message, ship_name FROM orders").fetchone() == \
            ("Gutschein 50 € – „danke“ …", "Jürgen Müller")


def test_a_windows_1252_shopify_export(store, tmp_path):
    from tests.ingest_support import order, write_shopify
    utf8 = write_shopify(tmp_path / "utf8.csv", order("#1", 1, notes="Geschenk – 20 € „bitte“"))
    path = tmp_path / "orders_export.csv"
    path.write_bytes(utf8.read_text(encoding="utf-8").encode("cp1252"))
    result = import_file(store, path, source="graz-shop", options={"encoding": "latin-1"})
    assert result.orders_new == 1 and result.report.format == "shopify"
    with store.read() as cur:
        assert cur.execute("SELECT customer_message FROM orders").fetchone()[0] == "Geschenk – 20 € „bitte“"

def test_an_empty_file(store, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    failed(store, path, "the file is empty")


def test_a_header_only_file(store, tmp_path):
    path = write_feed(tmp_path / "header.csv", [])
    failed(store, path, "header but no rows")


@pytest.mark.parametrize("name, payload, what", [
    ("orders.csv", PNG, "PNG image"),
    ("orders.png", PNG, "PNG image"),
    ("orders.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF document"),
    ("orders.xlsx", None, "ZIP archive"),
    ("orders.csv", bytes(range(256)) * 40, "binary data"),
])
def test_a_file_that_is_not_csv_at_all(store, tmp_path, name, payload, what):
    path = tmp_path / name
    if payload is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
        payload = buf.getvalue()
    path.write_bytes(payload)
    failed(store, path, f"not a CSV file.*{what}")


def test_a_broken_json_line_is_named_and_can_be_skipped(store, tmp_path):
    path = tmp_path / "orders.jsonl"
    path.write_text('{"order_id": "J1", "placed_at": "2026-11-20T10:00:00Z", "order_total": 5}\n{not json\n\n'
                    '["a list"]\n{"order_id": "J2", "placed_at": "2026-11-20T11:00:00Z", "order_total": "7.50"}\n')
    report = refused(store, path)
    assert [(e.line, e.column) for e in report.errors] == [(2, "line"), (4, "line")]
    assert "not valid JSON" in report.errors[0].reason and "not a JSON object" in report.errors[1].reason
    result = import_file(store, path, skip_invalid=True)
    assert (result.status, result.orders_new, result.rejected) == ("partial", 2, 2)


def test_a_file_with_no_json_object_at_all(store, tmp_path):
    path = tmp_path / "orders.jsonl"
    path.write_text("{not json\nstill not\n")
    failed(store, path, "JSON")


def test_a_cell_of_any_size_gets_the_per_value_error(store, feed):
    report = refused(store, feed([{"order_id": "BIG", "customer_message": "x" * 6_000_000}, {"order_id": "OK"}]))
    assert [(e.line, e.column) for e in report.errors] == [(2, "customer_message")]
    assert "longer than 10,000 characters" in report.errors[0].reason


def test_a_parquet_file_that_is_not_parquet(store, tmp_path):
    path = tmp_path / "orders.parquet"
    path.write_text("order_id,placed_at\n")
    failed(store, path, "Parquet")


def test_no_such_file(store, tmp_path):
    with pytest.raises(FeedError, match="no such file"):
        import_file(store, tmp_path / "missing.csv")


def test_a_viewer_may_not_import(store, feed, viewer):
    from exq_core.errors import NotPermitted
    before = snapshot(store)
    with pytest.raises(NotPermitted):
        import_file(store, feed([{"order_id": "A"}]), actor=viewer)
    assert snapshot(store) == before


# -- generic formats are hardened, not only CSV ---------------------------------------------------------

def test_parquet_and_json_lines_are_validated_the_same_way(store, tmp_path):
    import duckdb
    rows = [{**ROUTINE, "order_id": "P1"}, {**ROUTINE, "order_id": "P2", "order_total": "-3"}]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES " + ", ".join(
        "(" + ", ".join(f"'{r[c]}'" for c in ("order_id", "placed_at", "order_total")) + ")" for r in rows)
        + ") v(order_id, placed_at, order_total)")
    con.execute(f"COPY t TO '{tmp_path / 'o.parquet'}' (FORMAT parquet)")
    con.execute(f"COPY t TO '{tmp_path / 'o.jsonl'}' (FORMAT json)")
    for name, line_label in (("o.parquet", "row"), ("o.jsonl", "line")):
        report = refused(store, tmp_path / name)
        assert report.line_label == line_label
        assert [(e.line, e.column) for e in report.errors] == [(2, "order_total")]


def test_a_json_array_is_read_too(store, tmp_path):
    path = tmp_path / "orders.json"
    path.write_text('[{"order_id": "J1", "placed_at": "2026-11-20T10:00:00Z", "order_total": 5},\n'
                    ' {"order_id": "J2", "placed_at": "2026-11-20T11:00:00Z", "order_total": 6.5}]')
    assert import_file(store, path).orders_new == 2


@pytest.mark.parametrize("text, message", [
    ('[{"order_id": "J1", "placed_at": "2026-11-20T10:00:00Z", "order_total": 5},\n', "not closed"),
    ('[{"order_id": "J1", "placed_at": "2026-11-20T10:00:00Z", "order_total": 5},\n {"order_id": "J2", "pla',
     "JSON array"),
    ("[]", "no element of the JSON array is an object")])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_json_array_cut_off_or_without_objects_writes_nothing(store, tmp_path, text, message, compressed):
    # DuckDB read an array cut off after a comma as complete: the orders after the cut were missing silently
    path = tmp_path / ("orders.json.gz" if compressed else "orders.json")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    failed(store, path, message)


def test_a_gzipped_json_array_imports_like_the_plain_one(store, tmp_path):
    text = ('[{"order_id": "J1", "placed_at": "2026-11-20T10:00:00Z", "order_total": 5},\n'
            ' {"order_id": "J2", "placed_at": "2026-11-20T11:00:00Z", "order_total": 6.5}]')
    path = tmp_path / "orders.json.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert import_file(store, path).orders_new == 2
    with store.read() as cur:
        assert cur.execute("SELECT order_id, order_total FROM orders ORDER BY 1").fetchall() == [
            ("J1", Decimal("5.000")), ("J2", Decimal("6.500"))]


# -- the command line gives the same report ------------------------------------------------------------

def test_cli_prints_the_report_and_writes_nothing(store, feed, capsys):
    path = feed([{"order_id": "C1"}, {"order_id": "C2", "order_total": "-5"},
                 {"order_id": "C3", "placed_at": "yesterday"}], "bad.csv")
    db = store.target
    store.close()
    assert main(["import", str(path), "--db", db, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "bad.csv: 2 invalid value(s) in 2 of 3 rows; nothing was imported." in err
    assert "bad.csv:3 (line 3) column order_total '-5': order_total must not be negative" in err
    assert "bad.csv:4 (line 4) column placed_at 'yesterday': not an ISO 8601 date-time" in err
    assert "--skip-invalid" in err and "recorded as import #1, refused" in err


def test_cli_names_an_unreadable_file(store, tmp_path, capsys):
    path = tmp_path / "photo.csv"
    path.write_bytes(PNG)
    db = store.target
    store.close()
    assert main(["import", str(path), "--db", db, "--quiet"]) == 1
    assert "photo.csv" in capsys.readouterr().err


def test_a_utf16_file_from_excel_is_read(store, tmp_path):
    path = tmp_path / "unicode.csv"
    path.write_text("order_id,placed_at,order_total,ship_name\nU1,2026-11-20T10:00:00Z,10.00,Zoë\n", encoding="utf-16")
    assert import_file(store, path).orders_new == 1
    with store.read() as cur:
        assert cur.execute("SELECT ship_name FROM orders").fetchone()[0] == "Zoë"


def test_errors_name_the_right_lines_in_a_file_read_on_several_threads(store, tmp_path):
    """A file larger than DuckDB's read buffer is read in parallel: lines are still numbered as in the file
    (and stay so when another import writes unordered at the same time: store.duck.file_order)."""
    rows = [{"order_id": f"L-{i}", "customer_message": "x" * 200} for i in range(60_000)]
    rows[5]["order_total"] = "12,50"
    rows[54_321]["risk_score"] = "high"
    path = write_feed(tmp_path / "big.csv", rows)
    assert path.stat().st_size > 3 * (1 << 22)        # several buffers of readers.USUAL_LINE
    report = refused(store, path)
    assert [(e.line, e.column, e.value) for e in report.errors] == [
        (7, "order_total", "12,50"), (54_323, "risk_score", "high")]


@pytest.mark.parametrize("before, after", [("", "\t"), ("", "\n"), ("", "\r\n"), ("", "\x0b"), ("", "\x0c"),
                                           ("\t", "\t"), (" ", " \n")])
def test_every_value_written_with_white_space_around_it_is_stored_as_the_value(store, feed, before, after):
    # the trim that decided whether a value needed trimming looked for a trailing space only: "EUR\t" passed
    # its check and was stored with the tab, a message kept its trailing line break, and "…10:00:00Z\t"
    # was refused as a date-time
    decorated = {column: f"{before}{value}{after}" for column, value in ROUTINE.items()}
    result = import_file(store, feed([{"order_id": "PLAIN"}, {**decorated, "order_id": "SPACED",
                                                               "customer_message": f"{before}hello{after}"}]))
    assert (result.rows, result.orders_new, result.rejected) == (2, 2, 0)
    with store.read() as cur:
        cur.execute("SELECT * FROM orders ORDER BY order_id")
        names = [d[0] for d in cur.description]
        plain, spaced = (dict(zip(names, row)) for row in cur.fetchall())
    assert plain["order_id"] == "PLAIN" and spaced["customer_message"] == "hello"
    columns = [c for c in FEED_COLUMNS if c in names and c not in ("order_id", "customer_message")]
    assert len(columns) > 20
    assert {c: spaced[c] for c in columns} == {c: plain[c] for c in columns}
