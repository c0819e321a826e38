"""The sign-in gate: who is using this browser session, re-checked on every rerun, kept across reloads.

The signed-in person lives in `st.session_state["actor"]`; pages read it with `ui.common.current_actor()`.
A sign-in starts a server-side session (exq_core.auth.sessions) and the browser gets an HttpOnly, signed
cookie for it from server.py's /api/exq/session; a reload or a new tab finds the cookie
(`st.context.cookies`) and resumes the session. `gate()` re-checks the session on every rerun: ended,
idle too long, or the account changed (password, role, disabled) — the person is signed out.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path

import streamlit as st

from exq_core import auth
from exq_core.auth import sessions
from exq_core.models import Actor
from ui.common import get_store

NOTICE = "sign_in_notice"
SOURCE = "sign_in_source"          # "password" or "oidc"
SESSION = "sign_in_session"        # the session id this browser session resumes
COOKIE_TODO = "sign_in_cookie"     # {"action": "set" | "clear", "token", "since"}: for the cookie component
REFUSED = "sign_in_refused"        # why the last sign-in was refused, for the form to show
USERNAME, PASSWORD, SUBMIT = "sign_in_username", "sign_in_password", "sign_in_submit"   # the form's widgets

_COOKIE_JS = """
export default function(component) {
  const { data } = component;
  if (!data || !data.url) return;
  // no value goes back to Python: the page does not rerun for this, nothing on it moves
  fetch(data.url, {method: 'POST', credentials: 'same-origin', cache: 'no-store', keepalive: true,
                   headers: {'Content-Type': 'text/plain'}, body: data.token || ''});
}
"""
_cookie_component = st.components.v2.component("exq_session_cookie", js=_COOKIE_JS)

_PRELOAD_JS = """
export default function(component) {
  const { data } = component;
  if (!data || !data.urls || window.exqPreloaded) return;
  window.exqPreloaded = true;
  // the same absolute URLs the page's own lazy imports resolve to (this module's base is a blob: URL):
  // loaded once, found in the module map later; started once the form is drawn and the page is idle
  const load = () => { for (const url of data.urls) import(new URL(url, window.location.href).href).catch(() => {}); };
  (window.requestIdleCallback || ((f) => setTimeout(f, 200)))(load, {timeout: 1000});
}
"""
_preload_component = st.components.v2.component("exq_preload", js=_PRELOAD_JS)

# The browser code the Overview needs and the sign-in form does not (Streamlit's lazily loaded chunks for
# metrics, Vega-Lite charts, tables and page links, and what they load in turn; named by their stem, the part
# before the content hash). A stem a Streamlit version does not have is skipped.
OVERVIEW_CHUNKS = frozenset((
    "Metric", "formatNumber", "numbro", "sprintfjs", "printWidthCap", "WidgetLabelHelpIconInline", "CustomTheme",
    "PageLink", "ArrowVegaLiteChart", "loadVegaEmbed", "embed", "vega-interpreter", "downloadDataUrl",
    "FileDownload", "withFullScreenWrapper", "Quiver", "unzip", "range", "TableChart", "init", "linear", "time",
    "defaultLocale", "string", "value", "ordinal", "cubic", "threshold", "colors", "treemap", "Table",
    "arrowFormatUtils", "pandasStylerUtils", "moment", "_hasUnicode", "_baseIndexOf", "_arrayReduce",
    "recordbatch", "serialization", "Button"))


@functools.cache
def _chunk_names() -> tuple[str, ...]:
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    try:
        names = sorted(p.name for p in folder.glob("*.js"))
    except OSError:
        return ()
    return tuple(n for n in names if n.split(".", 1)[0] in OVERVIEW_CHUNKS)


def preload_overview() -> None:
    """While a person types their password, the browser loads the Overview's code (about 45 small files),
    so signing in does not wait for it: 'Sign in' → Overview drawn 2.2–2.5 → 1.8–1.9 s in Chromium on this
    2-core machine. Nothing is drawn."""
    names = _chunk_names()
    if names:
        _preload_component(data={"urls": [_address_of(f"static/js/{n}") for n in names]}, key="preload_overview",
                           height=0)


def _address_of(path: str) -> str:
    """An address on this server, under its base URL path when it has one."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/{path}" if base else f"/{path}"


