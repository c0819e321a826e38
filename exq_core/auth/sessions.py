"""Signing in, and staying signed in across reloads and tabs.

* `sign_in` checks a username and password — after the throttle (`throttle.reserve`) let the try through,
  so a flood of guesses never costs a bcrypt check each.
* `sign_in_external` maps a single sign-on identity to an account by (issuer, subject) only. An unknown
  identity gets an account only through a manager's invitation of its e-mail, or an allow-listed e-mail
  domain — and only when the provider says the e-mail is verified. A password account is never matched
  by its name.
* A sign-in starts a session (`sessions` table). The browser holds a signed cookie naming it (itsdangerous,
  with a secret from $EXQ_SECRET_KEY or made once and kept in the database, so every app process of a team
  shares it). A session ends at sign-out, after IDLE without use, after MAX_AGE, and when the person's
  `session_epoch` moves on: a password change or reset, a role change or a disable ends every other session.
"""
from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..models import Actor, Role
from ..store import Store, utcnow
from . import throttle
from .accounts import EMAIL_RE, audit, get_account, normalize_username
from .passwords import AuthError, burn_time, verify_password

COOKIE = "exq_session"
MAX_AGE = timedelta(days=30)
TOUCH_EVERY = timedelta(minutes=5)
HANDOFF_SECONDS = 120
WRONG_CREDENTIALS = "Wrong username or password."


def idle_limit() -> timedelta:
    """How long a session lasts without use: $EXQ_SESSION_IDLE_HOURS (default 12; fractions allowed, at
    least 0.001 — a few seconds)."""
    try:
        hours = float(os.environ.get("EXQ_SESSION_IDLE_HOURS", "12"))
    except ValueError:
        hours = 12.0
    if hours != hours:      # NaN
        hours = 12.0
    return timedelta(hours=min(max(hours, 0.001), 24 * 30))


def _touch_every() -> timedelta:
    """How stale `last_seen` may get before a rerun writes it again: rarely (TOUCH_EVERY), but well within
    the idle limit, so a person at work is never taken for idle however short the limit is."""
    return min(TOUCH_EVERY, idle_limit() / 10)


def _span(span: timedelta) -> str:
    """'12 hours', '1 hour', '30 minutes', '9 seconds'."""
    seconds = span.total_seconds()
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            value = round(seconds / size, 2)
            return f"{value:g} {unit}{'' if value == 1 else 's'}"
    value = max(1, round(seconds))
    return f"{value} second{'' if value == 1 else 's'}"


class SignInRefused(AuthError):
    pass


class SignInThrottled(SignInRefused):
    def __init__(self, retry_after: timedelta, per_address: bool):
        self.retry_after = retry_after
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        who = "from this address" if per_address else "for this account"
        super().__init__(f"Too many failed sign-ins {who}. Try again in {seconds} s.")


# -- signing in -------------------------------------------------------------------------------------

def sign_in(store: Store, username: str, password: str, *, address: str | None = None,
            now: datetime | None = None) -> Actor:
    """Check a username and password. Returns the signed-in person; raises SignInRefused (wrong, disabled)
    or SignInThrottled (too many recent failures — the password is then not even checked)."""
    now = now or utcnow()
    name = (username or "").strip().lower()[:100]
    if not name:
        raise SignInRefused("Enter your username and password.")
    with store.unit_of_work() as uow:
        wait, key = throttle.reserve(uow, name, address, now)
        row = uow.cursor.execute("SELECT password_hash, role, disabled FROM users WHERE username = ?",
                                 [name]).fetchone()
        uow.commit()
    if wait > timedelta(0):
        raise SignInThrottled(wait, per_address=key.startswith("ip:"))
    if row is None:
        burn_time(password)
        raise SignInRefused(WRONG_CREDENTIALS)
    if not verify_password(password, row[0]):
        raise SignInRefused(WRONG_CREDENTIALS)
    if row[2]:
        raise SignInRefused("This account is disabled. Ask a manager to enable it.")
    with store.unit_of_work() as uow:
        throttle.succeeded(uow, name, address)
        uow.commit()
    return Actor(username=name, role=Role(row[1]))


def allowed_domains() -> set[str]:
    """E-mail domains whose verified addresses may sign in through single sign-on without an invitation,
    as viewers ($EXQ_SSO_DOMAINS, comma-separated). Empty by default."""
    return {d.strip().lower().lstrip("@") for d in os.environ.get("EXQ_SSO_DOMAINS", "").split(",") if d.strip()}


