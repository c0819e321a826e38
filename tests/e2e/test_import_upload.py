"""The Import page in Chromium: upload a Shopify export, see the preview, import it, see the result; and a
file dropped into the inbox of the running app is imported by the app and listed on the page."""
from __future__ import annotations

import os
import re
import time

import pytest

from exq_core.ingest.inbox import inbox_dir
from tests.browser import RunningApp, sign_in, wait_for_app
from tests.e2e.support import choose, download_csv
from tests.ingest_support import order, write_shopify
from tests.feeds import write_feed

pytestmark = pytest.mark.e2e


def test_upload_preview_and_import_a_shopify_export(running_app, page, artifacts, tmp_path):
    export = write_shopify(tmp_path / "orders_export_1.csv",
                           order("#7001", 1, 2), order("#7002", 1, risk="High"),
                           order("#7003", 2, total="1500.00", tags="VIP", notes="<b>call</b> me"),
                           order("#7004", 1, financial="pending", outstanding="100.00"))
    sign_in(page, running_app.url + "/import")
    page.get_by_role("heading", name="Import").wait_for()
    page.locator(".st-key-import_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(export))
    wait_for_app(page)
    page.locator("[data-testid='stAlert']", has_text="orders_export_1.csv: 4 rows, no errors.").wait_for(timeout=30_000)
    page.get_by_text("#7003").first.wait_for(state="attached")   # the preview grid (a canvas; cells for a11y)
    page.screenshot(path=str(artifacts / "import-preview.png"), full_page=True)

    importing = page.get_by_role("button", name="Import orders_export_1.csv")
    assert importing.is_disabled()                 # a Shopify export does not name its store: say which
    page.get_by_role("textbox", name="Store (required: a Shopify export does not name its store)").fill("berlin-shop")
    page.keyboard.press("Enter")
    wait_for_app(page)
    importing.click()
    page.locator("[data-testid='stAlert']", has_text="Imported: orders_export_1.csv is import #").wait_for(timeout=60_000)
    wait_for_app(page)
    metrics = page.locator("[data-testid='stMetric']")
    assert metrics.count() == 5
    values = {metrics.nth(i).locator("[data-testid='stMetricLabel']").inner_text():
              metrics.nth(i).locator("[data-testid='stMetricValue']").inner_text() for i in range(5)}
    assert values == {"Rows read": "4", "New cases": "3", "Updated cases": "0", "Routine orders": "1",
                      "Rejected rows": "0"}
    assert page.locator("b", has_text="call").count() == 0   # customer text never becomes markup
    page.screenshot(path=str(artifacts / "import-result.png"), full_page=True)


def test_a_file_dropped_in_the_inbox_is_imported_by_the_running_app(demo_db, page, artifacts, tmp_path):
    app = RunningApp(demo_db, env={"EXQ_INBOX_INTERVAL": "1"}, folder=tmp_path)
    try:
        folder = inbox_dir(demo_db)
        deadline = time.time() + 30
        while not folder.is_dir() and time.time() < deadline:   # the app creates it on its first run …
            time.sleep(0.2)
        sign_in(page, app.url + "/import")                      # … which a visit triggers at the latest
        folder.mkdir(exist_ok=True)
        drop = write_feed(tmp_path / "scheduled.csv", [{"order_id": "INBOX-1", "risk_level": "high"},
                                                      {"order_id": "INBOX-2"}])
        staged = folder / "scheduled.csv.part"
        staged.write_bytes(drop.read_bytes())                  # write, then rename: the exporter's contract
        os.replace(staged, folder / "scheduled.csv")
        done = folder / "done" / "scheduled.csv"
        deadline = time.time() + 60
        while not done.exists() and time.time() < deadline:
            time.sleep(0.5)
        assert done.exists(), app.log_path.read_text()[-3000:]
        page.goto(app.url + "/import")                          # a reload: the session goes on, reads anew
        wait_for_app(page)
        page.get_by_role("tab", name="Inbox").click()
        page.get_by_text("Done: scheduled.csv").wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts / "import-inbox.png"), full_page=True)
    finally:
        app.stop()


def test_the_inbox_works_from_server_start_with_no_page_ever_opened(demo_db, tmp_path):
    app = RunningApp(demo_db, env={"EXQ_INBOX_INTERVAL": "1"}, folder=tmp_path)
    try:
        folder = inbox_dir(demo_db)
        deadline = time.time() + 30
        while not folder.is_dir() and time.time() < deadline:      # server.py's lifespan creates it
            time.sleep(0.2)
        assert folder.is_dir(), app.log_path.read_text()[-3000:]
        drop = write_feed(tmp_path / "cron.csv", [{"order_id": "CRON-1", "items_available": "0"}])
        staged = folder / "cron.csv.part"
        staged.write_bytes(drop.read_bytes())
        os.replace(staged, folder / "cron.csv")
        done = folder / "done" / "cron.csv"
        deadline = time.time() + 60
        while not done.exists() and time.time() < deadline:
            time.sleep(0.5)
        assert done.exists(), app.log_path.read_text()[-3000:]
    finally:
        app.stop()
    from exq_core.store import open_store
    with open_store(demo_db) as store, store.read() as cur:
        assert cur.execute("SELECT status, actor FROM imports WHERE file_name = 'cron.csv'").fetchall() == \
            [("imported", "inbox")]
        assert cur.execute("SELECT bucket FROM cases WHERE order_id = 'CRON-1'").fetchall() == \
            [("inventory_conflict",)]


