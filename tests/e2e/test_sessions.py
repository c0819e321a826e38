"""Sessions in a real browser (SPEC §6: a sign-in survives a reload and a new tab; sign-out, a password change
and idleness end it): the HttpOnly cookie server.py sets, a shared link in a new tab, sign-out in one tab
reaching the other, a password change signing out the person's other browser but not the changer's, and an
idle session ending with the reason on the sign-in form."""
from __future__ import annotations

import time

import pytest

from exq_core.models import BUCKET_LABELS
from tests.browser import RunningApp, sign_in, wait_for_app
from tests.e2e.support import (SESSION_COOKIE, assert_signed_out, click_nav, fill_sign_in, main_text,
                               session_cookie, signed_in_as, wait_until)

pytestmark = pytest.mark.e2e

SIGNED_OUT_ELSEWHERE = "You signed out (here or in another tab)."
CREDENTIALS_CHANGED = "You were signed out: the password or role of this account changed. Sign in again."


def test_a_sign_in_survives_a_reload_and_a_new_tab_until_sign_out_in_either(running_app, page, artifacts):
    sign_in(page, running_app.url, "sam")
    page.get_by_text("Open exceptions").wait_for()
    cookie = session_cookie(page.context)
    assert cookie["httpOnly"] is True                     # page scripts cannot read it …
    assert cookie["sameSite"] == "Lax"                     # … other sites' forms do not send it
    assert cookie["secure"] is False                       # plain http here; server.py sets Secure behind https
    assert cookie["path"] == "/"
    assert cookie["expires"] > time.time() + 29 * 86_400
    assert SESSION_COOKIE not in page.evaluate("document.cookie")

    page.reload()
    wait_for_app(page)
    page.get_by_text("Open exceptions").wait_for()
    assert signed_in_as(page) == "sam (reviewer)"

    # A link someone shared, opened in a new tab of the same browser: signed in, on the filtered Queue.
    tab = page.context.new_page()
    tab.goto(f"{running_app.url}/queue?bucket=fraud_risk")
    wait_for_app(tab)
    tab.get_by_role("heading", name="Queue").wait_for()
    assert signed_in_as(tab) == "sam (reviewer)"
    chips = tab.locator(".st-key-queue_bucket").inner_text()
    assert BUCKET_LABELS["fraud_risk"] in chips and BUCKET_LABELS["vip_revenue"] not in chips
    tab.screenshot(path=str(artifacts / "sessions-new-tab-shared-link.png"), full_page=True)

    # Sign out in the first tab: the other tab is out on its next click, and told why.
    page.locator(".st-key-sign_out button").click()
    wait_for_app(page)
    assert_signed_out(page, "You are signed out.")
    click_nav(tab, "Overview")
    assert_signed_out(tab, SIGNED_OUT_ELSEWHERE)
    tab.screenshot(path=str(artifacts / "sessions-signed-out-in-other-tab.png"), full_page=True)
    wait_until(lambda: not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE],
               what="the sign-out to clear the cookie")
    page.reload()                                          # and a reload stays signed out
    wait_for_app(page)
    page.get_by_label("Username").wait_for()
    assert "Open exceptions" not in main_text(page)


def test_a_password_change_signs_out_the_other_browser_but_not_the_changer(running_app, browser, artifacts):
    here = browser.new_context().new_page()
    there = browser.new_context().new_page()           # the same person on another computer
    try:
        sign_in(here, running_app.url, "sam")
        sign_in(there, f"{running_app.url}/queue", "sam")
        there.get_by_role("heading", name="Queue").wait_for()
        session_cookie(here.context)

        here.locator(".st-key-change_password_open button").click()
        dialog = here.get_by_role("dialog")
        dialog.get_by_label("Current password").fill("exq-test-password")
        dialog.get_by_label("New password", exact=True).fill("sams-new-password-1")
        dialog.get_by_label("Repeat the new password").fill("sams-new-password-1")
        dialog.get_by_role("button", name="Change password").click()
        here.get_by_text("Password changed. Your other sessions are signed out.").wait_for()
        dialog.wait_for(state="detached")
        wait_for_app(here)
        here.screenshot(path=str(artifacts / "sessions-password-changed.png"), full_page=True)

        click_nav(there, "Overview")                      # the other browser's next rerun
        assert_signed_out(there, CREDENTIALS_CHANGED)
        there.screenshot(path=str(artifacts / "sessions-signed-out-by-password-change.png"), full_page=True)

        click_nav(here, "Queue")                          # the changer goes on working …
        here.get_by_role("heading", name="Queue").wait_for()
        assert signed_in_as(here) == "sam (reviewer)"
        here.reload()                                     # … and their cookie still opens their session
        wait_for_app(here)
        here.get_by_role("heading", name="Queue").wait_for()
        assert signed_in_as(here) == "sam (reviewer)"

        fill_sign_in(there, "sam")                        # the old password no longer works
        there.get_by_text("Wrong username or password.").wait_for()
        fill_sign_in(there, "sam", "sams-new-password-1")
        there.get_by_text("Open exceptions").wait_for()
        assert signed_in_as(there) == "sam (reviewer)"
    finally:
        here.context.close()
        there.context.close()


IDLE_HOURS = 0.002          # 7.2 seconds
IDLE_REASON = "You were signed out after 7 seconds without activity."


def test_an_idle_session_ends_and_the_sign_in_form_says_why(demo_db, page, artifacts):
    app = RunningApp(demo_db, env={"EXQ_SESSION_IDLE_HOURS": str(IDLE_HOURS)})
    try:
        sign_in(page, app.url, "sam")
        page.get_by_text("Open exceptions").wait_for()
        session_cookie(page.context)
        # At work for longer than the idle limit: every click counts as activity.
        started = time.monotonic()
        for name in ("Queue", "Overview", "Queue"):
            time.sleep(2.5)
            click_nav(page, name)
            assert signed_in_as(page) == "sam (reviewer)", f"signed out while working, after {name}"
        assert time.monotonic() - started > IDLE_HOURS * 3600

        time.sleep(IDLE_HOURS * 3600 + 1)                 # away from the desk
        # A new tab finds the cookie, but its session has ended: the reason is on the form.
        tab = page.context.new_page()
        tab.goto(f"{app.url}/queue")
        wait_for_app(tab)
        assert_signed_out(tab, IDLE_REASON)
        tab.screenshot(path=str(artifacts / "sessions-idle-new-tab.png"), full_page=True)
        click_nav(page, "Overview")                       # and the tab that was left open, on its next click
        assert_signed_out(page, IDLE_REASON)
        page.screenshot(path=str(artifacts / "sessions-idle.png"), full_page=True)
    finally:
        app.stop()