def _api(path: str) -> str:
    return _address_of(f"api/exq/{path}")


def cookie_step() -> None:
    """Set or clear the sign-in cookie after a sign-in or sign-out (a few lines of JS that call the server;
    the cookie itself is HttpOnly).

    Setting it is drawn again on every run while the sign-in's hand-off token is valid: a run that ends in
    st.rerun() or st.switch_page() (a link to /overview does, right after signing in) drops what it drew
    before the browser got it, and the sign-in then did not survive a reload. Setting the same cookie twice
    is harmless; clearing is drawn once (a cookie left behind names an ended session, which the next visit
    refuses and clears), so it never clears a sign-in made meanwhile in another tab."""
    slot = st.empty()        # always one element here, so nothing below it moves between reruns
    todo = st.session_state.get(COOKIE_TODO)
    if not todo:
        return
    if todo["action"] != "set" or time.monotonic() - todo["since"] > sessions.HANDOFF_SECONDS - 10:
        st.session_state.pop(COOKIE_TODO, None)
        if todo["action"] == "set":
            return
    url = _api("session" if todo["action"] == "set" else "sign-out")
    with slot:
        _cookie_component(data={"url": url, "token": todo.get("token", "")}, key=f"cookie_{todo['action']}",
                          height=0)


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


def _address() -> str | None:
    try:
        address = st.context.ip_address
    except Exception:
        return None
    return address[:64] if isinstance(address, str) else None


