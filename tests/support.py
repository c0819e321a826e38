"""What tests share, besides fixtures: the repository root, the fixed clock, the test accounts, and an
AppTest of the signed-in dashboard. (Fixtures live in conftest.py files; helpers live in modules like this.)"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from exq_core.models import Actor, Role

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NOW = datetime(2026, 11, 27, 12, 0, 0)
TEST_PASSWORD = "exq-test-password"
ACCOUNTS = {"maria": Role.MANAGER, "sam": Role.REVIEWER, "vic": Role.VIEWER}
DEMO_ORDERS = 12000
DEMO_BACKLOG = 0.3     # a team behind on its work: every state and age band has cases in the queue


def app_test(actor: Actor | None = None, page: str | None = None, timeout: float = 60):
    """An AppTest of the dashboard signed in as `actor` (None: nobody), run once, then switched to `page`.
    Use with the `app_env` fixture."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    if page:
        at.switch_page(page).run()
    return at
