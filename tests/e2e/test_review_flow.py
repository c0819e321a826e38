"""A reviewer's whole loop in a real browser: take the top case, try to resolve it without evidence (refused,
message on screen), resolve it with evidence and a reason, land on the next case, then find the decision in
Insights and in the database."""
from __future__ import annotations

import re
import uuid

import pytest

from exq_core.models import State
from exq_core.store import open_store
from tests.browser import sign_in, wait_for_app
from tests.e2e.support import case_in_url, choose

pytestmark = pytest.mark.e2e


def test_review_flow_end_to_end(demo_db, running_app, page, artifacts):
    page.set_viewport_size({"width": 1440, "height": 2000})   # tall: the whole page in each screenshot
    sign_in(page, running_app.url + "/review", username="sam")
    page.get_by_role("button", name="Take the next case").wait_for()
    page.screenshot(path=str(artifacts / "review-landing.png"), full_page=True)

    page.get_by_role("button", name="Take the next case").click()
    page.wait_for_url(re.compile(r"case=\d+"))
    wait_for_app(page)
    first = case_in_url(page)
    page.get_by_role("heading", name=re.compile(f"Case {first} ")).wait_for()
    page.get_by_text("AI suggestion").wait_for()

    # Accept the suggestion, then resolve without evidence: refused, the reason on screen, same case.
    page.get_by_role("button", name=re.compile(r"^Accept: ")).click()
    wait_for_app(page)
    page.get_by_text("Accepting the suggestion").wait_for()
    choose(page, f"rv_{first}_reason")
    page.get_by_role("button", name="Save decision").click()
    wait_for_app(page)
    refusal = page.get_by_text("Nothing closes without evidence")
    refusal.wait_for()
    assert case_in_url(page) == first
    page.screenshot(path=str(artifacts / "review-refused-no-evidence.png"), full_page=True)

    # With evidence: saved, a toast, and the next case opens.
    evidence = f"Tracking 1Z-E2E-{uuid.uuid4().hex[:10]}"
    page.locator(f".st-key-rv_{first}_evidence input").fill(evidence)
    page.get_by_role("button", name="Save decision").click()
    page.wait_for_url(lambda url: f"case={first}" not in url)
    wait_for_app(page)
    second = case_in_url(page)
    assert second != first
    page.get_by_role("heading", name=re.compile(f"Case {second} ")).wait_for()
    page.get_by_text(f"Case {first} resolved").first.wait_for()
    page.screenshot(path=str(artifacts / "review-next-case.png"), full_page=True)

    # Insights: the decision log finds it by its evidence.
    page.get_by_role("link", name="Insights").click()
    wait_for_app(page)
    page.get_by_role("heading", name="Decision log").wait_for()
    page.locator(".st-key-in_log_text input").fill(evidence)
    page.locator(".st-key-in_log_text input").press("Enter")
    wait_for_app(page)
    page.get_by_text("1 decision matches").wait_for()
    page.get_by_role("heading", name="Decision log").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "insights-decision-found.png"), full_page=True)

    # And in the database (the app owns the file while it runs: stop it first).
    running_app.stop()
    with open_store(demo_db) as store:
        with store.read() as cur:
            rows = cur.execute("SELECT reviewer, from_state, to_state, resolution_reason, evidence, verdict "
                               "FROM decisions WHERE case_id = ? AND decided_at > now()::TIMESTAMP - INTERVAL '1 hour'",
                               [first]).fetchall()
            state, assignee = cur.execute("SELECT state, assignee FROM cases WHERE case_id = ?", [first]).fetchone()
            second_holder = cur.execute("SELECT assignee FROM cases WHERE case_id = ?", [second]).fetchone()[0]
    assert len(rows) == 1                                   # the refused attempt wrote nothing
    reviewer, from_state, to_state, reason, stored_evidence, verdict = rows[0]
    assert (reviewer, to_state, stored_evidence) == ("sam", "resolved", evidence)
    assert from_state in ("in_review", "escalated")         # claimed on open: a new case went into review
    assert reason and verdict == "accepted"                # the person pressed Accept: recorded as such
    assert state == State.RESOLVED.value
    assert second_holder == "sam"                           # the next case was claimed on open
