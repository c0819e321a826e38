"""The decision record tells the truth (issue: explicit accept, a pinned suggestion, a page that never waits
for the model, checks at the write) — through the Review page in AppTest, against a local model server."""
from __future__ import annotations

import time

import pytest

from exq_core import assist, auth, services
from exq_core.errors import NotPermitted
from exq_core.models import SYSTEM, Actor, DecisionRequest, Role, State, reasons_for
from exq_core.rules import load_rules
from tests.ai_server import FakeOpenAI, answer, sequence, slow
from tests.views.review_support import counts, session

SAM = Actor(username="sam", role=Role.REVIEWER)


@pytest.fixture
def db(app_env):
    return app_env


@pytest.fixture
def store(db, demo_store):
    return demo_store


def new_case(store) -> int:
    with store.read() as cur:
        return cur.scalar("SELECT case_id FROM cases WHERE state = 'new' ORDER BY case_id LIMIT 1")


def decisions(store, case_id):
    with store.read() as cur:
        return cur.execute("SELECT verdict, action, suggestion_id, suggested_action, suggestion_source "
                           "FROM decisions WHERE case_id = ? ORDER BY decision_id", [case_id]).fetchall()


def model_env(monkeypatch, server, **extra):
    for name, value in server.env(**extra).items():
        monkeypatch.setenv(name, value)


