"""Single sign-on in a real browser, through Streamlit's own `st.login`, against a local OIDC provider
(tests/oidc_server.py): the app reads `[auth]` from a secrets file in the test's folder (STREAMLIT_SECRETS_FILES),
never the repository's .streamlit/.

SPEC §6: an identity is bound to one account by the provider's subject id, never matched to a password
account by name, and an unverified e-mail is not trusted."""
from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

import pytest

from exq_core.store import open_store
from tests.browser import RunningApp, wait_for_app
from tests.support import ROOT
from tests.e2e.support import FORM, assert_signed_out, main_text, session_cookie, signed_in_as, wait_until
from tests.oidc_server import CLIENT_ID, FakeOIDC

pytestmark = pytest.mark.e2e

ALLOWED_DOMAIN = "corp.example"          # EXQ_SSO_DOMAINS: verified addresses here may sign in as viewers


@pytest.fixture
def idp():
    with FakeOIDC() as provider:
        yield provider


@pytest.fixture
def sso_app(demo_db, idp, tmp_path):
    """The dashboard with the local provider in [auth]; lee@example.com invited as a reviewer from the CLI."""
    invited = subprocess.run([sys.executable, "-m", "exq_core", "user", "invite", "Lee@Example.com", "--role",
                              "reviewer", "--db", str(demo_db)], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert invited.returncode == 0, invited.stderr
    secrets = idp.write_secrets(tmp_path / "secrets.toml")
    app = RunningApp(demo_db, env={"STREAMLIT_SECRETS_FILES": str(secrets), "EXQ_SSO_DOMAINS": ALLOWED_DOMAIN})
    yield app
    app.stop()


@contextmanager
def redirected_home(page, app, idp, what: str):
    """Wait for the redirects the block starts to land on the app's home page; say where they went if not."""
    seen: list[str] = []
    track = lambda frame: seen.append(frame.url) if frame == page.main_frame else None  # noqa: E731
    page.on("framenavigated", track)
    try:
        with page.expect_navigation(url=f"{app.url}/", timeout=45_000):
            yield
    except Exception as err:
        raise AssertionError(f"{what}: no way back to {app.url}/; navigations {seen}, provider saw "
                             f"{idp.requests}, page says {page.locator('body').inner_text()[:300]!r}") from err
    finally:
        page.remove_listener("framenavigated", track)


def sso_sign_in(page, app, idp, identity: dict) -> None:
    """Open the app, press the single sign-on button; the provider answers with `identity` at once."""
    idp.next_identity = identity
    page.goto(app.url)
    wait_for_app(page)
    before = len(idp.issued)
    # the app → the provider's /authorize → /oauth2callback → back to the app, all redirects
    with redirected_home(page, app, idp, "single sign-on"):
        page.get_by_role("button", name="Sign in with single sign-on").click()
    assert len(idp.issued) == before + 1, idp.requests
    wait_for_app(page)


def test_an_invited_identity_gets_its_role_and_comes_back_by_its_subject(sso_app, idp, browser, artifacts):
    first = browser.new_context().new_page()
    again = browser.new_context().new_page()       # another browser: nothing shared but the provider
    try:
        sso_sign_in(first, sso_app, idp, {"sub": "idp-lee-1", "email": "lee@example.com", "email_verified": True,
                                          "preferred_username": "lee", "name": "Lee"})
        first.get_by_text("Open exceptions").wait_for()
        assert signed_in_as(first) == "lee@example.com (reviewer)"
        claims = idp.issued[-1]
        assert claims["iss"] == idp.issuer and claims["aud"] == CLIENT_ID and claims["nonce"]
        assert session_cookie(first.context)["httpOnly"] is True     # exq's own session, as with a password
        first.screenshot(path=str(artifacts / "sso-invited-signed-in.png"), full_page=True)
        first.reload()
        wait_for_app(first)
        first.get_by_text("Open exceptions").wait_for()
        assert signed_in_as(first) == "lee@example.com (reviewer)"
        assert first.locator(".st-key-change_password_open").count() == 0   # no exq password to change

        # The same subject later, with another address at the provider: the same account, found by subject.
        sso_sign_in(again, sso_app, idp, {"sub": "idp-lee-1", "email": "lee.new@elsewhere.test",
                                          "email_verified": True, "preferred_username": "lee"})
        again.get_by_text("Open exceptions").wait_for()
        assert signed_in_as(again) == "lee@example.com (reviewer)"

        # Signing out ends exq's session and the provider identity Streamlit keeps: the form, and no way back in
        # without the provider.
        with redirected_home(first, sso_app, idp, "sign-out"):        # st.logout: /auth/logout, then back
            first.locator(".st-key-sign_out button").click()
        wait_until(lambda: not [c for c in first.context.cookies() if c["name"] == "_streamlit_user"],
                   what="Streamlit's identity cookie to go")
        wait_for_app(first)
        first.locator(FORM).wait_for()
        first.get_by_role("button", name="Sign in with single sign-on").wait_for()
        assert signed_in_as(first) is None and "Open exceptions" not in main_text(first)
        first.reload()
        wait_for_app(first)
        first.locator(FORM).wait_for()
        assert signed_in_as(first) is None
    finally:
        first.context.close()
        again.context.close()


def test_an_identity_named_like_the_local_manager_is_not_that_manager(sso_app, idp, browser, artifacts):
    # Verified, of the allow-listed domain, calling itself "maria": a new viewer account, not maria the manager.
    page = browser.new_context().new_page()
    stranger = browser.new_context().new_page()
    try:
        sso_sign_in(page, sso_app, idp, {"sub": "idp-maria-x", "email": f"maria@{ALLOWED_DOMAIN}",
                                         "email_verified": True, "preferred_username": "maria", "name": "maria"})
        page.get_by_text("Open exceptions").wait_for()
        assert signed_in_as(page) == f"maria@{ALLOWED_DOMAIN} (viewer)"
        nav = page.get_by_test_id("stSidebarNavItems").inner_text()
        assert "Users" not in nav
        page.screenshot(path=str(artifacts / "sso-named-maria-is-a-viewer.png"), full_page=True)

        # Named "maria", with an address nobody invited: refused, and told what to do.
        sso_sign_in(stranger, sso_app, idp, {"sub": "idp-maria-y", "email": "maria@example.com",
                                             "email_verified": True, "preferred_username": "maria"})
        assert_signed_out(stranger, "maria@example.com has no exq account. Ask a manager to invite this address "
                                    "(Users page, or: python -m exq_core user invite maria@example.com --role viewer).")
        stranger.get_by_role("button", name="Sign out of the identity provider").wait_for()
        stranger.screenshot(path=str(artifacts / "sso-named-maria-refused.png"), full_page=True)
    finally:
        page.context.close()
        stranger.context.close()


def test_an_unverified_address_of_an_allowed_domain_is_refused(sso_app, idp, page, artifacts, demo_db):
    sso_sign_in(page, sso_app, idp, {"sub": "idp-eve", "email": f"eve@{ALLOWED_DOMAIN}", "email_verified": False,
                                     "preferred_username": "eve"})
    assert_signed_out(page, f"Your identity provider does not confirm that eve@{ALLOWED_DOMAIN} is verified, so exq "
                            "cannot trust it. Verify the address with the provider, or ask a manager.")
    page.screenshot(path=str(artifacts / "sso-unverified-refused.png"), full_page=True)
    page.reload()                                  # still refused, still not in
    wait_for_app(page)
    page.locator(FORM).wait_for()
    assert signed_in_as(page) is None
    sso_app.stop()
    with open_store(demo_db) as store, store.read() as cur:
        assert cur.scalar("SELECT count(*) FROM users WHERE email = ? OR oidc_subject = 'idp-eve'",
                          [f"eve@{ALLOWED_DOMAIN}"]) == 0
