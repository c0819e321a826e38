"""Failed sign-ins are throttled per account and per address, atomically, before any password is checked.

Each try first reserves a slot in `sign_in_throttle` inside one transaction (so ten parallel tries count as
ten), and is refused — without paying for bcrypt — when either key is over its limit:

* per address (`ip:…`): ADDRESS_FREE failures in WINDOW, then that address waits for the window to pass;
* per account (`user:…`): ACCOUNT_FREE failures in WINDOW, then a delay that doubles with each further
  failure but never exceeds ACCOUNT_MAX_DELAY, so the account's owner, signing in from another address,
  is never locked out for longer than a short wait.

A success clears the account's count and gives the address its slot back. Rows older than the window are pruned as tries come.
"""
from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
ACCOUNT_FREE = 5
ACCOUNT_BASE_DELAY = timedelta(seconds=5)
ACCOUNT_MAX_DELAY = timedelta(seconds=60)
ADDRESS_FREE = 20


def keys(username: str, address: str | None) -> list[str]:
    return [f"user:{username}", f"ip:{address or 'unknown'}"]


def _wait(key: str, failures: int, window_start: datetime, last_failure: datetime, now: datetime) -> timedelta:
    if key.startswith("user:"):
        if failures < ACCOUNT_FREE:
            return timedelta(0)
        delay = min(ACCOUNT_MAX_DELAY, ACCOUNT_BASE_DELAY * 2 ** (failures - ACCOUNT_FREE))
        return max(timedelta(0), last_failure + delay - now)
    if failures < ADDRESS_FREE:
        return timedelta(0)
    return max(timedelta(0), window_start + WINDOW - now)


def reserve(uow, username: str, address: str | None, now: datetime) -> tuple[timedelta, str | None]:
    """Inside a unit of work: refuse (return the wait and which key) or count this try as a failure until it
    succeeds. Counting first is what makes parallel tries count."""
    cur = uow.cursor
    cur.execute("DELETE FROM sign_in_throttle WHERE last_failure < $cutoff", {"cutoff": now - WINDOW})
    rows = {}
    for key in keys(username, address):
        cur.execute("INSERT INTO sign_in_throttle (key, failures, window_start, last_failure) VALUES (?, 0, ?, ?) "
                    "ON CONFLICT (key) DO NOTHING", [key, now, now])
        rows[key] = cur.execute(f"SELECT failures, window_start, last_failure FROM sign_in_throttle WHERE key = ?"
                                f"{cur.dialect.for_update}", [key]).fetchone()
    for key, (failures, window_start, last_failure) in rows.items():
        wait = _wait(key, failures, window_start, last_failure, now)
        if wait > timedelta(0):
            return wait, key
    for key, (failures, window_start, _) in rows.items():
        if now - window_start > WINDOW:
            cur.execute("UPDATE sign_in_throttle SET failures = 1, window_start = ?, last_failure = ? WHERE key = ?",
                        [now, now, key])
        else:
            cur.execute("UPDATE sign_in_throttle SET failures = failures + 1, last_failure = ? WHERE key = ?",
                        [now, key])
    return timedelta(0), None


def succeeded(uow, username: str, address: str | None) -> None:
    """A success clears the account's count and gives back the address's reserved slot (an office behind one
    address signs many people in)."""
    user_key, address_key = keys(username, address)
    uow.execute("DELETE FROM sign_in_throttle WHERE key = ?", [user_key])
    uow.execute("UPDATE sign_in_throttle SET failures = greatest(failures - 1, 0) WHERE key = ?", [address_key])
