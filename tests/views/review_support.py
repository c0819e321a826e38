"""Helpers shared by the review, insights and bulk tests: accounts, AppTest sessions, fresh reads."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from exq_core import queries, services
from exq_core.models import SYSTEM, Actor, Case
from exq_core.rules import load_rules
from exq_core.store import open_store, Store, utcnow

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "review-flow-password-42"


def add_accounts(db: Path, *actors: Actor, password: str | None = None) -> None:
    """Create the accounts the sign-in gate re-checks on every rerun (no-op for ones that exist)."""
    from exq_core import auth
    with open_store(db) as store:
        with store.read() as cur:
            known = {r[0] for r in cur.execute("SELECT username FROM users").fetchall()}
        for actor in actors:
            if actor.username not in known:
                auth.add_user(store, actor.username, password, actor.role, SYSTEM)


def session(db: Path, actor: Actor, page: str = "views/review.py", case_id: int | None = None) -> AppTest:
    """An AppTest browser session signed in as `actor`, on `page` (optionally ?case=<id>)."""
    add_accounts(db, actor)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = actor
    if case_id is not None:
        at.query_params["case"] = str(case_id)
    at.run()
    at.switch_page(page).run()
    return at


def read_case(db_store: Store, case_id: int) -> Case:
    return services.get_case(db_store, case_id)


def counts(store: Store) -> tuple[int, int]:
    """(events, decisions): nothing-written checks compare these before and after."""
    with store.read() as cur:
        return cur.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM decisions)").fetchone()


def top_unclaimed(store: Store) -> int:
    with store.read() as cur:
        return queries.next_unclaimed(cur, load_rules(), utcnow())
