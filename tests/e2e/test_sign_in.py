"""Sign-in in a real browser against a freshly started server: a deep link shows only the sign-in form and
opens after signing in; wrong password; sign-out; a manager disables an account and that person is out on
their next click."""
import pytest

from tests.browser import sign_in, wait_for_app
from tests.support import TEST_PASSWORD

pytestmark = pytest.mark.e2e

FORM = ".st-key-sign_in_submit"


def _main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def test_deep_link_right_after_start_shows_sign_in_then_the_page(running_app, page, artifacts):
    # The very first request to a fresh server must go through app.py's sign-in gate too (no page file runs alone).
    page.goto(f"{running_app.url}/queue?bucket=fraud_risk")
    wait_for_app(page)
    page.locator(FORM).wait_for()
    main = _main_text(page)
    assert "Sign in to exq" in main
    assert "Queue" not in main and page.locator("[data-testid='stDataFrame']").count() == 0
    assert page.locator("[data-testid='stSidebar']").count() == 0
    assert "/queue?bucket=fraud_risk" in page.url
    page.screenshot(path=str(artifacts / "sign-in-deep-link.png"), full_page=True)

    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator(FORM).wait_for(state="detached")
    wait_for_app(page)
    page.get_by_role("heading", name="Queue").wait_for()
    assert "/queue?bucket=fraud_risk" in page.url
    assert "Signed in as sam (reviewer)" in page.locator("[data-testid='stSidebar']").inner_text()
    page.screenshot(path=str(artifacts / "sign-in-deep-link-after.png"), full_page=True)


def test_wrong_password_then_sign_in_and_sign_out(running_app, page, artifacts):
    page.goto(running_app.url)
    wait_for_app(page)
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    wait_for_app(page)
    page.get_by_text("Wrong username or password.").wait_for()
    assert page.get_by_label("Password", exact=True).input_value() == ""
    assert "Open exceptions" not in _main_text(page)
    page.screenshot(path=str(artifacts / "sign-in-wrong-password.png"), full_page=True)

    sign_in(page, running_app.url)
    page.get_by_text("Open exceptions").wait_for()
    page.screenshot(path=str(artifacts / "sign-in-overview.png"), full_page=True)

    page.locator(".st-key-sign_out button").click()
    wait_for_app(page)
    page.locator(FORM).wait_for()
    page.get_by_text("You are signed out.").wait_for()
    assert "Open exceptions" not in _main_text(page)
    page.screenshot(path=str(artifacts / "sign-out.png"), full_page=True)

    # A reload is a new session: still signed out.
    page.reload()
    wait_for_app(page)
    page.locator(FORM).wait_for()


def test_a_disabled_account_is_out_on_its_next_click(running_app, browser, artifacts):
    sam = browser.new_context().new_page()
    sign_in(sam, running_app.url, "sam")
    sam.get_by_text("Open exceptions").wait_for()

    maria = browser.new_context().new_page()
    sign_in(maria, f"{running_app.url}/users")
    maria.get_by_role("heading", name="Users").wait_for()
    maria.locator(".st-key-user_edit_name").click()
    maria.get_by_role("option", name="sam", exact=True).click()
    wait_for_app(maria)
    maria.locator(".st-key-user_disable button").click()
    wait_for_app(maria)
    maria.locator(".st-key-user_enable button").wait_for()
    maria.screenshot(path=str(artifacts / "users-disabled-sam.png"), full_page=True)

    sam.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Queue").click()   # any rerun re-checks
    wait_for_app(sam)
    sam.locator(FORM).wait_for()
    sam.get_by_text("the account 'sam' is disabled").wait_for()
    assert "Open exceptions" not in _main_text(sam)
    sam.screenshot(path=str(artifacts / "disabled-signed-out.png"), full_page=True)
    sam.context.close()
    maria.context.close()


def test_the_sign_in_page_loads_the_overviews_code_and_draws_nothing_of_it(running_app, page):
    """While a person types, the browser fetches the code of the Overview's metrics, charts and tables
    (ui.sign_in.preload_overview), so signing in does not wait for it; nothing of it is drawn."""
    page.goto(running_app.url)
    wait_for_app(page)
    page.locator(FORM).wait_for()
    loaded = "() => performance.getEntriesByType('resource').map(e => e.name.split('/').pop())"
    wanted = ("Metric.", "ArrowVegaLiteChart.", "loadVegaEmbed.", "embed.", "Table.", "PageLink.")
    page.wait_for_function(f"() => ({loaded})().filter(n => {list(wanted)!r}.some(w => n.startsWith(w))).length "
                           f">= {len(wanted)}", timeout=20_000)
    for element in ("stMetric", "stVegaLiteChart", "stTable", "stDataFrame", "stPageLink"):
        assert page.locator(f"[data-testid='{element}']").count() == 0, element
    assert "Sign in to exq" in _main_text(page)
