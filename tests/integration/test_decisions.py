"""Decisions through the use cases on a real database (SPEC §4): what a decision writes, and that every
refusal writes nothing at all."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from exq_core import queries, services
from exq_core.errors import (ActionNotAllowed, CaseClaimed, CaseNotFound, EvidenceRequired, FollowUpRequired,
                             NoteRequired, NotPermitted, ReasonNotAllowed, StaleCase, TransitionNotAllowed)
from exq_core.ingest import import_file
from exq_core.models import Actor, DecisionRequest, Role, State, SuggestionRef
from exq_core.rules import DEFAULT_RULES_PATH, load_rules

from tests.accounts import ensure_accounts

from tests.feeds import snapshot

NOW = datetime(2026, 11, 27, 12, 0, 0)
RULES = load_rules(DEFAULT_RULES_PATH)
LEE = Actor(username="lee", role=Role.REVIEWER)


@pytest.fixture
def cases(store, feed):
    """Three open payment cases: {name: case_id}."""
    ensure_accounts(store, LEE)
    import_file(store, feed([{"order_id": f"P{i}", "payment_status": "failed"} for i in range(3)]),
                rules=RULES, now=NOW)
    with store.read() as cur:
        ids = [r[0] for r in cur.execute("SELECT case_id FROM cases ORDER BY order_id").fetchall()]
    assert len(ids) == 3
    return dict(zip(("a", "b", "c"), ids))


def req(case, to_state, **kw) -> DecisionRequest:
    return DecisionRequest(**({"case_id": case.case_id, "case_version": case.version, "to_state": to_state} | kw))


def resolve_kw(**kw):
    return {"resolution_reason": "payment_captured", "evidence": "PSP txn pi_3Q55aa77", **kw}


def test_claim_then_resolve_writes_one_event_each_and_one_decision(store, cases, reviewer):
    before = snapshot(store)
    claimed = services.claim(store, cases["a"], reviewer, NOW)
    assert (claimed.state, claimed.assignee, claimed.version) == (State.IN_REVIEW, "sam", 2)
    suggestion = SuggestionRef(suggestion_id=5, action="capture_remaining", model="m", source="offline")
    out = services.decide(store, req(claimed, State.RESOLVED, action="capture_remaining", suggestion=suggestion,
                                     note="Captured.", **resolve_kw()), reviewer, NOW + timedelta(minutes=3))
    after = snapshot(store)
    assert after["events"][0] == before["events"][0] + 2
    assert after["decisions"][0] == before["decisions"][0] + 1
    assert out.case.state is State.RESOLVED and out.case.version == 3
    stored = services.get_case(store, cases["a"])
    assert stored.model_dump() == out.case.model_dump()
    assert (stored.resolution_reason, stored.resolved_at, stored.claimed_at) == \
        ("payment_captured", NOW + timedelta(minutes=3), None)
    with store.read() as cur:
        row = cur.execute("""SELECT case_id, case_version, reviewer, decided_at, suggestion_id, suggested_action,
                                    suggestion_source, action, verdict, resolution_reason, evidence, note,
                                    from_state, to_state, bucket FROM decisions WHERE decision_id = ?""",
                          [out.decision_id]).fetchone()
        events = cur.execute("""SELECT kind, actor, from_state, to_state FROM events WHERE case_id = ?
                                ORDER BY event_id""", [cases["a"]]).fetchall()
    assert row == (cases["a"], 2, "sam", NOW + timedelta(minutes=3), 5, "capture_remaining", "offline",
                   "capture_remaining", "accepted", "payment_captured", "PSP txn pi_3Q55aa77", "Captured.",
                   "in_review", "resolved", "payment_mismatch")
    assert events == [("opened", "system", None, "new"), ("claim", "sam", "new", "in_review"),
                      ("transition", "sam", "in_review", "resolved")]
    with store.read() as cur:
        assert queries.history(cur, cases["a"])["kind"].tolist().count("decision") == 1


def _claimed(store, case_id, actor):
    return services.claim(store, case_id, actor, NOW)


REFUSALS = {
    "stale version": (lambda c: req(c, State.ESCALATED, case_version=c.version - 1), "sam", StaleCase),
    "not allowed": (lambda c: req(c, State.NEW), "sam", TransitionNotAllowed),
    "no evidence": (lambda c: req(c, State.RESOLVED, **resolve_kw(evidence="  ")), "sam", EvidenceRequired),
    "short evidence": (lambda c: req(c, State.RESOLVED, **resolve_kw(evidence="1234567")), "sam", EvidenceRequired),
    "wrong reason": (lambda c: req(c, State.RESOLVED, **resolve_kw(resolution_reason="refunded")), "sam",
                     ReasonNotAllowed),
    "other without note": (lambda c: req(c, State.RESOLVED, **resolve_kw(resolution_reason="other")), "sam",
                           NoteRequired),
    "waiting without follow-up": (lambda c: req(c, State.WAITING), "sam", FollowUpRequired),
    "waiting in the past": (lambda c: req(c, State.WAITING, follow_up_at=NOW - timedelta(hours=1)), "sam",
                            FollowUpRequired),
    "override without note": (lambda c: req(c, State.ESCALATED, action="hold_fulfillment", suggestion=SuggestionRef(
        suggestion_id=1, action="contact_customer", model="m", source="offline")), "sam", NoteRequired),
    "action outside catalog": (lambda c: req(c, State.ESCALATED, action="issue_refund"), "sam", ActionNotAllowed),
    "viewer": (lambda c: req(c, State.ESCALATED), "vic", NotPermitted),
    "claimed by someone else": (lambda c: req(c, State.ESCALATED), "lee", CaseClaimed),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refusal_writes_nothing(store, cases, reviewer, name):
    make, who, error = REFUSALS[name]
    case = _claimed(store, cases["a"], reviewer)
    actor = {"sam": reviewer, "lee": LEE, "vic": Actor(username="vic", role=Role.VIEWER)}[who]
    before = snapshot(store)
    with pytest.raises(error):
        services.decide(store, make(case), actor, NOW + timedelta(minutes=1))
    assert snapshot(store) == before


def test_reopen_refusals_write_nothing(store, cases, reviewer, manager):
    case = _claimed(store, cases["a"], reviewer)
    resolved = services.decide(store, req(case, State.RESOLVED, **resolve_kw()), reviewer, NOW).case
    before = snapshot(store)
    with pytest.raises(NotPermitted):
        services.decide(store, req(resolved, State.IN_REVIEW, note="Customer disputes."), reviewer, NOW)
    with pytest.raises(NoteRequired):
        services.decide(store, req(resolved, State.IN_REVIEW), manager, NOW)
    assert snapshot(store) == before
    reopened = services.decide(store, req(resolved, State.IN_REVIEW, note="Customer disputes."), manager, NOW).case
    assert reopened.state is State.IN_REVIEW and reopened.resolution_reason is None


def test_claim_refusals_write_nothing(store, cases, reviewer, viewer):
    _claimed(store, cases["a"], reviewer)
    before = snapshot(store)
    with pytest.raises(CaseClaimed):
        services.claim(store, cases["a"], LEE, NOW + timedelta(minutes=59))
    with pytest.raises(NotPermitted):
        services.claim(store, cases["b"], viewer, NOW)
    with pytest.raises(CaseNotFound):
        services.claim(store, 999_999, reviewer, NOW)
    with pytest.raises(NotPermitted):
        services.release(store, cases["a"], LEE, NOW)
    assert snapshot(store) == before
    # after 60 minutes the claim has lapsed and someone else may take it
    taken = services.claim(store, cases["a"], LEE, NOW + timedelta(minutes=60))
    assert taken.assignee == "lee"


def test_unknown_case(store, cases, reviewer):
    with pytest.raises(CaseNotFound):
        services.decide(store, DecisionRequest(case_id=424242, case_version=1, to_state=State.IN_REVIEW),
                        reviewer, NOW)


def test_bulk_needs_the_manager_role_and_refuses_per_case(store, cases, reviewer, manager):
    a = _claimed(store, cases["a"], manager)
    b = _claimed(store, cases["b"], manager)
    before = snapshot(store)
    requests = [req(a, State.RESOLVED, **resolve_kw()), req(b, State.RESOLVED, **resolve_kw(evidence="x"))]
    with pytest.raises(NotPermitted):
        services.decide_many(store, requests, reviewer, NOW)
    assert snapshot(store) == before
    out = services.decide_many(store, requests, manager, NOW)
    assert out.done == [a.case_id] and list(out.refused) == [b.case_id]
    assert "evidence" in out.refused[b.case_id]
    assert services.get_case(store, b.case_id).model_dump() == b.model_dump()   # the refused one untouched


def test_decisions_and_events_are_append_only(store, cases, reviewer):
    """Nothing in a later decision changes an earlier row."""
    case = _claimed(store, cases["a"], reviewer)
    case = services.decide(store, req(case, State.ESCALATED, action="escalate_to_manager"), reviewer, NOW).case
    with store.read() as cur:
        first = cur.execute("SELECT * FROM decisions ORDER BY decision_id").fetchall()
        first_events = cur.execute("SELECT * FROM events ORDER BY event_id").fetchall()
    case = services.decide(store, req(case, State.IN_REVIEW), reviewer, NOW + timedelta(minutes=1)).case
    services.decide(store, req(case, State.RESOLVED, **resolve_kw()), reviewer, NOW + timedelta(minutes=2))
    with store.read() as cur:
        later = cur.execute("SELECT * FROM decisions ORDER BY decision_id").fetchall()
        later_events = cur.execute("SELECT * FROM events ORDER BY event_id").fetchall()
    assert later[:len(first)] == first and len(later) == len(first) + 2
    assert later_events[:len(first_events)] == first_events and len(later_events) == len(first_events) + 2