def test_an_erp_export_is_mapped_on_the_page_and_its_times_read_in_the_chosen_time_zone(running_app, page,
                                                                                          artifacts, tmp_path):
    """Another layout (day-first dates, decimal comma) gets a suggested mapping; choosing the export's local
    time zone moves the times exq will store to UTC — in winter and in summer time — and the file imports."""
    export = tmp_path / "wien.csv"
    export.write_text("Order No;Order Date;Grand Total\nV-1;27/11/2026 10:00;12,50\nV-2;01/07/2026 10:00;9,90\n")
    sign_in(page, running_app.url + "/import")
    page.get_by_role("heading", name="Import").wait_for()
    page.locator(".st-key-import_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(export))
    wait_for_app(page)
    page.get_by_role("heading", name="Column mapping").wait_for(timeout=30_000)
    page.get_by_text("2026-11-27 10:00:00").first.wait_for(state="attached")       # read as UTC so far
    zone = page.locator("[class*='st-key-mapping_zone']")
    key = next(c for c in zone.first.get_attribute("class").split() if c.startswith("st-key-"))[len("st-key-"):]
    zone.first.locator("input").click()
    page.keyboard.type("Europe/Vienna")
    choose(page, key, "Europe/Vienna")
    wait_for_app(page)
    page.get_by_text("2026-11-27 09:00:00").first.wait_for(state="attached")       # UTC+1 in November
    page.get_by_text("2026-07-01 08:00:00").first.wait_for(state="attached")       # UTC+2 in July
    assert page.get_by_text("2026-11-27 10:00:00").count() == 0
    page.screenshot(path=str(artifacts / "import-time-zone.png"), full_page=True)
    page.get_by_role("button", name="Import wien.csv").click()
    page.locator("[data-testid='stAlert']", has_text="Imported: wien.csv is import #").wait_for(timeout=60_000)


def test_upload_a_feed_of_hash_ids_apostrophes_and_padded_ids_keeps_every_order_once(running_app, page, artifacts,
                                                                                      tmp_path):
    """The browser path of the CSV fixes: ids like Shopify's (#…) are not comment lines, apostrophes are not
    quotes, an id padded with a tab is the same order; the orders are then found in the Queue."""
    feed = write_feed(tmp_path / "erp-export.csv", [
        {"order_id": "#9001", "items_available": "0", "customer_message": "<b>where</b> is it?"},
        {"order_id": "#9002\n", "customer_email": "", "items_available": "0"},
        {"order_id": "'O-9003'", "ship_name": "O'Brien", "items_available": "0"},
        {"order_id": "\t#9001", "updated_at": "2026-11-27T09:00:00Z", "items_available": "0",
         "customer_message": "<b>where</b> is it? (newer)"},
    ])
    sign_in(page, running_app.url + "/import")
    page.get_by_role("heading", name="Import").wait_for()
    page.locator(".st-key-import_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(feed))
    wait_for_app(page)
    page.locator("[data-testid='stAlert']", has_text="erp-export.csv: 4 rows").wait_for(timeout=30_000)
    page.get_by_role("button", name="Import erp-export.csv").click()
    page.locator("[data-testid='stAlert']", has_text="Imported: erp-export.csv is import #").wait_for(timeout=60_000)
    wait_for_app(page)
    metrics = page.locator("[data-testid='stMetric']")
    values = {metrics.nth(i).locator("[data-testid='stMetricLabel']").inner_text():
              metrics.nth(i).locator("[data-testid='stMetricValue']").inner_text() for i in range(5)}
    assert (values["Rows read"], values["New cases"], values["Rejected rows"]) == ("4", "3", "0")
    assert page.get_by_text("3 new, 0 updated").count() == 1 and page.get_by_text("1 older snapshots").count() == 1
    assert page.locator("b", has_text="where").count() == 0
    page.screenshot(path=str(artifacts / "import-hash-ids.png"), full_page=True)

    page.goto(running_app.url + "/queue")
    wait_for_app(page)
    box = page.get_by_placeholder("Order id, customer, e-mail, message…")
    for text, expected in (("'O-9003'", "'O-9003'"), ("(newer)", "#9001")):
        box.fill(text)
        box.press("Enter")
        page.get_by_text(re.compile(r"^1 case matches")).wait_for()
        wait_for_app(page)
        shown = download_csv(page, page.get_by_role("button", name="Download this page (CSV)"))
        assert [row["Order"] for row in shown] == [expected]
    page.screenshot(path=str(artifacts / "queue-hash-ids.png"), full_page=True)
