"""The decision record tells the truth, in a real browser against a local model server (tests/ai_server.py):

* the form starts with no action: saving without one is refused and writes nothing; another action than the
  suggested one needs an override note; Accept records 'accepted' with the very suggestion on screen;
* a model that hangs costs the reviewer nothing: the facts and the form are there at once, the suggestion
  falls back to the offline assistant within its budget, and stays as shown across reruns."""
from __future__ import annotations

import itertools
import re
import time

import pytest

from exq_core.assist.storage import GRACE_S
from exq_core.models import actions_for
from exq_core.store import open_store
from tests.ai_server import FakeOpenAI, answer, slow
from tests.browser import RunningApp, sign_in, wait_for_app
from tests.e2e.support import case_in_url, choose

pytestmark = pytest.mark.e2e

SUMMARY = re.compile(r"^Model answer number \d+\.$")


def numbered_answers():
    """A model whose every answer has its own summary: the record must name the one that was on screen."""
    count = itertools.count(1)
    return lambda body: answer(summary=f"Model answer number {next(count)}.")(body)


def new_cases(db, n: int) -> list[tuple[int, str, list[str]]]:
    with open_store(db) as store, store.read() as cur:
        return [(r[0], r[1], list(r[2])) for r in cur.execute(
            "SELECT case_id, bucket, flags FROM cases WHERE state = 'new' ORDER BY case_id LIMIT ?", [n]).fetchall()]


def decisions(db, case_id: int) -> list[dict]:
    with open_store(db) as store, store.read() as cur:
        return cur.execute("""SELECT d.verdict, d.action, d.suggested_action, d.suggestion_source, d.override_note,
                                     d.to_state, s.summary
                              FROM decisions d LEFT JOIN suggestions s USING (suggestion_id)
                              WHERE d.case_id = ? ORDER BY d.decision_id""", [case_id]).dicts()


def suggestion_on_screen(page) -> tuple[str, str]:
    """(summary, action) of the suggestion the page shows, once it is there."""
    page.get_by_role("button", name="Ask again").wait_for(timeout=20_000)
    summary = page.get_by_text(SUMMARY).inner_text()
    action = page.get_by_role("button", name=re.compile(r"^Accept: ")).inner_text().split("Accept: ", 1)[1]
    return summary, action.split("\n")[0].strip()


def save(page):
    page.get_by_role("button", name="Save decision").click()
    wait_for_app(page)


def test_the_verdict_records_what_the_reviewer_did(demo_db, page, artifacts):
    (overridden, bucket, flags), (accepted, _, _) = new_cases(demo_db, 2)
    with FakeOpenAI(numbered_answers()) as model:
        app = RunningApp(demo_db, env=model.env())
        try:
            page.set_viewport_size({"width": 1440, "height": 1800})
            sign_in(page, f"{app.url}/review?case={overridden}", "sam")
            summary, suggested = suggestion_on_screen(page)

            # Nothing chosen: refused, said why, still on the case.
            choose(page, f"rv_{overridden}_to_state", "Escalate")
            save(page)
            page.get_by_text("Not saved — No action chosen: press Accept to take the suggested action, or choose "
                             "an action in the form.").wait_for()
            assert case_in_url(page) == overridden
            page.screenshot(path=str(artifacts / "verdict-no-action-refused.png"), full_page=True)

            # Another action without an override note: refused, naming the note.
            other = next(a for a in actions_for(bucket, flags) if a != suggested)
            choose(page, f"rv_{overridden}_action", other)
            save(page)
            page.get_by_text("Not saved — Overriding the suggestion needs an override note: say why.").wait_for()
            page.get_by_text("Overriding the suggestion: choose the action you prefer").wait_for()
            assert case_in_url(page) == overridden
            page.screenshot(path=str(artifacts / "verdict-override-needs-note.png"), full_page=True)

            # With the note: saved, and the next case opens.
            page.locator(f".st-key-rv_{overridden}_override_note textarea").fill("The customer asked us to wait.")
            page.get_by_role("button", name="Save decision").click()
            page.wait_for_url(lambda url: f"case={overridden}" not in url)
            wait_for_app(page)

            # Accept on another case: the suggested action, recorded as accepted.
            page.goto(f"{app.url}/review?case={accepted}")
            wait_for_app(page)
            accepted_summary, accepted_action = suggestion_on_screen(page)
            page.get_by_role("button", name=f"Accept: {accepted_action}").click()
            wait_for_app(page)
            page.get_by_text(f"Accepting the suggestion ({accepted_action}).").wait_for()
            choose(page, f"rv_{accepted}_to_state", "Escalate")
            page.screenshot(path=str(artifacts / "verdict-accepting.png"), full_page=True)
            page.get_by_role("button", name="Save decision").click()
            page.wait_for_url(lambda url: f"case={accepted}" not in url)
            wait_for_app(page)
        finally:
            app.stop()

    assert decisions(demo_db, overridden) == [{                 # the two refused saves wrote nothing
        "verdict": "overridden", "action": other, "suggested_action": suggested, "suggestion_source": "model",
        "override_note": "The customer asked us to wait.", "to_state": "escalated", "summary": summary}]
    assert decisions(demo_db, accepted) == [{
        "verdict": "accepted", "action": accepted_action, "suggested_action": accepted_action,
        "suggestion_source": "model", "override_note": None, "to_state": "escalated", "summary": accepted_summary}]
    assert summary != accepted_summary                           # each record names its own suggestion


