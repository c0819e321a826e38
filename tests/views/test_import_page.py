"""The Import page in AppTest: preview and validation report, import with the result by bucket, skip-invalid
with rejects, the mapping step for an unknown layout, roles, history (refused imports with their report),
and the inbox. (AppTest cannot drive st.file_uploader: the test puts the uploaded file where the uploader
would, in the session; the browser test uploads for real.)"""
from __future__ import annotations

import os
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from exq_core.ingest import import_file
from exq_core.ingest.inbox import inbox_dir, process_inbox
from exq_core.ingest.mapping import list_mappings
from exq_core.store import open_store
from tests.support import app_test
from tests.ingest_support import order, write_shopify
from tests.feeds import write_feed

PAGE = "views/import.py"


def with_file(at, path: Path):
    at.session_state["import_file"] = {"path": str(path), "name": path.name, "id": f"test-{path.name}"}
    return at.run()


def texts(elements) -> list[str]:
    """Element texts with Markdown escapes removed (the page escapes file names and messages)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def frame(at, *columns: str, exact: bool = False):
    """The first dataframe on the page with these columns (AppTest does not expose a dataframe's key)."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns) and (not exact or set(columns) == set(df.value.columns)):
            return df.value
    raise AssertionError(f"no dataframe with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


@pytest.fixture
def shopify_file(tmp_path):
    return write_shopify(tmp_path / "orders_export.csv", order("#9001", 1, 2), order("#9002", 1, risk="High"),
                         order("#9003", 3, tags="VIP", notes="Call me"))


def test_a_manager_previews_and_imports_a_shopify_export(app_env, manager, shopify_file):
    at = app_test(manager, PAGE)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Import a file", "History", "Inbox", "Mappings"]
    at = with_file(at, shopify_file)
    assert not at.exception
    assert at.selectbox(key="import_format_test-orders_export.csv").value == "shopify"
    assert any("orders_export.csv**: 3 rows, no errors" in s for s in texts(at.success))
    assert any("no items_available" in i for i in texts(at.info))
    preview = frame(at, "order_id", "items_ordered", "ship_country")
    assert list(preview["order_id"]) == ["#9001", "#9002", "#9003"] and preview.loc[0, "items_ordered"] == 3
    assert at.button(key="import_go").disabled                      # a Shopify export needs its store named
    assert any("Name the store" in w for w in texts(at.warning))
    at.text_input(key="import_source_test-orders_export.csv_shopify").input("berlin-shop").run()

    at.button(key="import_go").click().run()
    assert not at.exception
    assert any("Imported: **orders_export.csv**" in s for s in texts(at.success))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Rows read": "3", "New cases": "2", "Updated cases": "0", "Routine orders": "1",
                       "Rejected rows": "0"}
    by_bucket = frame(at, "bucket", "new cases").set_index("bucket")["new cases"].to_dict()
    assert by_bucket["Fraud risk"] == 1 and by_bucket["VIP / revenue"] == 1
    history = frame(at, "file", "status", "by")
    assert history.iloc[0]["file"] == "orders_export.csv" and history.iloc[0]["by"] == "maria"

    at.button(key="import_go").click().run()                     # the same file again
    assert any("already imported" in i and "nothing changed" in i for i in texts(at.info))


def test_an_invalid_file_shows_the_report_and_can_skip_invalid_rows(app_env, manager, tmp_path):
    path = write_feed(tmp_path / "bad.csv", [{"order_id": "P1"}, {"order_id": "P2", "order_total": "-5"},
                                             {"order_id": "P3", "customer_message": "<script>alert(1)</script>"}])
    at = with_file(app_test(manager, PAGE), path)
    assert not at.exception
    assert any("1 invalid value(s) in 1 of 3 rows" in e for e in texts(at.error))
    errors = frame(at, "line", "column", "value", "reason")
    assert errors.to_dict("records") == [{"line": 3, "column": "order_total", "value": "-5",
                                          "reason": "order_total must not be negative"}]
    assert at.button(key="import_go").disabled                  # all-or-nothing: nothing to import yet
    at.checkbox(key="import_skip").check().run()
    assert not at.button(key="import_go").disabled
    at.button(key="import_go").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Rejected rows"] == "1"
    assert at.get("download_button")
    with open_store(app_env) as store, store.read() as cur:
        msg = cur.execute("SELECT customer_message FROM orders WHERE order_id = 'P3'").fetchone()[0]
    assert msg == "<script>alert(1)</script>"                   # stored as text; shown in a grid, inert


def test_an_unreadable_file_is_a_clear_error(app_env, manager, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    at = with_file(app_test(manager, PAGE), path)
    assert not at.exception
    assert any("cannot be imported" in e and "PNG image" in e for e in texts(at.error))
    assert not [b for b in at.button if b.key == "import_go"]


def test_an_unknown_layout_gets_a_suggested_mapping_that_can_be_saved(app_env, manager, tmp_path):
    path = tmp_path / "erp.csv"
    path.write_text("Order No;Order Date;Grand Total;E-Mail\nA-1;20/11/2026 10:00;1.234,50;a@x.de\n"
                    "A-2;21/11/2026 11:30;99,90;b@x.de\n")
    at = with_file(app_test(manager, PAGE), path)
    assert not at.exception
    assert at.selectbox(key="import_format_test-erp.csv").value == "mapped"
    assert at.text_input(key="mapping_date_Suggested from this file").value == "%d/%m/%Y %H:%M"
    assert at.checkbox(key="mapping_comma_Suggested from this file").value is True
    assert any("2 rows, no errors" in s for s in texts(at.success)), texts(at.warning) + texts(at.error)
    preview = frame(at, "order_id", "items_ordered", "ship_country")
    assert list(preview["order_id"]) == ["A-1", "A-2"] and list(preview["order_total"]) == [1234.5, 99.9]

    [t for t in at.text_input if t.label == "Save this mapping as"][0].input("acme-erp")
    [b for b in at.button if b.label == "Save mapping"][0].click().run()
    assert not at.exception
    with open_store(app_env) as store:
        saved = list_mappings(store)
    assert [m["name"] for m in saved] == ["acme-erp"]
    assert saved[0]["spec"].columns["Order No"] == "order_id" and saved[0]["updated_by"] == "maria"

    at.button(key="import_go").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Rows read"] == "2"


def test_a_mapping_reads_local_times_in_the_time_zone_chosen(app_env, manager, tmp_path):
    # an ERP writes Vienna's wall-clock time without an offset: stored as UTC, an hour earlier in November
    path = tmp_path / "erp.csv"
    path.write_text("Order No;Order Date;Grand Total\nV-1;27/11/2026 10:00;12,50\nV-2;01/07/2026 10:00;9,90\n")
    at = with_file(app_test(manager, PAGE), path)
    zone = at.selectbox(key="mapping_zone_Suggested from this file")
    assert zone.value is None and "Europe/Vienna" in zone.options
    zone.select("Europe/Vienna").run()
    assert not at.exception
    [t for t in at.text_input if t.label == "Save this mapping as"][0].input("wien")
    [b for b in at.button if b.label == "Save mapping"][0].click().run()
    at.button(key="import_go").click().run()
    assert not at.exception
    with open_store(app_env) as store:
        assert [m["spec"].time_zone for m in list_mappings(store)] == ["Europe/Vienna"]
        with store.read() as cur:
            assert cur.execute("SELECT order_id, placed_at FROM orders WHERE order_id LIKE 'V-%' "
                               "ORDER BY 1").fetchall() == [
                ("V-1", datetime(2026, 11, 27, 9, 0)), ("V-2", datetime(2026, 7, 1, 8, 0))]


def test_a_reviewer_sees_history_but_cannot_import(app_env, reviewer, manager, tmp_path):
    with open_store(app_env) as store:
        path = write_feed(tmp_path / "refused.csv", [{"order_id": "Z", "placed_at": "tomorrow"}])
        with pytest.raises(Exception):
            import_file(store, path, actor=manager)
    at = app_test(reviewer, PAGE)
    assert not at.exception
    assert any("Importing is for managers" in i for i in texts(at.info))
    assert not [b for b in at.button if b.key == "import_go"]
    history = frame(at, "file", "status", "by")
    assert history.iloc[0]["file"] == "refused.csv" and "refused" in history.iloc[0]["status"]
    report = [c.value for c in at.code]
    assert any("refused.csv:2 (line 2) column placed_at 'tomorrow'" in r for r in report)


def test_the_inbox_tab_lists_results_and_failed_reports(app_env, manager, monkeypatch):
    monkeypatch.setenv("EXQ_INBOX_INTERVAL", "3600")        # this test runs the pass itself
    folder = inbox_dir(app_env)
    folder.mkdir(exist_ok=True)
    for name, rows in (("good.csv", [{"order_id": "I1"}]), ("bad.csv", [{"order_id": "I2", "order_total": "x"}])):
        p = write_feed(folder / name, rows)
        os.utime(p, (time.time() - 60,) * 2)
    with open_store(app_env) as store:
        results = process_inbox(store, folder)
    assert sorted(r.status for r in results) == ["imported", "refused"]
    at = app_test(manager, PAGE)
    assert not at.exception
    inbox = frame(at, "#", "when (UTC)", "source", "file", "status", "rows", "new cases", "rejected", exact=True)
    assert set(inbox["file"]) == {"good.csv", "bad.csv"}
    assert any(str(folder).replace("/", "").replace("-", "") in m.replace("\\", "").replace("/", "").replace("-", "")
               for m in texts(at.markdown))
    assert any("bad.csv:2 (line 2) column order_total 'x'" in c.value for c in at.code)


def test_file_and_column_names_render_as_text(app_env, manager, tmp_path):
    path = tmp_path / "**bold** [x](javascript:alert(1)).csv"
    write_feed(path, [{"order_id": "H1"}], columns=["order_id", "placed_at", "order_total", "<img src=x onerror=alert(1)>"])
    at = with_file(app_test(manager, PAGE), path)
    assert not at.exception
    ok = [e.value for e in at.success if "rows, no errors" in e.value][0]     # the Markdown source
    assert "\\*\\*bold\\*\\*" in ok and "\\[x\\]\\(javascript" in ok
    warning = [e.value for e in at.info if "ignored unknown column" in e.value][0]
    assert "\\<img" in warning
