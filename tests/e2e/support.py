"""What several browser tests do: read the page, pick options, check who is signed in, read a download."""
from __future__ import annotations

import csv
import io
import re
import time
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import wait_for_app
from tests.support import TEST_PASSWORD

FORM = ".st-key-sign_in_submit"
SESSION_COOKIE = "exq_session"


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def sidebar_text(page) -> str:
    sidebar = page.locator("[data-testid='stSidebar']")
    return sidebar.inner_text() if sidebar.count() else ""


def signed_in_as(page) -> str | None:
    """'sam (reviewer)' from the sidebar, or None when nobody is signed in on this page."""
    match = re.search(r"Signed in as (.+?\(\w+\))", sidebar_text(page))
    return match.group(1) if match else None


def click_nav(page, name: str) -> None:
    """A click in the sidebar navigation to another page: a rerun, which re-checks the session. Returns once
    that rerun has finished (the address changes when it starts)."""
    link = page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name, exact=True)
    target = urlsplit(urljoin(page.url, link.get_attribute("href"))).path
    assert urlsplit(page.url).path != target, f"already on {name}"
    link.click()
    page.wait_for_url(lambda url: urlsplit(url).path == target)
    wait_for_app(page)


def assert_signed_out(page, reason: str) -> None:
    """Only the sign-in form, with the reason the person was signed out, and nothing of the app."""
    page.get_by_text(reason, exact=True).wait_for()
    wait_for_app(page)                                   # the run that shows it has finished: nothing stale
    page.locator(FORM).wait_for()
    main = main_text(page)
    assert "Sign in to exq" in main
    # Signed out within the same browser session, Streamlit keeps an empty sidebar panel: nothing in it.
    sidebar = page.locator("[data-testid='stSidebar']")
    assert sidebar.count() == 0 or (sidebar.get_by_role("link").count() == 0
                                    and sidebar.get_by_role("button").filter(has_text="Sign out").count() == 0
                                    and "Signed in as" not in sidebar.inner_text())
    for element in ("stMetric", "stDataFrame", "stVegaLiteChart"):
        assert page.locator(f"[data-testid='{element}']").count() == 0, element


def fill_sign_in(page, username: str, password: str = TEST_PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_app(page)


def session_cookie(context, timeout: float = 10) -> dict:
    """The sign-in cookie of a browser context, once the page's few lines of JS have had it set."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {SESSION_COOKIE} cookie: {[c['name'] for c in context.cookies()]}")


def wait_until(predicate, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def case_in_url(page) -> int:
    match = re.search(r"[?&]case=(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def choose(page, key: str, option: str | None = None) -> None:
    """Pick an option of the selectbox with widget key `key` (the first one when `option` is None). A rerun
    that lands while the list is open closes it (its options detach): then it is opened again."""
    options = page.get_by_role("option")
    target = options.first if option is None else page.get_by_role("option", name=option, exact=True)
    for _ in range(4):
        wait_for_app(page)
        if not options.first.is_visible():
            page.locator(f".st-key-{key}").get_by_role("button", name="Open").click()
        try:
            target.click(timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    else:
        raise AssertionError(f"could not choose {option!r} in {key}")
    wait_for_app(page)


# -- downloads ------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def download_csv(page, button) -> list[dict]:
    """Click a download button and read the file it gives as CSV rows (header → value)."""
    with page.expect_download(timeout=30_000) as info:
        button.click()
    download = info.value
    assert download.failure() is None, download.failure()
    text = open(download.path(), encoding="utf-8", newline="").read()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def live_formulas(rows: list[dict]) -> list[str]:
    """Cells a spreadsheet would run as a formula: starting with = + - @ tab or CR, and not a plain number."""
    return [value for row in rows for value in [*row.keys(), *row.values()]
            if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.match(value)]
