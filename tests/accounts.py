"""Accounts for the people a test acts as: every write re-reads the acting person's account, so they exist."""
from __future__ import annotations

from exq_core import auth
from exq_core.models import SYSTEM, Actor

PASSWORD = "exq-test-password"


def ensure_accounts(store, *actors: Actor) -> None:
    with store.read() as cur:
        known = {r[0] for r in cur.execute("SELECT username FROM users").fetchall()}
    for actor in actors:
        if actor.username not in known:
            auth.add_user(store, actor.username, PASSWORD, actor.role, SYSTEM)
