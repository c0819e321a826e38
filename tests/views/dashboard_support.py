"""Helpers for the Overview and Queue page tests: a signed-in AppTest session and a frozen clock."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from exq_core.models import SYSTEM, Actor
from exq_core.store import open_store, utcnow

ROOT = Path(__file__).resolve().parents[2]


def add_account(db: Path, actor: Actor) -> None:
    """The sign-in gate re-checks the signed-in account on every rerun, so it must exist."""
    from exq_core import auth
    with open_store(db) as store:
        with store.read() as cur:
            if cur.execute("SELECT count(*) FROM users WHERE username = ?", [actor.username]).fetchone()[0]:
                return
        auth.add_user(store, actor.username, "dashboard-test-password", actor.role, SYSTEM)


def session(db: Path, actor: Actor, page: str | None = None, params: dict | None = None) -> AppTest:
    """An AppTest browser session signed in as `actor`, opened on `page` with query `params`."""
    add_account(db, actor)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = actor
    if page is None:
        for key, value in (params or {}).items():
            at.query_params[key] = value
        return at.run()
    at.run()
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.switch_page(page).run()


@pytest.fixture
def frozen_now(monkeypatch) -> datetime:
    """One `now` for the page, the CLI and the test's own queries, so time-dependent numbers
    (breached, ages, urgency) are compared at the same instant."""
    now = utcnow().replace(second=0, microsecond=0)
    import exq_core.cli
    import exq_core.store
    import ui.data
    import ui.review
    import exq_core.services
    for module in (exq_core.store, exq_core.cli, exq_core.services, ui.data, ui.review):
        monkeypatch.setattr(module, "utcnow", lambda: now)
    return now


def cli_stats(db: Path, capsys) -> dict:
    """`python -m exq_core stats --json --db DB`, run in this process (so it shares the frozen clock)."""
    from exq_core.cli import main
    capsys.readouterr()
    assert main(["stats", "--json", "--db", str(db)]) == 0
    return json.loads(capsys.readouterr().out)


def vega_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}
