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


def reviewer_click(store, actor: Actor, rnd, case_ids: list[int], tag: str) -> tuple[str, int, int | None]:
    """One click of a reviewer working cases at random, as in a browser: read a case, then claim it or move
    it on from the version read. Returns ("claim" | "decide", case_id, the version it won) — or
    ("claim only", case_id, None) for a claim that did not move the state (it keeps the version). Raises the
    guardrail refusals (StaleCase, CaseClaimed, TransitionNotAllowed) for the caller to count.
    Shared by the thread and the process concurrency tests."""
    from datetime import timedelta

    from exq_core import services
    from exq_core.models import DecisionRequest, State

    case = services.get_case(store, rnd.choice(case_ids))
    if case.state in (State.NEW, State.WAITING) or (case.state is State.ESCALATED and rnd.random() < 0.3):
        after = services.claim(store, case.case_id, actor, NOW)
        with store.read() as cur:   # this reviewer's own claim event says if the state moved
            moved = cur.execute("SELECT from_state <> to_state FROM events WHERE case_id = ? AND actor = ? "
                                "ORDER BY event_id DESC LIMIT 1", [case.case_id, actor.username]).fetchone()[0]
        # a state change (new/waiting → in_review) won the version it moved from, which may be newer than
        # the one read above
        return ("claim", case.case_id, after.version - 1) if moved else ("claim only", case.case_id, None)
    if case.state is State.IN_REVIEW:
        to_state = rnd.choice([State.ESCALATED, State.WAITING, State.RESOLVED])
    elif case.state is State.ESCALATED:
        to_state = rnd.choice([State.IN_REVIEW, State.RESOLVED])
    else:
        to_state = State.IN_REVIEW
    extra = {}
    if to_state is State.RESOLVED:
        extra = {"resolution_reason": "reconciled_with_psp", "evidence": f"PSP txn {tag}"}
    elif to_state is State.WAITING:
        extra = {"follow_up_at": NOW + timedelta(hours=1)}
    elif case.state is State.RESOLVED:
        extra = {"note": "reopened in a concurrency test"}
    out = services.decide(store, DecisionRequest(case_id=case.case_id, case_version=case.version,
                                                 to_state=to_state, **extra), actor, NOW)
    assert out.case.version == case.version + 1
    return "decide", case.case_id, case.version