def settle(at, seconds: float = 15):
    """Rerun until the background suggestion is on screen (a browser's fragment polls; AppTest reruns)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        at.run()
        if any(b.key == "rv_ask_again" for b in at.button):
            return at
        time.sleep(0.2)
    raise AssertionError("the suggestion never arrived")


def resolve_inputs(at, case_id, bucket):
    at.selectbox(key=f"rv_{case_id}_to_state").set_value("resolved")
    at.selectbox(key=f"rv_{case_id}_reason").set_value(reasons_for(bucket)[0])
    at.text_input(key=f"rv_{case_id}_evidence").input("PSP txn pi_3QTRUTH001")
    return at


def test_a_hanging_model_leaves_the_form_usable_at_once(db, store, monkeypatch):
    cid = new_case(store)
    bucket = services.get_case(store, cid).bucket
    with FakeOpenAI(slow(30)) as server:
        model_env(monkeypatch, server, EXQ_AI_TIMEOUT_S="8")
        started = time.monotonic()
        at = session(db, SAM, case_id=cid)
        opened = time.monotonic() - started
        assert not at.exception
        assert opened < 6, f"the page took {opened:.1f} s with a hanging model"
        assert any(f"rv_{cid}_action" == s.key for s in at.selectbox)          # the form is there
        assert any("Asking model" in i.value for i in at.info)                  # the suggestion is on its way
        # decide before the model answers: no suggestion was on screen, so none is recorded
        at.selectbox(key=f"rv_{cid}_action").set_value(at.selectbox(key=f"rv_{cid}_action").options[0])
        resolve_inputs(at, cid, bucket)
        at.button(key="rv_save").click().run()
    assert not [e.value for e in at.error]
    [(verdict, action, sid, suggested, source)] = decisions(store, cid)
    assert (verdict, sid, suggested, source) == ("no_suggestion", None, None, None)


def test_accept_records_that_very_suggestion_and_the_figures_count_it_as_the_models(db, store, monkeypatch):
    cid = new_case(store)
    bucket = services.get_case(store, cid).bucket
    with FakeOpenAI(answer()) as server:
        model_env(monkeypatch, server)
        at = settle(session(db, SAM, case_id=cid))
        shown = assist.lookup(store, services_case(store, cid), assist.AIConfig(**server.config()))
        assert shown.source == "model" and shown.summary in [t.value for t in at.text]
        at.button(key="rv_accept").click().run()
        assert at.selectbox(key=f"rv_{cid}_action").value == shown.action
        resolve_inputs(at, cid, bucket).button(key="rv_save").click().run()
    assert decisions(store, cid) == [("accepted", shown.action, shown.suggestion_id, shown.action, "model")]


def test_choosing_the_suggested_action_yourself_is_accepting_it(db, store):
    cid = new_case(store)
    bucket = services.get_case(store, cid).bucket
    at = session(db, SAM, case_id=cid)
    suggested = next(t.value for t in at.text if t.value in at.selectbox(key=f"rv_{cid}_action").options)
    at.selectbox(key=f"rv_{cid}_action").set_value(suggested)
    resolve_inputs(at, cid, bucket).button(key="rv_save").click().run()
    assert decisions(store, cid)[0][:2] == ("accepted", suggested)


def services_case(store, case_id):
    from exq_core import queries
    with store.read() as cur:
        return queries.case_detail(cur, load_rules(), case_id, __import__("exq_core.store", fromlist=["utcnow"]).utcnow())


def test_the_suggestion_on_screen_stays_until_the_person_asks_again(db, store, monkeypatch):
    """A model that would answer differently each time: reruns never swap the suggestion under the reviewer;
    Ask again does, and the decision records the one on screen."""
    cid = new_case(store)
    bucket = services.get_case(store, cid).bucket
    replies = sequence(answer("request_more_info", summary="First answer."),
                       answer("escalate_to_manager", summary="Second answer."))
    with FakeOpenAI(replies) as server:
        model_env(monkeypatch, server)
        at = settle(session(db, SAM, case_id=cid))
        assert "First answer." in [t.value for t in at.text]
        for _ in range(3):
            at.run()
        assert "First answer." in [t.value for t in at.text] and len(server.requests) == 1
        at.button(key="rv_ask_again").click().run()
        at = settle(at)
        texts = [t.value for t in at.text]
        assert "Second answer." in texts and "First answer." not in texts and len(server.requests) == 2
        at.button(key="rv_accept").click().run()
        at.text_area(key=f"rv_{cid}_override_note").input("")
        resolve_inputs(at, cid, bucket).button(key="rv_save").click().run()
    (verdict, action, _, suggested, source) = decisions(store, cid)[0]
    assert (verdict, action, suggested, source) == ("accepted", "escalate_to_manager", "escalate_to_manager", "model")


def test_a_precomputed_suggestion_is_the_one_shown_after_the_claim(db, store, monkeypatch):
    with FakeOpenAI(answer(summary="Precomputed.")) as server:
        model_env(monkeypatch, server)
        config = assist.AIConfig(**server.config())
        report = assist.precompute(store, load_rules(), limit=40, config=config)
        asked = len(server.requests)
        assert report.made == asked == 40
        with store.read() as cur:
            top = cur.execute("SELECT case_id FROM suggestions WHERE summary = 'Precomputed.' AND case_id IN "
                              "(SELECT case_id FROM cases WHERE state = 'new') ORDER BY case_id LIMIT 1").fetchone()
        assert top, "a precomputed case is still new"
        at = session(db, SAM, case_id=top[0])                 # opening claims it: new -> in_review, version + 1
        assert services.get_case(store, top[0]).state is State.IN_REVIEW
        assert "Precomputed." in [t.value for t in at.text]
        assert len(server.requests) == asked                 # not asked again


@pytest.mark.parametrize("change", ["demoted", "disabled"])
def test_a_pending_click_after_a_demotion_or_disable_is_refused_at_the_write(db, store, change):
    cid = new_case(store)
    bucket = services.get_case(store, cid).bucket
    at = session(db, SAM, case_id=cid)                        # the form was drawn for a reviewer
    at.button(key="rv_accept").click().run()
    resolve_inputs(at, cid, bucket)
    if change == "demoted":
        auth.set_role(store, "sam", Role.VIEWER, SYSTEM)
    else:
        auth.set_disabled(store, "sam", True, SYSTEM)
    before = counts(store)
    at.button(key="rv_save").click().run()
    assert counts(store) == before                            # nothing written
    assert services.get_case(store, cid).state is not State.RESOLVED


@pytest.mark.parametrize("change", ["demoted", "disabled"])
def test_the_library_refuses_a_stale_permission_inside_the_write(store, change):
    cid = new_case(store)
    case = services.claim(store, cid, SAM)
    if change == "demoted":
        auth.set_role(store, "sam", Role.VIEWER, SYSTEM)
    else:
        auth.set_disabled(store, "sam", True, SYSTEM)
    with pytest.raises(NotPermitted, match="viewer|disabled"):
        services.decide(store, DecisionRequest(case_id=cid, case_version=case.version, to_state=State.ESCALATED,
                                               action="escalate_to_manager"), SAM)
    with pytest.raises(NotPermitted):
        services.claim(store, new_case(store), SAM)


def test_a_base_url_without_a_key_is_reported_on_the_page(db, store, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    at = session(db, SAM, case_id=new_case(store))
    assert any("OPENAI_API_KEY" in w.value for w in at.warning)