def sign_in_external(store: Store, identity: dict, *, now: datetime | None = None,
                     domains: set[str] | None = None) -> Actor:
    """The account of a person signed in through the identity provider (st.login): bound by the provider's
    issuer and subject id. First sign-in of an unknown identity: only with a verified e-mail that a manager
    invited (or of an allow-listed domain)."""
    now = now or utcnow()
    issuer, subject = str(identity.get("iss") or "").strip(), str(identity.get("sub") or "").strip()
    if not issuer or not subject:
        raise SignInRefused("The identity provider did not say who you are (no issuer or subject id).")
    email = str(identity.get("email") or "").strip().lower()
    verified = identity.get("email_verified") is True or str(identity.get("email_verified")).lower() == "true"
    domains = allowed_domains() if domains is None else domains
    with store.unit_of_work() as uow:
        cur = uow.cursor
        row = cur.execute("SELECT username, role, disabled FROM users WHERE oidc_issuer = ? AND oidc_subject = ?",
                          [issuer, subject]).fetchone()
        if row is not None:
            if row[2]:
                raise SignInRefused("This account is disabled. Ask a manager to enable it.")
            return Actor(username=row[0], role=Role(row[1]))
        if not email or not EMAIL_RE.fullmatch(email):
            raise SignInRefused("Your identity provider gave no e-mail address, so exq cannot tell who you are. "
                                "Ask a manager.")
        if not verified:
            raise SignInRefused(f"Your identity provider does not confirm that {email} is verified, so exq cannot "
                                "trust it. Verify the address with the provider, or ask a manager.")
        invited = cur.execute("SELECT role FROM sso_invitations WHERE email = ? AND used_at IS NULL",
                              [email]).fetchone()
        role = Role(invited[0]) if invited else (Role.VIEWER if email.rsplit("@", 1)[1] in domains else None)
        if role is None:
            raise SignInRefused(f"{email} has no exq account. Ask a manager to invite this address (Users page, "
                                f"or: python -m exq_core user invite {email} --role viewer).")
        username = normalize_username(email)
        taken = get_account(cur, username)
        if taken is not None:
            # never bound to an existing account by its name: a manager links it on purpose instead
            raise SignInRefused(f"An account named {username} already exists and is not linked to this identity. "
                                "Ask a manager to link it (Users page).")
        cur.execute("INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at, "
                    "session_epoch, email, oidc_issuer, oidc_subject) VALUES (?, '!', ?, false, ?, ?, 0, ?, ?, ?)",
                    [username, role.value, now, now, email, issuer, subject])
        if invited:
            cur.execute("UPDATE sso_invitations SET used_by = ?, used_at = ? WHERE email = ?", [username, now, email])
        audit(uow, Actor(username="sso", role=Role.MANAGER, system=True), username, "added", None, role.value,
              f"single sign-on ({'invited' if invited else 'allow-listed domain'}; issuer {issuer[:100]})", now)
        uow.commit()
    return Actor(username=username, role=role)


# -- sessions -----------------------------------------------------------------------------------------

