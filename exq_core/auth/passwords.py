"""Passwords: a policy, bcrypt hashes (salted, slow), and checks that never raise on bad input.
No function here logs, stores or raises with a plaintext password in it."""
from __future__ import annotations

import secrets

import bcrypt

from ..errors import ExqError

DEFAULT_BCRYPT_ROUNDS = 12          # ~0.25 s per hash on a 2-core machine: slow for guessing, fine for people
BCRYPT_ROUNDS = DEFAULT_BCRYPT_ROUNDS   # tests lower this to 4; hashes carry their own cost, so both verify
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72             # bcrypt reads no further; refuse rather than silently truncate
NO_PASSWORD = "!"                   # an account that signs in only through the identity provider


class AuthError(ExqError):
    """A refused account change or sign-in. `str(err)` never contains a password."""


class AccountInvalid(AuthError):
    pass


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


def burn_time(password: str) -> None:
    """Spend as long as a real check, so an unknown username is not told apart by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = bcrypt.hashpw(b"exq-no-such-user", bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")
    verify_password(password or "x", _dummy_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(12)
