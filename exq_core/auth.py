"""Local accounts and sign-in: who may use exq, with which role, and how they prove it.

Accounts live in the `users` table (not in `.streamlit/secrets.toml`): the CLI and the Users page change
them through the same use cases, and the running dashboard re-reads the account on every rerun, so a
disabled account or a new role takes effect at once. Passwords are kept only as bcrypt hashes (salted,
slow); no function here logs, stores or raises with a plaintext password in it.

Repeated failures are slowed down per username: after FREE_FAILURES failed sign-ins within FAILURE_WINDOW,
each further try waits a delay that doubles with every failure (BASE_DELAY … MAX_DELAY), counted from
`sign_in_attempts`. A success clears the count.
"""
from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import bcrypt
from pydantic import BaseModel

from .errors import ExqError
from .models import SYSTEM, Actor, Role
from .store import Store, utcnow
from .workflow import require

DEFAULT_BCRYPT_ROUNDS = 12          # ~0.25 s per hash on a 2-core machine: slow for guessing, fine for people
BCRYPT_ROUNDS = DEFAULT_BCRYPT_ROUNDS   # tests lower this to 4; hashes carry their own cost, so both verify
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72             # bcrypt reads no further; refuse rather than silently truncate
NO_PASSWORD = "!"                   # an account that signs in only through the OIDC provider

FAILURE_WINDOW = timedelta(minutes=15)
FREE_FAILURES = 5
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)

FIRST_MANAGER = "admin"
FIRST_LOGIN_FILE = "first-login.txt"

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,99}$")


class AuthError(ExqError):
    """A refused account change or sign-in. `str(err)` never contains a password."""


class SignInRefused(AuthError):
    pass


class SignInThrottled(SignInRefused):
    def __init__(self, username: str, retry_after: timedelta):
        self.username, self.retry_after = username, retry_after
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        super().__init__(f"Too many failed sign-ins for '{username}'. Try again in {seconds} s.")


class AccountInvalid(AuthError):
    pass


class AccountNotFound(AuthError):
    def __init__(self, username: str):
        self.username = username
        super().__init__(f"There is no account '{username}'.")


class LastManager(AuthError):
    pass


WRONG_CREDENTIALS = "Wrong username or password."


class Account(BaseModel):
    """An account as people may see it: never its hash."""
    username: str
    role: Role
    disabled: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime

    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role)


# -- names and passwords ------------------------------------------------------------------------------

def normalize_username(name: str) -> str:
    """Usernames are case-insensitive: stored and compared lower-case. E-mail addresses are valid names."""
    username = (name or "").strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise AccountInvalid("A username is 1–100 characters: letters, digits and . _ @ + - "
                             "(starting with a letter or digit).")
    return username


def _parse_role(role: Role | str) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise AccountInvalid(f"Unknown role '{role}'; choose one of {', '.join(Role)}.") from None


