"""The sign-in gate in AppTest: nothing but the sign-in form without a session, on every page; right and
wrong passwords; sign-out; a disabled account or a new role takes effect on the next rerun; single sign-on."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from exq_core import auth
from exq_core.errors import NotPermitted
from exq_core.models import SYSTEM, Actor, Role
from tests.support import ROOT, TEST_PASSWORD, app_test
from ui import sign_in

PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "views").glob("*.py"))


def _only_the_sign_in_form(at: AppTest) -> None:
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to exq"]
    assert [w.label for w in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.sidebar) == 0
    for kind in ("dataframe", "table", "metric", "markdown", "json", "selectbox", "vega_lite_chart",
                 "arrow_vega_lite_chart", "header", "subheader", "expander", "tabs"):
        assert len(at.get(kind)) == 0, kind


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key=sign_in.USERNAME).input(username)
    at.text_input(key=sign_in.PASSWORD).input(password)
    return at.button(key=sign_in.SUBMIT).click().run()


def test_without_a_session_only_the_sign_in_form_renders(app_env):
    _only_the_sign_in_form(app_test())


@pytest.mark.parametrize("page", PAGES)
def test_every_page_without_a_session_shows_only_the_sign_in_form(app_env, page):
    at = app_test(page=page)
    _only_the_sign_in_form(at)
    assert "actor" not in at.session_state


def test_no_pages_directory_next_to_app_py():
    """A pages/ folder beside app.py switches on Streamlit's old multipage convention: until app.py has run
    once in the process, a deep link runs that page file alone, without the sign-in gate. Page files live
    in views/ and are registered with st.navigation only."""
    assert not (ROOT / "pages").exists()
    registered = set(re.findall(r'st\.Page\("(views/[a-z_]+\.py)"', (ROOT / "app.py").read_text()))
    assert registered == {f"views/{p.name}" for p in (ROOT / "views").glob("*.py")}


def test_signing_in_opens_the_overview(app_env):
    at = _sign_in(app_test(), "Maria", TEST_PASSWORD)
    assert not at.exception
    assert at.session_state["actor"] == Actor(username="maria", role=Role.MANAGER)
    assert "Open exceptions" in [m.label for m in at.metric]
    assert any("Signed in as **maria** (manager)" in c.value for c in at.sidebar.caption)


def test_wrong_password_is_refused(app_env):
    at = _sign_in(app_test(), "maria", "not-the-password")
    assert [e.value for e in at.error] == [auth.WRONG_CREDENTIALS]
    assert "actor" not in at.session_state
    # the server keeps no copy of the password: the form drawn again holds an empty one
    assert sign_in.PASSWORD not in at.session_state or at.session_state[sign_in.PASSWORD] == ""
    assert len(at.metric) == 0


def test_repeated_failures_are_refused_with_a_wait(app_env):
    from exq_core.auth import throttle
    at = app_test()
    for i in range(throttle.ACCOUNT_FREE):
        at = _sign_in(at, "sam", f"guess-{i}")
    at = _sign_in(at, "sam", TEST_PASSWORD)
    assert "Too many failed sign-ins" in at.error[0].value
    assert "actor" not in at.session_state


def test_sign_out_ends_the_session(app_env):
    at = app_test(Actor(username="sam", role=Role.REVIEWER))
    assert "Open exceptions" in [m.label for m in at.metric]
    at.session_state["queue_filter_note"] = "something the person was doing"
    at.button(key="sign_out").click().run()
    _only_the_sign_in_form_with_notice(at, "You are signed out.")
    assert "queue_filter_note" not in at.session_state


def _only_the_sign_in_form_with_notice(at: AppTest, notice: str) -> None:
    assert [i.value for i in at.info] == [notice]
    assert "actor" not in at.session_state
    assert len(at.metric) == 0 and len(at.sidebar) == 0


def test_a_disabled_account_is_signed_out_on_the_next_rerun(app_env):
    at = app_test(Actor(username="sam", role=Role.REVIEWER))
    assert "Open exceptions" in [m.label for m in at.metric]
    from ui.common import get_store      # the app's own connection: DuckDB lets one holder write the file
    auth.set_disabled(get_store(), "sam", True, SYSTEM)
    at.run()
    _only_the_sign_in_form_with_notice(at, "You were signed out: the account 'sam' is disabled or was removed.")


def test_a_made_up_session_actor_is_not_let_in(app_env):
    at = app_test(Actor(username="nobody", role=Role.MANAGER))
    assert "actor" not in at.session_state
    assert len(at.metric) == 0


def test_a_new_role_applies_on_the_next_rerun_and_users_page_follows_it(app_env):
    at = app_test(Actor(username="maria", role=Role.MANAGER))
    assert "views/users.py" in _registered(at)
    from ui.common import get_store
    auth.add_user(get_store(), "deputy", TEST_PASSWORD, Role.MANAGER, SYSTEM)
    auth.set_role(get_store(), "maria", Role.VIEWER, SYSTEM)
    at.run()
    assert at.session_state["actor"] == Actor(username="maria", role=Role.VIEWER)
    assert "views/users.py" not in _registered(at)


def test_a_session_claiming_a_higher_role_gets_the_stored_one(app_env):
    at = app_test(Actor(username="vic", role=Role.MANAGER))
    assert at.session_state["actor"] == Actor(username="vic", role=Role.VIEWER)


def _registered(at: AppTest) -> list[str]:
    return [str(Path(str(info.get("script_path"))).relative_to(ROOT)) for info in at._registered_pages.values()
            if info.get("script_path")]


def test_manager_adds_and_disables_an_account_on_the_users_page(app_env):
    at = app_test(Actor(username="maria", role=Role.MANAGER), "views/users.py")
    assert not at.exception
    assert set(at.dataframe[0].value["username"]) == {"maria", "sam", "vic"}
    at.text_input[0].input("Lee")
    at.selectbox[0].select("reviewer")
    at.text_input[1].input("lee-initial-pass")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "lee" in set(at.dataframe[0].value["username"])
    at.selectbox(key="user_edit_name").select("lee").run()
    at.button(key="user_disable").click().run()
    table = at.dataframe[0].value.set_index("username")
    assert not table.loc["lee", "active"]
    assert "$2b$" not in at.dataframe[0].value.to_string()


def test_users_page_refuses_a_viewer_in_exq_core(app_env):
    # The page is not even in a viewer's navigation; run its file directly to show exq_core refuses anyway.
    at = AppTest.from_file(str(ROOT / "views" / "users.py"), default_timeout=60)
    at.session_state["actor"] = Actor(username="vic", role=Role.VIEWER)
    at.run()
    assert "needs another role" in at.info[0].value
    assert len(at.dataframe) == 0
    with pytest.raises(NotPermitted):                       # and exq_core refuses on its own
        from ui.common import get_store
        auth.list_users(get_store(), Actor(username="vic", role=Role.VIEWER))


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "views").glob("*.py")))
def test_every_page_checks_the_session_itself(app_env, page):
    """Defence in depth: a page file run without app.py's gate (and without a session) shows nothing."""
    at = AppTest.from_file(str(ROOT / "views" / page), default_timeout=60)
    at.run()
    assert not at.exception
    assert len(at.dataframe) == 0 and len(at.metric) == 0 and not at.title