AI_BUDGET_S = 4


def test_a_hanging_model_never_holds_up_the_form(demo_db, page, artifacts):
    [(case_id, _, _)] = new_cases(demo_db, 1)
    with FakeOpenAI(slow(600)) as model:                        # accepts the request, never answers
        app = RunningApp(demo_db, env=model.env(EXQ_AI_TIMEOUT_S=str(AI_BUDGET_S)))
        try:
            page.set_viewport_size({"width": 1440, "height": 1800})
            sign_in(page, f"{app.url}/review", "sam")          # signed in; the cookie opens the case below
            page.get_by_role("button", name="Take the next case").wait_for()

            started = time.monotonic()
            page.goto(f"{app.url}/review?case={case_id}")
            page.locator(f".st-key-rv_{case_id}_action").wait_for()
            page.get_by_role("heading", name="Order facts").wait_for()
            page.locator("[data-testid='stDataFrame']").first.wait_for()
            usable = time.monotonic() - started
            asking = page.get_by_text(re.compile(r"^Asking model fake-model at .*The decision form works meanwhile"))
            asking.wait_for(timeout=1_000)
            print(f"\nhanging model: facts and decision form usable {usable:.2f} s after navigation")
            page.screenshot(path=str(artifacts / "verdict-hanging-model-asking.png"), full_page=True)
            assert usable <= 3, f"the form took {usable:.2f} s with a hanging model"

            # The form works meanwhile: choosing an action reruns the page without waiting for the model.
            choose(page, f"rv_{case_id}_to_state", "Escalate")

            fallback = page.get_by_text("Offline assistant, because the AI model failed")
            fallback.wait_for(timeout=(AI_BUDGET_S + GRACE_S + 6) * 1000)
            settled = time.monotonic() - started
            print(f"hanging model: offline fallback on screen {settled:.2f} s after navigation "
                  f"(budget {AI_BUDGET_S} s + {GRACE_S:g} s grace)")
            assert settled <= AI_BUDGET_S + GRACE_S + 3
            wait_for_app(page)
            shown = page.get_by_role("button", name=re.compile(r"^Accept: ")).inner_text()
            panel = page.locator(".st-key-rv_suggestion")
            summary = panel.inner_text()
            asked = len(model.requests)
            assert 1 <= asked <= 2                                # one request (a retry at most), then it stopped
            page.screenshot(path=str(artifacts / "verdict-hanging-model-fallback.png"), full_page=True)

            for _ in range(3):                                    # reruns: the suggestion on screen stays
                page.get_by_role("button", name="Override").click()
                wait_for_app(page)
                choose(page, f"rv_{case_id}_to_state", "Escalate")
                assert page.get_by_role("button", name=re.compile(r"^Accept: ")).inner_text() == shown
                assert panel.inner_text() == summary
            assert len(model.requests) == asked                   # and the model was not asked again
        finally:
            app.stop()
