"""Local accounts: who may use exq, with which role — and a record of every change to them.

Accounts live in the `users` table: the CLI and the Users page change them through the same use cases, and
every change is checked against the acting person's current account inside its transaction
(`access.recheck`), recorded in `account_events` (who, when, what, from → to), and — for a role change,
a disable or a password change — ends the person's other sessions (their `session_epoch` moves on).
"""
from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from ..access import recheck
from ..models import SYSTEM, Actor, Role
from ..store import Store, utcnow
from .passwords import NO_PASSWORD, AccountInvalid, AuthError, generate_password, hash_password

FIRST_MANAGER = "admin"
FIRST_LOGIN_FILE = "first-login.txt"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,99}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[a-z0-9.-]{1,190}\.[a-z]{2,}$")


class AccountNotFound(AuthError):
    def __init__(self, username: str):
        self.username = username
        super().__init__(f"There is no account '{username}'.")


class LastManager(AuthError):
    pass


class Account(BaseModel):
    """An account as people may see it: never its hash."""
    username: str
    role: Role
    disabled: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    email: str | None = None
    sso: bool = False
    session_epoch: int = 0

    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role)


def normalize_username(name: str) -> str:
    """Usernames are case-insensitive: stored and compared lower-case. E-mail addresses are valid names."""
    username = (name or "").strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise AccountInvalid("A username is 1–100 characters: letters, digits and . _ @ + - "
                             "(starting with a letter or digit).")
    return username


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not EMAIL_RE.fullmatch(value):
        raise AccountInvalid(f"'{(email or '')[:80]}' is not an e-mail address.")
    return value


def parse_role(role: Role | str) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise AccountInvalid(f"Unknown role '{role}'; choose one of {', '.join(Role)}.") from None


# -- reading --------------------------------------------------------------------------------------------

_ACCOUNT_COLUMNS = ("username", "role", "disabled", "has_password", "created_at", "updated_at", "email", "sso",
                    "session_epoch")
_ACCOUNT_SQL = ("SELECT username, role, disabled, password_hash <> '!' AS has_password, created_at, updated_at, "
                "email, oidc_subject IS NOT NULL AS sso, coalesce(session_epoch, 0) FROM users")


def _account(row) -> Account:
    return Account(**dict(zip(_ACCOUNT_COLUMNS, row)))


def get_account(cur, username: str) -> Account | None:
    row = cur.execute(f"{_ACCOUNT_SQL} WHERE username = ?", [username]).fetchone()
    return _account(row) if row else None


def session_actor(store: Store, actor: Actor) -> Actor | None:
    """Re-check a signed-in person's account (one primary-key lookup): the person as the database knows them
    now, or None if the account is gone or disabled."""
    with store.read() as cur:
        account = get_account(cur, actor.username)
    if account is None or account.disabled:
        return None
    return account.actor()


def list_users(store: Store, actor: Actor) -> list[Account]:
    with store.read() as cur:
        recheck(cur, actor, "users")
        rows = cur.execute(f"{_ACCOUNT_SQL} ORDER BY username").fetchall()
    return [_account(r) for r in rows]


def count_users(store: Store) -> int:
    with store.read() as cur:
        return cur.scalar("SELECT count(*) FROM users")


def account_events(store: Store, actor: Actor, limit: int = 200) -> list[dict]:
    """The account audit, newest first: who changed which account, when, from what to what."""
    with store.read() as cur:
        recheck(cur, actor, "users")
        return cur.execute('SELECT "at", actor, username, action, from_value, to_value, detail FROM account_events '
                           'ORDER BY event_id DESC LIMIT ?', [int(limit)]).dicts()


# -- changing (the "users" permission) --------------------------------------------------------------------

def audit(uow, actor: Actor, username: str, action: str, from_value=None, to_value=None, detail: str | None = None,
          now: datetime | None = None) -> None:
    uow.execute('INSERT INTO account_events ("at", actor, username, action, from_value, to_value, detail) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [now or utcnow(), actor.username, username, action,
                 None if from_value is None else str(from_value), None if to_value is None else str(to_value), detail])


def add_user(store: Store, username: str, password: str | None, role: Role | str, actor: Actor,
             now: datetime | None = None, *, email: str | None = None) -> Account:
    """Create an account. `password=None` makes an account that signs in only through single sign-on."""
    username = normalize_username(username)
    role = parse_role(role)
    email = normalize_email(email) if email else None
    password_hash = NO_PASSWORD if password is None else hash_password(password)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        actor = recheck(uow.cursor, actor, "users")
        if uow.cursor.scalar("SELECT count(*) FROM users WHERE username = ?", [username]):
            raise AccountInvalid(f"There already is an account '{username}'.")
        uow.execute("INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at, "
                    "session_epoch, email) VALUES (?, ?, ?, false, ?, ?, 0, ?)",
                    [username, password_hash, role.value, now, now, email])
        audit(uow, actor, username, "added", None, role.value,
              "password" if password is not None else "single sign-on only", now)
        account = get_account(uow.cursor, username)
        uow.commit()
    return account


def _active_managers(cur, except_username: str) -> int:
    return cur.scalar("SELECT count(*) FROM users WHERE role = 'manager' AND NOT disabled AND username <> ?",
                      [except_username])