def check_password_policy(password: str) -> None:
    if password is None or len(password) < MIN_PASSWORD:
        raise AccountInvalid(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise AccountInvalid(f"A password may have at most {MAX_PASSWORD_BYTES} bytes (bcrypt reads no further).")
    if not password.strip():
        raise AccountInvalid("A password cannot be only white space.")


def hash_password(password: str, rounds: int | None = None) -> str:
    """A salted bcrypt hash of a password that passes the policy."""
    check_password_policy(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds or BCRYPT_ROUNDS)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True if the password matches the hash. Never raises on bad input: a wrong password is just False."""
    if not password or not password_hash or password_hash == NO_PASSWORD:
        return False
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except ValueError:
        return False


_dummy_hash: str | None = None


def _burn_time(password: str) -> None:
    """Spend as long as a real check, so an unknown username is not told apart by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = bcrypt.hashpw(b"exq-no-such-user", bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")
    verify_password(password or "x", _dummy_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


# -- reading accounts ---------------------------------------------------------------------------------

_ACCOUNT_SQL = ("SELECT username, role, disabled, password_hash <> ? AS has_password, created_at, updated_at "
                "FROM users")


def _account(row) -> Account:
    return Account(**dict(zip(("username", "role", "disabled", "has_password", "created_at", "updated_at"), row)))


def get_account(cur, username: str) -> Account | None:
    row = cur.execute(f"{_ACCOUNT_SQL} WHERE username = ?", [NO_PASSWORD, username]).fetchone()
    return _account(row) if row else None


def session_actor(store: Store, actor: Actor) -> Actor | None:
    """Re-check a signed-in session's account (one primary-key lookup, cheap enough for every rerun):
    the person as the database knows them now, or None if the account is gone or disabled."""
    with store.read() as cur:
        account = get_account(cur, actor.username)
    if account is None or account.disabled:
        return None
    return account.actor()


def list_users(store: Store, actor: Actor) -> list[Account]:
    require(actor, "users")
    with store.read() as cur:
        rows = cur.execute(f"{_ACCOUNT_SQL} ORDER BY username", [NO_PASSWORD]).fetchall()
    return [_account(r) for r in rows]


def count_users(store: Store) -> int:
    with store.read() as cur:
        return cur.execute("SELECT count(*) FROM users").fetchone()[0]


# -- changing accounts (the "users" permission) -------------------------------------------------------

def add_user(store: Store, username: str, password: str | None, role: Role | str, actor: Actor,
             now: datetime | None = None) -> Account:
    """Create an account. `password=None` makes an account that signs in only through the OIDC provider."""
    require(actor, "users")
    username = normalize_username(username)
    role = _parse_role(role)
    password_hash = NO_PASSWORD if password is None else hash_password(password)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        if uow.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise AccountInvalid(f"There already is an account '{username}'.")
        uow.execute("INSERT INTO users (username, password_hash, role, disabled, created_at, updated_at) "
                    "VALUES (?, ?, ?, false, ?, ?)", [username, password_hash, role.value, now, now])
        account = get_account(uow.cursor, username)
        uow.commit()
    return account


def _active_managers(cur, except_username: str) -> int:
    return cur.execute("SELECT count(*) FROM users WHERE role = 'manager' AND NOT disabled AND username <> ?",
                       [except_username]).fetchone()[0]


def _change(store: Store, username: str, actor: Actor, now: datetime | None, sets: dict,
            *, removes_manager: bool) -> Account:
    require(actor, "users")
    username = normalize_username(username)
    with store.unit_of_work() as uow:
        account = get_account(uow.cursor, username)
        if account is None:
            raise AccountNotFound(username)
        if (removes_manager and account.role is Role.MANAGER and not account.disabled
                and _active_managers(uow.cursor, username) == 0):
            raise LastManager(f"'{username}' is the last active manager; make another manager first, "
                              "or nobody could manage accounts any more.")
        assignments = ", ".join(f"{column} = ?" for column in sets)
        uow.execute(f"UPDATE users SET {assignments}, updated_at = ? WHERE username = ?",
                    [*sets.values(), now or utcnow(), username])
        account = get_account(uow.cursor, username)
        uow.commit()
    return account


def set_role(store: Store, username: str, role: Role | str, actor: Actor, now: datetime | None = None) -> Account:
    role = _parse_role(role)
    return _change(store, username, actor, now, {"role": role.value}, removes_manager=role is not Role.MANAGER)


def set_disabled(store: Store, username: str, disabled: bool, actor: Actor,
                 now: datetime | None = None) -> Account:
    """Disable (or enable) an account. A disabled person is signed out on their next rerun."""
    return _change(store, username, actor, now, {"disabled": bool(disabled)}, removes_manager=bool(disabled))


def set_password(store: Store, username: str, password: str | None, actor: Actor,
                 now: datetime | None = None) -> Account:
    """A manager sets (or resets) someone's password; `None` leaves the account OIDC-only."""
    password_hash = NO_PASSWORD if password is None else hash_password(password)
    return _change(store, username, actor, now, {"password_hash": password_hash}, removes_manager=False)


def change_own_password(store: Store, actor: Actor, current: str, new: str, now: datetime | None = None) -> None:
    """Anyone signed in may change their own password, proving the current one first."""
    check_password_policy(new)
    with store.read() as cur:
        row = cur.execute("SELECT password_hash FROM users WHERE username = ? AND NOT disabled",
                          [actor.username]).fetchone()
    if row is None or not verify_password(current, row[0]):
        raise SignInRefused("The current password is wrong.")
    new_hash = hash_password(new)
    with store.unit_of_work() as uow:
        uow.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?",
                    [new_hash, now or utcnow(), actor.username])
        uow.commit()


# -- signing in -------------------------------------------------------------------------------------

def throttle_delay(cur, username: str, now: datetime) -> timedelta:
    """How long this username must wait before its next try (zero if it may try now)."""
    failures, last_failure = cur.execute(
        """SELECT count(*), max("at") FROM sign_in_attempts
           WHERE username = $u AND NOT ok AND "at" > $since
             AND "at" > coalesce((SELECT max("at") FROM sign_in_attempts WHERE username = $u AND ok),
                                 TIMESTAMP '1970-01-01')""",
        {"u": username, "since": now - FAILURE_WINDOW}).fetchone()
    if failures < FREE_FAILURES:
        return timedelta(0)
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (failures - FREE_FAILURES))
    return max(timedelta(0), last_failure + delay - now)


def _record(store: Store, username: str, ok: bool, now: datetime) -> None:
    with store.unit_of_work() as uow:
        uow.execute('INSERT INTO sign_in_attempts (username, "at", ok) VALUES (?, ?, ?)', [username, now, ok])
        uow.commit()


def sign_in(store: Store, username: str, password: str, now: datetime | None = None) -> Actor:
    """Check a username and password. Returns the signed-in person; raises SignInRefused (wrong, disabled)
    or SignInThrottled (too many recent failures — the password is then not even checked)."""
    now = now or utcnow()
    name = (username or "").strip().lower()[:100]
    if not name:
        raise SignInRefused("Enter your username and password.")
    with store.read() as cur:
        wait = throttle_delay(cur, name, now)
        row = cur.execute("SELECT password_hash, role, disabled FROM users WHERE username = ?", [name]).fetchone()
    if wait > timedelta(0):
        raise SignInThrottled(name, wait)
    if row is None:
        _burn_time(password)
        ok = False
    else:
        ok = verify_password(password, row[0])
    if not ok:
        _record(store, name, False, now)
        raise SignInRefused(WRONG_CREDENTIALS)
    if row[2]:
        _record(store, name, False, now)
        raise SignInRefused("This account is disabled. Ask a manager to enable it.")
    _record(store, name, True, now)
    return Actor(username=name, role=Role(row[1]))


def sign_in_external(store: Store, identity: dict, now: datetime | None = None) -> Actor:
    """Map a person signed in through the OIDC provider (st.login) to their local account, which gives the
    role. The account is found by e-mail, then by the provider's username claim. Unknown people are refused,
    not let in as viewers: a viewer still sees customer data, and a provider may admit anyone with an account
    there. A manager adds them first (`python -m exq_core user add their@email --role viewer --no-password`)."""
    now = now or utcnow()
    candidates = [str(identity.get(k) or "").strip().lower() for k in ("email", "preferred_username")]
    candidates = [c[:100] for c in candidates if c]
    if identity.get("email") and identity.get("email_verified") is False:
        candidates = candidates[1:]
    with store.read() as cur:
        for name in candidates:
            account = get_account(cur, name)
            if account is not None:
                break
        else:
            account = None
    if account is None:
        who = candidates[0] if candidates else "this identity"
        raise SignInRefused(f"{who} has no exq account. Ask a manager to add it "
                            f"(python -m exq_core user add {who} --role viewer --no-password).")
    if account.disabled:
        _record(store, account.username, False, now)
        raise SignInRefused("This account is disabled. Ask a manager to enable it.")
    _record(store, account.username, True, now)
    return account.actor()


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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"exq first sign-in\nusername: {username}\npassword: {password}\n"
                 "Change it after signing in (sidebar: Change password), then delete this file.\n")
    return username, password, path