# -- single sign-on (OIDC through st.login) -----------------------------------------------------------

OIDC = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                 "client_id": "exq", "client_secret": "s",
                 "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}}


def _oidc_app(user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets.update(OIDC)
    at.user = user or {"is_logged_in": False}
    return at.run()


def test_without_auth_in_secrets_there_is_no_single_sign_on_button(app_env):
    at = app_test()
    assert [b.label for b in at.button] == ["Sign in"]


def test_with_auth_in_secrets_single_sign_on_is_offered(app_env, monkeypatch):
    monkeypatch.setattr("ui.sign_in._authlib_installed", lambda: True)
    at = _oidc_app()
    assert [b.label for b in at.button] == ["Sign in", "Sign in with single sign-on"]


def test_single_sign_on_without_authlib_says_what_to_install(app_env, monkeypatch):
    monkeypatch.setattr("ui.sign_in._authlib_installed", lambda: False)
    at = _oidc_app()
    assert [b.label for b in at.button] == ["Sign in"]
    assert "pip install" in at.caption[0].value


IDP = "https://idp.example.test"


def test_an_invited_oidc_user_is_signed_in_with_the_invited_role(app_env):
    from ui.common import get_store
    auth.invite(get_store(), "vic.new@example.com", Role.REVIEWER, SYSTEM)
    at = _oidc_app({"is_logged_in": True, "iss": IDP, "sub": "idp-7", "email": "vic.new@example.com",
                    "email_verified": True, "name": "Vic"})
    assert at.session_state["actor"] == Actor(username="vic.new@example.com", role=Role.REVIEWER)
    assert "Open exceptions" in [m.label for m in at.metric]


def test_an_oidc_identity_named_like_a_local_manager_is_not_that_manager(app_env):
    at = _oidc_app({"is_logged_in": True, "iss": IDP, "sub": "idp-666", "email": "maria@example.com",
                    "email_verified": True, "preferred_username": "maria"})
    assert "actor" not in at.session_state
    assert "has no exq account" in at.info[0].value


def test_an_unknown_oidc_user_is_refused(app_env):
    at = _oidc_app({"is_logged_in": True, "iss": IDP, "sub": "idp-9", "email": "stranger@example.com",
                    "email_verified": True})
    assert "actor" not in at.session_state
    assert "stranger@example.com has no exq account" in at.info[0].value
    assert [b.label for b in at.button] == ["Sign in", "Sign out of the identity provider"]
    assert len(at.metric) == 0


def test_changing_your_own_password_needs_the_current_one(app_env):
    at = app_test(Actor(username="vic", role=Role.VIEWER))
    at.button(key="change_password_open").click().run()
    fields = {w.label: w for w in at.text_input}
    fields["Current password"].input("not-my-password")
    fields["New password"].input("vic-new-password")
    fields["Repeat the new password"].input("vic-new-password")
    at.button(key="change_password_submit").click().run()
    assert "The current password is wrong." in [e.value for e in at.error]
    fields = {w.label: w for w in at.text_input}
    fields["Current password"].input(TEST_PASSWORD)
    fields["New password"].input("vic-new-password")
    fields["Repeat the new password"].input("vic-new-password")
    at.button(key="change_password_submit").click().run()
    assert not at.error and "Current password" not in [w.label for w in at.text_input]   # the dialog closed
    from ui.common import get_store
    assert auth.sign_in(get_store(), "vic", "vic-new-password").username == "vic"


def test_the_overviews_code_is_found_in_this_streamlit():
    """The preload names Streamlit's chunks by stem: each the Overview draws with must exist in the installed
    Streamlit (a renamed chunk would silently stop the preload)."""
    from ui.sign_in import _chunk_names
    stems = {name.split(".", 1)[0] for name in _chunk_names()}
    for stem in ("Metric", "ArrowVegaLiteChart", "loadVegaEmbed", "embed", "vega-interpreter", "Table", "PageLink"):
        assert stem in stems, stem


def test_a_refused_sign_in_then_the_right_password_signs_in(app_env):
    at = _sign_in(app_test(), "sam", "not-the-password")
    assert [e.value for e in at.error] == [auth.WRONG_CREDENTIALS]
    at = _sign_in(at, "sam", TEST_PASSWORD)
    assert at.session_state["actor"].username == "sam"
    assert not at.error and len(at.metric) == 5           # the Overview
