"""The Overview and the Queue in Debian's Chromium against a real server on a demo database: the KPI numbers
are those of `python -m exq_core stats --json`, the aging chart renders, a bucket click opens the filtered
Queue, and a deep link opened right after the server starts lands on the filtered Queue."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from ui.format import format_hours
from exq_core.models import BUCKET_LABELS
from tests.browser import RunningApp, sign_in, wait_for_app
from tests.e2e.support import download_csv
from tests.support import ROOT

pytestmark = pytest.mark.e2e


def cli_stats(db) -> dict:
    """The real command line, in its own process (before the dashboard owns the file)."""
    out = subprocess.run([sys.executable, "-m", "exq_core", "stats", "--json", "--db", str(db)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def metrics(page) -> dict[str, str]:
    out = {}
    for metric in page.locator("[data-testid='stMetric']").all():
        label = metric.locator("[data-testid='stMetricLabel']").inner_text().strip()
        out[label] = metric.locator("[data-testid='stMetricValue']").inner_text().strip()
    return out


def queue_summary(page) -> tuple[int, int]:
    """(cases shown as matching, snoozed waiting cases hidden) from the Queue's summary line."""
    text = page.get_by_text(re.compile(r"cases? match")).first.inner_text()
    match = int(re.search(r"([\d,]+) cases? match", text).group(1).replace(",", ""))
    snoozed = re.search(r"([\d,]+) snoozed", text)
    return match, int(snoozed.group(1).replace(",", "")) if snoozed else 0


def test_overview_numbers_chart_and_click_through_to_the_queue(demo_db, page, artifacts):
    stats = cli_stats(demo_db)
    app = RunningApp(demo_db)
    try:
        page.set_viewport_size({"width": 1500, "height": 2000})
        sign_in(page, app.url)
        page.get_by_text("Open exceptions").wait_for()
        assert metrics(page) == {
            "Open exceptions": f"{stats['open']:,}",
            "SLA breached": f"{stats['breached']:,}",
            "Oldest open case": format_hours(stats["oldest_open_hours"]),
            "Exception rate": f"{stats['exception_rate']:.2f} %",
            "Resolved today": f"{stats['resolved_today']:,}",
        }
        # The aging chart (and the two others) rendered by vega-embed.
        charts = page.locator("[data-testid='stVegaLiteChart']")
        charts.first.locator("canvas, svg").first.wait_for()
        assert charts.count() == 3
        assert page.get_by_text("Backlog age").is_visible()
        page.screenshot(path=str(artifacts / "dashboard-overview.png"), full_page=True)

        # Click the Fraud risk card's link: the Queue, filtered to that bucket.
        fraud_open = sum(n for s, n in stats["by_bucket"]["fraud_risk"].items() if s != "resolved")
        page.locator("[data-testid='stPageLink']").filter(has_text="Open in Queue").first.click()
        page.wait_for_url(re.compile(r"/queue\?bucket=fraud_risk$"))
        wait_for_app(page)
        page.get_by_role("heading", name="Queue").wait_for()
        chips = page.locator(".st-key-queue_bucket").inner_text()
        assert BUCKET_LABELS["fraud_risk"] in chips and BUCKET_LABELS["vip_revenue"] not in chips
        shown, snoozed = queue_summary(page)
        assert shown + snoozed == fraud_open
        wait_for_app(page)          # a rerun's table replaces the last one only once the script is done
        page.locator("[data-testid='stDataFrame']").wait_for()
        page.screenshot(path=str(artifacts / "dashboard-queue-fraud.png"), full_page=True)

        # A filter change is written back to the address, so the view can be shared.
        page.locator(".st-key-queue_breached label").click()
        page.wait_for_url(re.compile(r"/queue\?bucket=fraud_risk&breached=1$"))
        wait_for_app(page)
    finally:
        app.stop()


def test_deep_link_right_after_start_lands_on_the_filtered_queue(demo_db, page, artifacts):
    app = RunningApp(demo_db)        # healthy, and nobody has opened a page yet
    try:
        page.set_viewport_size({"width": 1500, "height": 1300})
        sign_in(page, f"{app.url}/queue?bucket=fraud_risk")
        page.get_by_role("heading", name="Queue").wait_for()
        assert re.search(r"/queue\?bucket=fraud_risk$", page.url)
        chips = page.locator(".st-key-queue_bucket").inner_text()
        assert BUCKET_LABELS["fraud_risk"] in chips and BUCKET_LABELS["payment_mismatch"] not in chips
        shown, _ = queue_summary(page)
        assert shown > 0
        wait_for_app(page)          # a rerun's table replaces the last one only once the script is done
        page.locator("[data-testid='stDataFrame']").wait_for()
        page.screenshot(path=str(artifacts / "dashboard-queue-deep-link.png"), full_page=True)
    finally:
        app.stop()


def test_overview_deep_link_right_after_start_shows_no_numbers_before_sign_in(demo_db, page):
    app = RunningApp(demo_db)
    try:
        page.goto(f"{app.url}/overview")
        wait_for_app(page)
        page.locator(".st-key-sign_in_submit").wait_for()
        main = page.locator("[data-testid='stMain']").inner_text()
        assert "Open exceptions" not in main and page.locator("[data-testid='stMetric']").count() == 0
        assert page.locator("[data-testid='stVegaLiteChart']").count() == 0
    finally:
        app.stop()


def test_queue_text_search_finds_the_order_with_a_case_and_shows_hostile_text_inert(demo_db, page, artifacts,
                                                                                     tmp_path):
    """Search in the browser: an order's message finds its case, a routine order with the same words is not a
    case and is not listed, markup in the text and the search stays text, and a search with no match says so."""
    from exq_core.ingest import import_file
    from exq_core.store import open_store
    from tests.feeds import write_feed
    words = "zebra <img src=x onerror=alert(1)>"
    feed = write_feed(tmp_path / "shop.csv", [
        {"order_id": "SRCH-ROUTINE", "customer_message": f"{words} routine"},
        {"order_id": "SRCH-CASE", "customer_message": f"{words} stock?", "items_available": "0"},
    ])
    with open_store(demo_db) as store:
        assert import_file(store, feed, source="web-shop").cases_new == 1
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    app = RunningApp(demo_db)
    try:
        page.set_viewport_size({"width": 1500, "height": 1300})
        sign_in(page, f"{app.url}/queue")
        page.get_by_role("heading", name="Queue").wait_for()
        box = page.get_by_placeholder("Order id, customer, e-mail, message…")
        box.fill("ZEBRA <img src=x")
        box.press("Enter")
        page.get_by_text(re.compile(r"^1 case matches")).wait_for()
        wait_for_app(page)          # a rerun's table replaces the last one only once the script is done
        page.locator("[data-testid='stDataFrame']").wait_for()
        shown = download_csv(page, page.get_by_role("button", name="Download this page (CSV)"))
        assert [row["Order"] for row in shown] == ["SRCH-CASE"]
        page.screenshot(path=str(artifacts / "dashboard-queue-search.png"), full_page=True)
        box.fill("50%_no such order")
        box.press("Enter")
        page.get_by_text("No cases match these filters.").wait_for()
        assert dialogs == [] and page.locator("img[src='x']").count() == 0
    finally:
        app.stop()