def _change(store: Store, username: str, actor: Actor, now: datetime | None, sets: dict, *, action: str,
            describe, removes_manager: bool, ends_sessions: bool) -> Account:
    username = normalize_username(username)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        actor = recheck(uow.cursor, actor, "users")
        account = get_account(uow.cursor, username)
        if account is None:
            raise AccountNotFound(username)
        if (removes_manager and account.role is Role.MANAGER and not account.disabled
                and _active_managers(uow.cursor, username) == 0):
            raise LastManager(f"'{username}' is the last active manager; make another manager first, "
                              "or nobody could manage accounts any more.")
        assignments = ", ".join(f"{column} = ?" for column in sets)
        epoch = ", session_epoch = coalesce(session_epoch, 0) + 1" if ends_sessions else ""
        uow.execute(f"UPDATE users SET {assignments}, updated_at = ?{epoch} WHERE username = ?",
                    [*sets.values(), now, username])
        before, after = describe(account)
        audit(uow, actor, username, action, before, after, None, now)
        account = get_account(uow.cursor, username)
        uow.commit()
    return account


def set_role(store: Store, username: str, role: Role | str, actor: Actor, now: datetime | None = None) -> Account:
    """A new role; the person's sessions end (they sign in again and see what they may do now)."""
    role = parse_role(role)
    return _change(store, username, actor, now, {"role": role.value}, action="role changed",
                   describe=lambda a: (a.role.value, role.value), removes_manager=role is not Role.MANAGER,
                   ends_sessions=True)


def set_disabled(store: Store, username: str, disabled: bool, actor: Actor,
                 now: datetime | None = None) -> Account:
    """Disable (or enable) an account. Disabling ends every session of the person at once."""
    disabled = bool(disabled)
    return _change(store, username, actor, now, {"disabled": disabled},
                   action="disabled" if disabled else "enabled",
                   describe=lambda a: ("disabled" if a.disabled else "active", "disabled" if disabled else "active"),
                   removes_manager=disabled, ends_sessions=disabled)


def set_password(store: Store, username: str, password: str | None, actor: Actor,
                 now: datetime | None = None) -> Account:
    """A manager sets (or resets) someone's password (`None`: single sign-on only). Their sessions end."""
    password_hash = NO_PASSWORD if password is None else hash_password(password)
    return _change(store, username, actor, now, {"password_hash": password_hash}, action="password reset",
                   describe=lambda a: (None, "single sign-on only" if password is None else "new password"),
                   removes_manager=False, ends_sessions=True)


def change_own_password(store: Store, actor: Actor, current: str, new: str, now: datetime | None = None,
                        *, keep_session: str | None = None) -> None:
    """Anyone signed in may change their own password, proving the current one first. Every other session
    of theirs ends; `keep_session` (the one they are using) goes on."""
    from .passwords import check_password_policy, verify_password
    from .sessions import SignInRefused
    check_password_policy(new)
    with store.read() as cur:
        row = cur.execute("SELECT password_hash FROM users WHERE username = ? AND NOT disabled",
                          [actor.username]).fetchone()
    if row is None or not verify_password(current, row[0]):
        raise SignInRefused("The current password is wrong.")
    new_hash = hash_password(new)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        fresh = recheck(uow.cursor, actor, "read")
        uow.execute("UPDATE users SET password_hash = ?, updated_at = ?, "
                    "session_epoch = coalesce(session_epoch, 0) + 1 WHERE username = ?",
                    [new_hash, now, fresh.username])
        if keep_session:
            uow.execute("UPDATE sessions SET epoch = (SELECT session_epoch FROM users WHERE username = ?) "
                        "WHERE session_id = ? AND username = ?", [fresh.username, keep_session, fresh.username])
        audit(uow, fresh, fresh.username, "password changed", None, "new password", "by the person themselves", now)
        uow.commit()


# -- single sign-on invitations -------------------------------------------------------------------------

def invite(store: Store, email: str, role: Role | str, actor: Actor, now: datetime | None = None) -> None:
    """Let one verified e-mail address sign in through single sign-on once, as a new account with `role`
    (bound to the provider's subject id from then on)."""
    email = normalize_email(email)
    role = parse_role(role)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        actor = recheck(uow.cursor, actor, "users")
        uow.execute("INSERT INTO sso_invitations (email, role, invited_by, invited_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (email) DO UPDATE SET role = excluded.role, invited_by = excluded.invited_by, "
                    "invited_at = excluded.invited_at, used_by = NULL, used_at = NULL",
                    [email, role.value, actor.username, now])
        audit(uow, actor, email, "invited", None, role.value, "single sign-on", now)
        uow.commit()


def invitations(store: Store, actor: Actor) -> list[dict]:
    with store.read() as cur:
        recheck(cur, actor, "users")
        return cur.execute("SELECT email, role, invited_by, invited_at, used_by, used_at FROM sso_invitations "
                           "ORDER BY invited_at DESC").dicts()


# -- the first manager ------------------------------------------------------------------------------

def ensure_first_manager(store: Store, directory: str | os.PathLike,
                         username: str = FIRST_MANAGER) -> tuple[str, str, Path] | None:
    """On a database without any account, create a manager with a generated password and write the sign-in
    details to `directory/first-login.txt` (readable by the owner only). Returns (username, password, file),
    or None when accounts already exist. The password is shown once, never stored in plaintext elsewhere."""
    if count_users(store):
        return None
    password = generate_password()
    add_user(store, username, password, Role.MANAGER, SYSTEM)
    path = Path(directory) / FIRST_LOGIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"exq first sign-in\nusername: {username}\npassword: {password}\n"
                 "Change it after signing in (sidebar: Change password), then delete this file.\n")
    return username, password, path
