"""--skip-invalid: the valid rows are imported, the rest kept as rejects that can be listed and exported."""
from __future__ import annotations

import csv
import io

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


def test_rejects_export_as_csv_with_formula_text_made_inert(store, feed, tmp_path):
    path = feed([{"order_id": "X", "order_total": "-1", "customer_message": "=cmd|' /C calc'!A0"}])
    result = import_file(store, path, skip_invalid=True)
    assert result.rejected == 1
    rows = list(csv.DictReader(io.StringIO(rejects_csv(store, result.import_id).decode())))
    assert rows == [{"import_id": str(result.import_id), "file_name": "feed.csv", "line": "2",
                     "column_name": "order_total", "value": "'-1", "reason": "order_total must not be negative"}]
    out = tmp_path / "rejects.csv"
    assert export_rejects(store, out) == 1 and out.read_bytes() == rejects_csv(store)


def test_cli_lists_and_exports_rejects(store, feed, tmp_path, capsys):
    path = mixed(feed)
    db = str(store.path)
    store.close()
    assert main(["import", str(path), "--skip-invalid", "--db", db, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "mixed.csv: import #1 partial: 4 rows; orders 2 new" in captured.out
    assert "2 rejected" in captured.out and "rejects --import 1" in captured.err
    assert main(["rejects", "--import", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "import #1 mixed.csv:3 column order_total '-1': order_total must not be negative" in out
    assert "mixed.csv:5 column currency 'dollars'" in out
    target = tmp_path / "out.csv"
    assert main(["rejects", "--out", str(target), "--db", db]) == 0
    assert "wrote 3 rejected value(s)" in capsys.readouterr().out
    assert len(list(csv.DictReader(target.open()))) == 3
    assert main(["rejects", "--import", "99", "--db", db]) == 0
    assert "no rejects for import #99" in capsys.readouterr().out


def test_cli_lists_imports_including_refused_ones(store, feed, capsys):
    good = feed([{"order_id": "A"}], "good.csv")
    bad = feed([{"order_id": "B", "order_total": "x"}], "bad.csv")
    db = str(store.path)
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
