"""The sign-in gate: who is using this browser session, re-checked on every rerun.

The signed-in person lives in `st.session_state["actor"]` (an `exq_core.models.Actor`); pages read it with
`ui.common.current_actor()`. `gate()` re-reads the account from the database on every rerun (one primary-key
lookup), so a disabled account is signed out and a changed role applies at once. Until someone signs in,
app.py renders only `sign_in_form()` — no page script runs, so no page can show customer data.
"""
from __future__ import annotations

import streamlit as st

from exq_core import auth
from exq_core.models import Actor
from ui.common import get_store

NOTICE = "sign_in_notice"
SOURCE = "sign_in_source"          # "password" or "oidc"


def oidc_providers() -> list[str] | None:
    """The OIDC providers configured in `[auth]` of .streamlit/secrets.toml: None if there is no `[auth]`,
    [""] for a single default provider, else the named ones (`[auth.google]` → "google")."""
    try:
        if "auth" not in st.secrets:
            return None
        section = st.secrets["auth"]
    except Exception:   # no secrets.toml, or one that does not parse
        return None
    named = [name for name, value in section.items() if hasattr(value, "keys")]
    return named or [""]


def _end_session(notice: str | None) -> None:
    """Forget everything this session knew: the person and whatever they were doing on the pages."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE] = notice


def gate() -> Actor | None:
    """The signed-in person, re-checked against the database now; None when nobody is signed in."""
    actor = st.session_state.get("actor")
    if actor is not None:
        fresh = auth.session_actor(get_store(), actor)
        if fresh is None:
            _end_session(f"You were signed out: the account '{actor.username}' is disabled or was removed.")
            return None
        if fresh != actor:
            st.session_state["actor"] = fresh
        return fresh
    if oidc_providers() is not None and st.user.get("is_logged_in", False) and not st.session_state.get(NOTICE):
        try:
            fresh = auth.sign_in_external(get_store(), dict(st.user.to_dict()))
        except auth.SignInRefused as err:
            st.session_state[NOTICE] = str(err)
            return None
        st.session_state["actor"] = fresh
        st.session_state[SOURCE] = "oidc"
        return fresh
    return None


def sign_out() -> None:
    via_oidc = st.session_state.get(SOURCE) == "oidc"
    _end_session("You are signed out.")
    if via_oidc:
        st.logout()      # also ends the provider's identity cookie; starts a new session
    st.rerun()


def sign_in_form() -> None:
    """The only thing a visitor without a session sees."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Sign in to exq")
        notice = st.session_state.get(NOTICE)
        if notice:
            st.info(notice)
        with st.form("sign_in", clear_on_submit=True, enter_to_submit=True):
            username = st.text_input("Username", key="sign_in_username", autocomplete="username")
            password = st.text_input("Password", type="password", key="sign_in_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", key="sign_in_submit")
        if submitted:
            # The browser clears the form (clear_on_submit); drop the server's copy of the password too.
            st.session_state.pop("sign_in_password", None)
            try:
                actor = auth.sign_in(get_store(), username, password)
            except auth.SignInRefused as err:
                st.error(str(err))
            else:
                st.session_state.pop(NOTICE, None)
                st.session_state["actor"] = actor
                st.session_state[SOURCE] = "password"
                st.rerun()
        providers = oidc_providers()
        if providers is not None:
            st.divider()
            if st.session_state.get(NOTICE) and st.user.get("is_logged_in", False):
                # Signed in at the provider but refused here (unknown or disabled): let them switch identity.
                if st.button("Sign out of the identity provider", key="sign_in_oidc_logout"):
                    st.session_state.pop(NOTICE, None)
                    st.logout()
            elif not _authlib_installed():
                st.caption("Single sign-on is configured in secrets.toml, but it needs Authlib: "
                           "`pip install 'Authlib>=1.3.2'`, then restart exq.")
            else:
                for provider in providers:
                    label = f"Sign in with {provider.title()}" if provider else "Sign in with single sign-on"
                    if st.button(label, key=f"sign_in_oidc_{provider or 'default'}"):
                        st.session_state.pop(NOTICE, None)
                        st.login(provider or None)


CHANGING_PASSWORD = "sign_in_changing_password"


def _close_password_dialog() -> None:
    st.session_state.pop(CHANGING_PASSWORD, None)


def _authlib_installed() -> bool:
    try:
        import authlib  # noqa: F401
    except ImportError:
        return False
    return True


@st.dialog("Change password", on_dismiss=_close_password_dialog)
def _change_password_dialog(actor: Actor) -> None:
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input("New password", type="password", autocomplete="new-password",
                            help=f"At least {auth.MIN_PASSWORD} characters.")
        repeat = st.text_input("Repeat the new password", type="password", autocomplete="new-password")
        if st.form_submit_button("Change password", type="primary", key="change_password_submit"):
            if new != repeat:
                st.error("The two new passwords differ.")
                return
            try:
                auth.change_own_password(get_store(), actor, current, new)
            except auth.AuthError as err:
                st.error(str(err))
                return
            _close_password_dialog()
            st.toast("Password changed.")
            st.rerun()


def account_sidebar(actor: Actor) -> None:
    """Who is signed in, and the way out. Call inside `with st.sidebar:`."""
    st.caption(f"Signed in as **{actor.username}** ({actor.role})")
    left, right = st.columns(2)
    if st.session_state.get(SOURCE) != "oidc" and left.button("Password", key="change_password_open",
                                                               width="stretch"):
        st.session_state[CHANGING_PASSWORD] = True
    if st.session_state.get(CHANGING_PASSWORD):     # stays open across its own reruns until done or dismissed
        _change_password_dialog(actor)
    if right.button("Sign out", key="sign_out", width="stretch"):
        sign_out()