def start(store: Store, actor: Actor, *, via: str, address: str | None = None, now: datetime | None = None) -> str:
    """A new session for a person who just signed in; returns its id (what the cookie names)."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    with store.unit_of_work() as uow:
        epoch = uow.cursor.scalar("SELECT coalesce(session_epoch, 0) FROM users WHERE username = ?",
                                  [actor.username]) or 0
        uow.execute("INSERT INTO sessions (session_id, username, epoch, created_at, last_seen, address, via) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [session_id, actor.username, epoch, now, now, address, via])
        uow.execute("DELETE FROM sessions WHERE last_seen < ?", [now - MAX_AGE])
        uow.commit()
    return session_id


def resume(store: Store, session_id: str | None, *, now: datetime | None = None) -> Actor | None:
    """The person of a live session (not ended, not idle too long, not older than MAX_AGE, its epoch still
    the account's, the account active), touched so idleness counts from now. None otherwise."""
    if not session_id:
        return None
    now = now or utcnow()
    with store.read() as cur:
        row = cur.execute("""SELECT s.username, u.role, s.last_seen, s.created_at FROM sessions s
                             JOIN users u ON u.username = s.username
                             WHERE s.session_id = ? AND s.ended_at IS NULL AND NOT u.disabled
                               AND s.epoch = coalesce(u.session_epoch, 0)""", [session_id]).fetchone()
    if row is None:
        return None
    username, role, last_seen, created_at = row
    if now - last_seen > idle_limit() or now - created_at > MAX_AGE:
        end(store, session_id, "idle" if now - last_seen > idle_limit() else "expired", now=now)
        return None
    if now - last_seen > _touch_every():
        with store.unit_of_work() as uow:
            uow.execute("UPDATE sessions SET last_seen = ? WHERE session_id = ?", [now, session_id])
            uow.commit()
    return Actor(username=username, role=Role(role))


def started_via(store: Store, session_id: str | None) -> str | None:
    """How the session began: "password" or "oidc" (a reload resuming it must know, to sign out of both)."""
    if not session_id:
        return None
    with store.read() as cur:
        return cur.scalar("SELECT via FROM sessions WHERE session_id = ?", [session_id])


def why_ended(store: Store, session_id: str | None) -> str:
    """The sentence to show someone whose session `resume` refused: the specific reason when it is known."""
    generic = ("Your session ended: you signed out elsewhere, your password or role changed, your account was "
               "disabled, or it was idle too long. Sign in again.")
    if not session_id:
        return generic
    with store.read() as cur:
        row = cur.execute("""SELECT s.username, s.ended_reason, s.epoch, u.disabled, coalesce(u.session_epoch, 0)
                             FROM sessions s LEFT JOIN users u ON u.username = s.username
                             WHERE s.session_id = ?""", [session_id]).fetchone()
    if row is None:
        return generic
    username, reason, epoch, disabled, account_epoch = row
    if disabled is None:
        return f"You were signed out: the account '{username}' was removed."
    if disabled:
        return f"You were signed out: the account '{username}' is disabled."
    if epoch != account_epoch:
        return "You were signed out: the password or role of this account changed. Sign in again."
    return {"idle": f"You were signed out after {_span(idle_limit())} without activity.",
            "expired": f"You were signed out: a session lasts at most {MAX_AGE.days} days. Sign in again.",
            "signed out": "You signed out (here or in another tab)."}.get(reason or "", generic)


def end(store: Store, session_id: str | None, reason: str = "signed out", *, now: datetime | None = None) -> None:
    if not session_id:
        return
    with store.unit_of_work() as uow:
        uow.execute("UPDATE sessions SET ended_at = ?, ended_reason = ? WHERE session_id = ? AND ended_at IS NULL",
                    [now or utcnow(), reason, session_id])
        uow.commit()


# -- the cookie ---------------------------------------------------------------------------------------

def _secret(store: Store) -> str:
    """$EXQ_SECRET_KEY, else a random secret made once and kept in the database (shared by every process)."""
    env = os.environ.get("EXQ_SECRET_KEY", "").strip()
    if env:
        return env
    with store.read() as cur:
        found = cur.scalar("SELECT value FROM meta WHERE key = 'cookie_secret'")
    if found:
        return found
    with store.unit_of_work() as uow:
        uow.execute("INSERT INTO meta VALUES ('cookie_secret', ?) ON CONFLICT (key) DO NOTHING",
                    [secrets.token_urlsafe(48)])
        found = uow.cursor.scalar("SELECT value FROM meta WHERE key = 'cookie_secret'")
        uow.commit()
    return found


def _serializer(store: Store, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(store), salt=salt)


def cookie_value(store: Store, session_id: str) -> str:
    return _serializer(store, "exq-session").dumps(session_id)


def session_from_cookie(store: Store, value: str | None) -> str | None:
    """The session id a cookie names, if its signature holds and it is not older than MAX_AGE."""
    if not value or len(value) > 500:
        return None
    try:
        return _serializer(store, "exq-session").loads(value, max_age=int(MAX_AGE.total_seconds()))
    except BadSignature:
        return None


def handoff_token(store: Store, session_id: str) -> str:
    """A short-lived token the page hands to /api/session, which turns it into the HttpOnly cookie."""
    return _serializer(store, "exq-handoff").dumps(session_id)


def session_from_handoff(store: Store, token: str | None) -> str | None:
    if not token or len(token) > 500:
        return None
    try:
        return _serializer(store, "exq-handoff").loads(token, max_age=HANDOFF_SECONDS)
    except BadSignature:
        return None
