"""--skip-invalid: the valid rows are imported, the rest kept as rejects that can be listed and exported."""
from __future__ import annotations

import csv

from exq_core.cli import main
from exq_core.ingest import import_file
from tests.ingest_support import count_rejects, list_imports, rejected_rows, rejects_frame


def mixed(feed):
    return feed([{"order_id": "G1"}, {"order_id": "X1", "order_total": "-1", "placed_at": "never"},
                 {"order_id": "G2"}, {"order_id": "X2", "customer_message": "=HYPERLINK(\"http://evil\")",
                                      "currency": "dollars"}], "mixed.csv")


def test_skip_invalid_imports_the_valid_rows_and_keeps_the_rejects(store, feed, manager):
    result = import_file(store, mixed(feed), skip_invalid=True, actor=manager)
    assert result.status == "partial" and result.orders_new == 2 and result.rejected == 2
    with store.read() as cur:
        assert sorted(r[0] for r in cur.execute("SELECT order_id FROM orders").fetchall()) == ["G1", "G2"]
    frame = rejects_frame(store, result.import_id)
    assert list(frame["line"]) == [3, 3, 5]
    assert list(frame["column_name"]) == ["order_total", "placed_at", "currency"]
    assert count_rejects(store) == 3
    record = list_imports(store, limit=1)[0]
    assert (record["status"], record["rejected"], record["actor"]) == ("partial", 2, "maria")


def test_rejects_export_the_whole_rows_as_written_and_import_again_after_fixing(store, feed, tmp_path):
    """The rejects of an import come back as the file's own rows (its columns, its values as written), plus
    exq_line and exq_errors; fix the values and the same file imports (the two extra columns are ignored)."""
    path = mixed(feed)
    result = import_file(store, path, skip_invalid=True)
    columns, rows = rejected_rows(store, result.import_id)
    assert columns[:3] == ["order_id", "placed_at", "order_total"] and columns[-2:] == ["exq_line", "exq_errors"]
    by_id = {r[0]: dict(zip(columns, r)) for r in rows}
    assert set(by_id) == {"X1", "X2"}
    assert (by_id["X1"]["order_total"], by_id["X1"]["placed_at"], by_id["X1"]["exq_line"]) == ("-1", "never", 3)
    assert "order_total: order_total must not be negative" in by_id["X1"]["exq_errors"]
    assert by_id["X2"]["customer_message"] == '=HYPERLINK("http://evil")' and by_id["X2"]["currency"] == "dollars"
    # fix them in a spreadsheet, drop them in again
    out = tmp_path / "rejects.csv"
    from exq_core.exports import write_csv
    with open(out, "w", newline="", encoding="utf-8") as fh:
        write_csv(fh, columns, rows)
    text = out.read_text()
    assert "'=HYPERLINK" in text                                     # a spreadsheet does not run it
    fixed = text.replace(",-1,", ",10.00,").replace(",never,", ",2026-11-27T08:00:00Z,").replace(",dollars,", ",USD,")
    (tmp_path / "fixed.csv").write_text(fixed)
    again = import_file(store, tmp_path / "fixed.csv")
    assert again.status == "imported" and again.orders_new == 2, again.report.summary()
    assert any("exq_line" in w and "exq_errors" in w for w in again.report.warnings)
    with store.read() as cur:
        assert sorted(r[0] for r in cur.execute("SELECT order_id FROM orders").fetchall()) == ["G1", "G2", "X1", "X2"]


def test_json_rejects_export_numbers_as_written(store, tmp_path):
    # the exported object was parsed with Python's floats: 123456789012345.125 came back as …12, 12.50 as 12.5
    path = tmp_path / "orders.jsonl"
    path.write_text('{"order_id": "X1", "placed_at": "never", "order_total": 123456789012345.125, '
                    '"items_ordered": 12.50, "ok": true, "tags": [1, 2.50]}\n')
    result = import_file(store, path, skip_invalid=True)
    columns, [row] = rejected_rows(store, result.import_id)
    assert dict(zip(columns, row)) | {"exq_errors": ""} == {
        "order_id": "X1", "placed_at": "never", "order_total": "123456789012345.125", "items_ordered": "12.50",
        "ok": "true", "tags": "[1, 2.5]", "exq_line": 1, "exq_errors": ""}


def test_cli_lists_and_exports_rejects(store, feed, tmp_path, capsys):
    path = mixed(feed)
    db = store.target
    store.close()
    assert main(["import", str(path), "--skip-invalid", "--db", db, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "mixed.csv (source feed): import #1 partial: 4 rows; orders 2 new" in captured.out
    assert "2 rejected" in captured.out and "rejects --import 1" in captured.err
    assert main(["rejects", "--import", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "import #1 mixed.csv:3 column order_total '-1': order_total must not be negative" in out
    assert "mixed.csv:5 column currency 'dollars'" in out
    target = tmp_path / "out.csv"
    assert main(["rejects", "--import", "1", "--out", str(target), "--db", db]) == 0
    assert "wrote 2 rejected row(s)" in capsys.readouterr().out
    rows = list(csv.DictReader(target.open()))
    assert [r["order_id"] for r in rows] == ["X1", "X2"] and rows[1]["customer_message"].startswith("'=")
    assert main(["rejects", "--out", str(target), "--db", db]) == 2          # which import's rows?
    assert main(["rejects", "--import", "99", "--db", db]) == 0
    assert "no rejects for import #99" in capsys.readouterr().out


def test_cli_lists_imports_including_refused_ones(store, feed, capsys):
    good = feed([{"order_id": "A"}], "good.csv")
    bad = feed([{"order_id": "B", "order_total": "x"}], "bad.csv")
    db = store.target
    store.close()
    main(["import", str(good), "--db", db, "--quiet"])
    main(["import", str(bad), "--db", db, "--quiet"])
    capsys.readouterr()
    assert main(["imports", "--db", db, "-v"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert "refused" in lines[0] and "bad.csv" in lines[0]
    assert "imported" in lines[1] and "good.csv" in lines[1]
    assert "bad.csv:2 (line 2) column order_total 'x'" in out


def test_rejects_export_heads_columns_as_the_file_writes_them_when_two_differ_only_in_case(store, tmp_path):
    """DuckDB reads "Amount" and "amount" as amount and amount_1: the rejected rows still come back under the
    file's own names, so the fixed file maps as the first one did."""
    from exq_core.ingest.mapping import MappingSpec
    path = tmp_path / "export.csv"
    path.write_text("ref;created;Amount;amount\nA1;2026-11-27 10:00;999;12\nA2;2026-11-27 10:00;5;lots\n")
    spec = MappingSpec(name="dup", delimiter=";",
                       columns={"ref": "order_id", "created": "placed_at", "amount": "order_total"})
    result = import_file(store, path, mapping=spec, skip_invalid=True)
    assert result.rejected == 1
    columns, rows = rejected_rows(store, result.import_id)
    assert columns == ["ref", "created", "Amount", "amount", "exq_line", "exq_errors"]
    assert rows[0][:5] == ["A2", "2026-11-27 10:00", "5", "lots", 3]