def _end_session(notice: str | None, *, clear_cookie: bool = True) -> None:
    """Forget everything this session knew: the person and whatever they were doing on the pages."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE] = notice
    if clear_cookie:
        st.session_state[COOKIE_TODO] = {"action": "clear"}


def _begin(actor: Actor, via: str) -> Actor:
    store = get_store()
    session_id = sessions.start(store, actor, via=via, address=_address())
    st.session_state["actor"] = actor
    st.session_state[SESSION] = session_id
    st.session_state[SOURCE] = via
    st.session_state[COOKIE_TODO] = {"action": "set", "token": sessions.handoff_token(store, session_id),
                                     "since": time.monotonic()}
    st.session_state.pop(NOTICE, None)
    return actor


def gate() -> Actor | None:
    """The signed-in person, re-checked against the database now; None when nobody is signed in."""
    store = get_store()
    actor = st.session_state.get("actor")
    session_id = st.session_state.get(SESSION)
    if actor is not None:
        fresh = sessions.resume(store, session_id) if session_id else auth.session_actor(store, actor)
        if fresh is None:
            _end_session(sessions.why_ended(store, session_id) if session_id else
                         f"You were signed out: the account '{actor.username}' is disabled or was removed.")
            return None
        if fresh != actor:
            st.session_state["actor"] = fresh
        return fresh
    # a new browser session (a reload, a new tab): the cookie names a session to resume
    cookie = _cookie()
    if cookie:
        session_id = sessions.session_from_cookie(store, cookie)
        fresh = sessions.resume(store, session_id)
        if fresh is not None:
            st.session_state["actor"] = fresh
            st.session_state[SESSION] = session_id
            # signed in through the identity provider: no password to change, and sign-out leaves it too
            st.session_state[SOURCE] = sessions.started_via(store, session_id)
            return fresh
        if not st.session_state.get(NOTICE):
            st.session_state[NOTICE] = sessions.why_ended(store, session_id)
        st.session_state[COOKIE_TODO] = {"action": "clear"}
    if oidc_providers() is not None and st.user.get("is_logged_in", False) and not st.session_state.get(NOTICE):
        try:
            return _begin(auth.sign_in_external(store, dict(st.user.to_dict())), "oidc")
        except auth.SignInRefused as err:
            st.session_state[NOTICE] = str(err)
    return _submitted()


def _submitted() -> Actor | None:
    """The sign-in form's submission, checked before anything is drawn: signed in, this same run goes on to
    the page asked for (no second run, and no sign-in form drawn only to be replaced); refused, the form
    says why."""
    if not st.session_state.get(SUBMIT):
        return None
    username = st.session_state.get(USERNAME) or ""
    # The browser clears the form (clear_on_submit); drop the server's copy of the password too.
    password = st.session_state.pop(PASSWORD, None) or ""
    try:
        actor = auth.sign_in(get_store(), username, password, address=_address())
    except auth.SignInRefused as err:
        st.session_state[REFUSED] = str(err)
        return None
    return _begin(actor, "password")


def _cookie() -> str | None:
    try:
        value = st.context.cookies.get(sessions.COOKIE)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def sign_out() -> None:
    via_oidc = st.session_state.get(SOURCE) == "oidc"
    sessions.end(get_store(), st.session_state.get(SESSION), "signed out")
    _end_session("You are signed out.")
    if via_oidc:
        # The browser leaves for /auth/logout (Streamlit's identity cookie goes) and comes back as a new
        # session. No st.rerun() after it: a rerun drops the messages not yet sent — the redirect among them,
        # and then the identity cookie stayed and the next visit signed the person straight back in.
        st.logout()
        st.stop()
    st.rerun()


def sign_in_form() -> None:
    """The only thing a visitor without a session sees."""
    cookie_step()
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Sign in to exq")
        notice = st.session_state.get(NOTICE)
        if notice:
            st.info(notice)
        with st.form("sign_in", clear_on_submit=True, enter_to_submit=True):
            st.text_input("Username", key=USERNAME, autocomplete="username", max_chars=100)
            st.text_input("Password", type="password", key=PASSWORD, autocomplete="current-password",
                          max_chars=200)
            st.form_submit_button("Sign in", type="primary", key=SUBMIT)   # handled by gate()
        refused = st.session_state.pop(REFUSED, None)
        if refused:
            st.error(refused)
        preload_overview()
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
PASSWORD_CHANGED = "sign_in_password_changed"      # the confirmation, for the run after the change


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
                            help=f"At least {auth.MIN_PASSWORD} characters. Your other sessions end.")
        repeat = st.text_input("Repeat the new password", type="password", autocomplete="new-password")
        if st.form_submit_button("Change password", type="primary", key="change_password_submit"):
            if new != repeat:
                st.error("The two new passwords differ.")
                return
            try:
                auth.change_own_password(get_store(), actor, current, new,
                                         keep_session=st.session_state.get(SESSION))
            except auth.AuthError as err:
                st.error(str(err))
                return
            _close_password_dialog()
            # shown by the next run: a toast sent just before st.rerun() is often gone before it is seen
            st.session_state[PASSWORD_CHANGED] = "Password changed. Your other sessions are signed out."
            st.rerun()


def account_sidebar(actor: Actor) -> None:
    """Who is signed in, and the way out. Call inside `with st.sidebar:`."""
    cookie_step()
    changed = st.session_state.pop(PASSWORD_CHANGED, None)
    if changed:
        st.toast(changed, icon=":material/key:")
    st.caption(f"Signed in as **{actor.username}** ({actor.role})")
    left, right = st.columns(2)
    if st.session_state.get(SOURCE) != "oidc" and left.button("Password", key="change_password_open",
                                                               width="stretch"):
        st.session_state[CHANGING_PASSWORD] = True
    if st.session_state.get(CHANGING_PASSWORD):     # stays open across its own reruns until done or dismissed
        _change_password_dialog(actor)
    if right.button("Sign out", key="sign_out", width="stretch"):
        sign_out()
