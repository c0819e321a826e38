"""The state machine and its guardrails (SPEC §4): `workflow.transition`, `claim`, `release`, `require`.

Pure: a Case in, a TransitionResult out (or a named error). That refusals write nothing to the database is
checked in tests/integration/test_decisions.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from exq_core import workflow
from exq_core.errors import (ActionRequired, ActionNotAllowed, CaseClaimed, EvidenceRequired, FollowUpRequired, GuardrailError,
                             NoteRequired, NotPermitted, ReasonNotAllowed, StaleCase, TransitionNotAllowed)
from exq_core.models import (ACTIONS, COMMON_ACTIONS, Actor, Bucket, Case, DecisionRequest, Role, State,
                             SuggestionRef, Verdict)

NOW = datetime(2026, 11, 27, 12, 0, 0)
MANAGER = Actor(username="maria", role=Role.MANAGER)
REVIEWER = Actor(username="sam", role=Role.REVIEWER)
OTHER = Actor(username="lee", role=Role.REVIEWER)
VIEWER = Actor(username="vic", role=Role.VIEWER)
EVIDENCE = "PSP txn pi_3Q1234abcd"

# SPEC §4, written out rather than read from workflow.ALLOWED.
SPEC_ALLOWED = {
    ("new", "in_review"),
    ("in_review", "waiting"), ("in_review", "escalated"), ("in_review", "resolved"),
    ("waiting", "in_review"),
    ("escalated", "in_review"), ("escalated", "resolved"),
    ("resolved", "in_review"),
}


def make_case(state: State = State.IN_REVIEW, bucket: Bucket = Bucket.PAYMENT_MISMATCH, version: int = 3,
              assignee: str | None = None, claimed_at: datetime | None = None, **extra) -> Case:
    opened = NOW - timedelta(hours=2)
    fields = dict(case_id=41, source="feed", order_id="EXQ-100041", bucket=bucket, flags=[],
                  rules_fired=["payment"], rules_version="2026.11.1+abcd1234", state=state, version=version,
                  opened_at=opened, sla_due_at=opened + timedelta(hours=8), updated_at=opened,
                  assignee=assignee, claimed_at=claimed_at)
    if state is State.RESOLVED:
        fields |= {"resolution_reason": "payment_captured", "resolved_at": NOW - timedelta(hours=1)}
    if state is State.WAITING:
        fields |= {"follow_up_at": NOW + timedelta(hours=4)}
    return Case(**(fields | extra))


def request_for(case: Case, to_state: State, **extra) -> DecisionRequest:
    """A request that satisfies every guardrail for `to_state`, so only the transition itself is judged."""
    fields: dict = dict(case_id=case.case_id, case_version=case.version, to_state=to_state)
    if to_state is State.RESOLVED:
        fields |= {"resolution_reason": "payment_captured", "evidence": EVIDENCE}
    if to_state is State.WAITING:
        fields |= {"follow_up_at": NOW + timedelta(hours=24), "action": "request_more_info"}
    if case.state is State.RESOLVED:
        fields |= {"note": "Customer wrote back: the capture bounced."}
    return DecisionRequest(**(fields | extra))


# -- the 5×5 matrix --------------------------------------------------------------------------------------

@pytest.mark.parametrize("from_state", list(State))
@pytest.mark.parametrize("to_state", list(State))
def test_transition_matrix(from_state, to_state):
    case = make_case(from_state)
    request = request_for(case, to_state)
    if (from_state.value, to_state.value) in SPEC_ALLOWED:
        result = workflow.transition(case, request, MANAGER, NOW)
        assert result.changes["state"] is to_state
        assert result.changes["version"] == case.version + 1
        assert result.changes["updated_at"] == NOW
        assert (result.event.from_state, result.event.to_state) == (from_state, to_state)
        assert result.event.actor == "maria" and result.event.at == NOW and result.event.kind == "transition"
        assert result.decision.from_state is from_state and result.decision.to_state is to_state
    else:
        with pytest.raises(TransitionNotAllowed) as info:
            workflow.transition(case, request, MANAGER, NOW)
        message = str(info.value)
        assert f"from {from_state.value} to {to_state.value}" in message
        for allowed in sorted(t for f, t in SPEC_ALLOWED if f == from_state.value):
            assert allowed in message   # the message says what is possible instead


def test_matrix_is_exactly_the_spec():
    assert {(f.value, t.value) for f in State for t in State if workflow.is_allowed(f, t)} == SPEC_ALLOWED


def test_in_review_takes_the_claim_and_clears_follow_up():
    case = make_case(State.WAITING)
    result = workflow.transition(case, request_for(case, State.IN_REVIEW), REVIEWER, NOW)
    assert result.changes.items() >= {"assignee": "sam", "claimed_at": NOW, "follow_up_at": None}.items()


# -- resolving: reason and evidence --------------------------------------------------------------------

@pytest.mark.parametrize("evidence", [None, "", "        ", "1234567", "   1234567   ", "\t\n"])
def test_resolve_without_evidence_is_refused(evidence):
    case = make_case()
    with pytest.raises(EvidenceRequired, match="evidence"):
        workflow.transition(case, request_for(case, State.RESOLVED, evidence=evidence), REVIEWER, NOW)


@pytest.mark.parametrize("evidence", ["12345678", "  1Z999AA10123456784  ", "https://x.example/p/1"])
def test_resolve_with_evidence(evidence):
    case = make_case()
    result = workflow.transition(case, request_for(case, State.RESOLVED, evidence=evidence), REVIEWER, NOW)
    assert result.changes["resolution_reason"] == "payment_captured"
    assert result.changes["resolved_at"] == NOW and result.changes["claimed_at"] is None
    assert result.decision.evidence == evidence.strip()


@pytest.mark.parametrize("reason", [None, "", "refunded", "verified_legitimate", "made_up"])
def test_resolution_reason_must_come_from_the_bucket_list(reason):
    case = make_case(bucket=Bucket.PAYMENT_MISMATCH)   # refunded / verified_legitimate belong to other buckets
    with pytest.raises(ReasonNotAllowed) as info:
        workflow.transition(case, request_for(case, State.RESOLVED, resolution_reason=reason), REVIEWER, NOW)
    assert "payment_captured" in str(info.value)      # names the allowed reasons


@pytest.mark.parametrize("bucket, reason", [
    (Bucket.PAYMENT_MISMATCH, "reconciled_with_psp"), (Bucket.INVENTORY_CONFLICT, "backordered"),
    (Bucket.ADDRESS_PROBLEM, "rerouted"), (Bucket.FRAUD_RISK, "verified_legitimate"),
    (Bucket.RETURN_DAMAGE, "replacement_sent"), (Bucket.VIP_REVENUE, "expedited"),
    (Bucket.RETURN_DAMAGE, "duplicate_case"), (Bucket.FRAUD_RISK, "duplicate_case"),
])
def test_each_bucket_accepts_its_own_reasons(bucket, reason):
    case = make_case(bucket=bucket)
    result = workflow.transition(case, request_for(case, State.RESOLVED, resolution_reason=reason), REVIEWER, NOW)
    assert result.changes["resolution_reason"] == reason


@pytest.mark.parametrize("note", [None, "", "   "])
def test_reason_other_needs_a_note(note):
    case = make_case()
    with pytest.raises(NoteRequired, match="other"):
        workflow.transition(case, request_for(case, State.RESOLVED, resolution_reason="other", note=note),
                            REVIEWER, NOW)


def test_reason_other_with_a_note():
    case = make_case()
    result = workflow.transition(case, request_for(case, State.RESOLVED, resolution_reason="other",
                                                   note="Merged into order EXQ-9."), REVIEWER, NOW)
    assert result.decision.note == "Merged into order EXQ-9."


def test_a_reason_is_only_given_when_resolving():
    case = make_case()
    with pytest.raises(ReasonNotAllowed):
        workflow.transition(case, request_for(case, State.ESCALATED, resolution_reason="payment_captured"),
                            REVIEWER, NOW)


# -- reopening -------------------------------------------------------------------------------------------

def test_reopen_needs_manager_role():
    case = make_case(State.RESOLVED)
    with pytest.raises(NotPermitted) as info:
        workflow.transition(case, request_for(case, State.IN_REVIEW), REVIEWER, NOW)
    assert "sam" in str(info.value) and "reopen" in str(info.value)


@pytest.mark.parametrize("note", [None, "", "  "])
def test_reopen_needs_a_note(note):
    case = make_case(State.RESOLVED)
    with pytest.raises(NoteRequired, match="note"):
        workflow.transition(case, request_for(case, State.IN_REVIEW, note=note), MANAGER, NOW)


def test_reopen_clears_the_resolution():
    case = make_case(State.RESOLVED)
    result = workflow.transition(case, request_for(case, State.IN_REVIEW), MANAGER, NOW)
    assert result.changes.items() >= {"state": State.IN_REVIEW, "resolution_reason": None, "resolved_at": None,
                                   "assignee": "maria", "claimed_at": NOW}.items()


# -- waiting ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("follow_up", [None, NOW, NOW - timedelta(minutes=1), NOW - timedelta(days=3)])
def test_waiting_needs_a_future_follow_up(follow_up):
    case = make_case()
    with pytest.raises(FollowUpRequired, match="future"):
        workflow.transition(case, request_for(case, State.WAITING, follow_up_at=follow_up), REVIEWER, NOW)


def test_waiting_records_follow_up_and_releases_the_claim():
    case = make_case(assignee="sam", claimed_at=NOW - timedelta(minutes=5))
    follow = NOW + timedelta(seconds=1)
    result = workflow.transition(case, request_for(case, State.WAITING, follow_up_at=follow), REVIEWER, NOW)
    assert result.changes["follow_up_at"] == follow and result.changes["claimed_at"] is None


# -- versions and claims ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seen", [1, 2, 4])
def test_stale_version_is_refused(seen):
    case = make_case(version=3)
    with pytest.raises(StaleCase) as info:
        workflow.transition(case, request_for(case, State.ESCALATED, case_version=seen), REVIEWER, NOW)
    err = info.value
    assert (err.case_id, err.expected, err.actual) == (41, seen, 3)
    assert "changed since you opened it" in str(err)


def test_a_live_claim_by_someone_else_is_refused():
    case = make_case(assignee="lee", claimed_at=NOW - timedelta(minutes=59, seconds=59))
    with pytest.raises(CaseClaimed) as info:
        workflow.transition(case, request_for(case, State.ESCALATED), REVIEWER, NOW)
    assert info.value.holder == "lee" and "lee" in str(info.value)
    assert info.value.until == case.claimed_at + timedelta(minutes=60)


def test_a_claim_expires_after_60_minutes():
    case = make_case(assignee="lee", claimed_at=NOW - timedelta(minutes=60))
    assert workflow.claim_holder(case, NOW) is None
    assert workflow.claim_holder(case, NOW - timedelta(seconds=1)) == "lee"
    result = workflow.transition(case, request_for(case, State.ESCALATED), REVIEWER, NOW)
    assert result.changes["state"] is State.ESCALATED


def test_the_holder_may_decide_on_its_own_claim():
    case = make_case(assignee="sam", claimed_at=NOW - timedelta(minutes=10))
    assert workflow.transition(case, request_for(case, State.ESCALATED), REVIEWER, NOW).changes["state"] \
        is State.ESCALATED


def test_claim_moves_new_and_waiting_to_in_review():
    for state in (State.NEW, State.WAITING):
        case = make_case(state)
        result = workflow.claim(case, REVIEWER, NOW)
        assert result.changes.items() >= {"state": State.IN_REVIEW, "assignee": "sam", "claimed_at": NOW,
                                       "version": case.version + 1}.items()
        assert result.event.kind == "claim" and result.decision is None
        assert (result.event.from_state, result.event.to_state) == (state, State.IN_REVIEW)


def test_claim_keeps_state_of_in_review_and_escalated():
    for state in (State.IN_REVIEW, State.ESCALATED):
        case = make_case(state, assignee="lee", claimed_at=NOW - timedelta(hours=2))  # lapsed claim
        result = workflow.claim(case, REVIEWER, NOW)
        assert "state" not in result.changes and "version" not in result.changes  # facts unchanged
        assert result.changes.items() >= {"assignee": "sam", "claimed_at": NOW}.items()
        assert (result.event.from_state, result.event.to_state) == (state, state)


def test_claim_refused_while_someone_else_holds_it():
    case = make_case(State.NEW, assignee="lee", claimed_at=NOW - timedelta(minutes=30))
    with pytest.raises(CaseClaimed):
        workflow.claim(case, REVIEWER, NOW)


def test_claim_renews_own_claim():
    case = make_case(assignee="sam", claimed_at=NOW - timedelta(minutes=50))
    assert workflow.claim(case, REVIEWER, NOW).changes["claimed_at"] == NOW


def test_claim_on_a_resolved_case_is_refused():
    with pytest.raises(TransitionNotAllowed, match="reopen"):
        workflow.claim(make_case(State.RESOLVED), MANAGER, NOW)


def test_release_by_the_holder_only():
    case = make_case(assignee="sam", claimed_at=NOW - timedelta(minutes=5))
    result = workflow.release(case, REVIEWER, NOW)
    assert result.changes["claimed_at"] is None and result.event.kind == "release"
    with pytest.raises(NotPermitted):
        workflow.release(case, OTHER, NOW)
    with pytest.raises(NotPermitted):   # a lapsed claim is nobody's to release
        workflow.release(make_case(assignee="sam", claimed_at=NOW - timedelta(hours=2)), REVIEWER, NOW)


# -- roles -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("to_state", [State.WAITING, State.ESCALATED, State.RESOLVED])
def test_viewer_may_not_decide(to_state):
    case = make_case()
    with pytest.raises(NotPermitted) as info:
        workflow.transition(case, request_for(case, to_state), VIEWER, NOW)
    assert "vic" in str(info.value)


def test_viewer_may_not_claim_or_release():
    with pytest.raises(NotPermitted):
        workflow.claim(make_case(State.NEW), VIEWER, NOW)
    with pytest.raises(NotPermitted):
        workflow.release(make_case(assignee="vic", claimed_at=NOW), VIEWER, NOW)


@pytest.mark.parametrize("role, permission, allowed", [
    (Role.VIEWER, "read", True), (Role.VIEWER, "decide", False), (Role.VIEWER, "import", False),
    (Role.REVIEWER, "decide", True), (Role.REVIEWER, "claim", True), (Role.REVIEWER, "reopen", False),
    (Role.REVIEWER, "bulk", False), (Role.REVIEWER, "import", False), (Role.REVIEWER, "rules", False),
    (Role.MANAGER, "reopen", True), (Role.MANAGER, "bulk", True), (Role.MANAGER, "import", True),
])
def test_require(role, permission, allowed):
    actor = Actor(username="x", role=role)
    if allowed:
        workflow.require(actor, permission)
    else:
        with pytest.raises(NotPermitted):
            workflow.require(actor, permission)


# -- actions and suggestions -----------------------------------------------------------------------------

SUGGESTION = SuggestionRef(suggestion_id=7, action="contact_customer", model="offline", source="offline")


def test_accepting_the_suggestion():
    case = make_case()
    result = workflow.transition(case, request_for(case, State.ESCALATED, action="contact_customer",
                                                   suggestion=SUGGESTION), REVIEWER, NOW)
    d = result.decision
    assert d.verdict is Verdict.ACCEPTED and d.suggestion_id == 7 and d.suggested_action == "contact_customer"
    assert (d.suggestion_model, d.suggestion_source) == ("offline", "offline")
    assert d.reviewer == "sam" and d.case_version == 3 and d.decided_at == NOW


@pytest.mark.parametrize("note", [None, "", "   "])
def test_override_without_note_is_refused(note):
    case = make_case()
    with pytest.raises(NoteRequired, match="override"):
        workflow.transition(case, request_for(case, State.ESCALATED, action="hold_fulfillment",
                                              suggestion=SUGGESTION, override_note=note), REVIEWER, NOW)


def test_override_with_note():
    case = make_case()
    result = workflow.transition(case, request_for(case, State.ESCALATED, action="hold_fulfillment",
                                                   suggestion=SUGGESTION, override_note="PSP shows a chargeback."),
                                 REVIEWER, NOW)
    assert result.decision.verdict is Verdict.OVERRIDDEN
    assert result.decision.override_note == "PSP shows a chargeback."


def test_suggestion_shown_but_no_action_chosen_is_refused():
    """Nothing is accepted by default: with a suggestion on screen a person must choose."""
    case = make_case()
    with pytest.raises(ActionRequired, match="No action chosen"):
        workflow.transition(case, request_for(case, State.ESCALATED, suggestion=SUGGESTION), REVIEWER, NOW)


def test_no_suggestion_verdict():
    case = make_case()
    result = workflow.transition(case, request_for(case, State.ESCALATED, action="escalate_to_manager"),
                                 REVIEWER, NOW)
    assert result.decision.verdict is Verdict.NO_SUGGESTION and result.decision.suggestion_id is None


@pytest.mark.parametrize("action", ["refund_everything", "issue_refund", "approve_order", "", "CONTACT_CUSTOMER"])
def test_action_outside_the_bucket_catalog_is_refused(action):
    case = make_case(bucket=Bucket.PAYMENT_MISMATCH)   # issue_refund / approve_order belong to other buckets
    with pytest.raises(ActionNotAllowed) as info:
        workflow.transition(case, request_for(case, State.ESCALATED, action=action), REVIEWER, NOW)
    assert "capture_remaining" in str(info.value)


@pytest.mark.parametrize("bucket", list(Bucket))
def test_every_catalog_action_and_the_common_ones_are_accepted(bucket):
    case = make_case(bucket=bucket)
    for action in ACTIONS[bucket] + COMMON_ACTIONS:
        result = workflow.transition(case, request_for(case, State.ESCALATED, action=action), REVIEWER, NOW)
        assert result.decision.action == action and result.event.detail == action


# -- order of checks -------------------------------------------------------------------------------------

def test_every_refusal_is_a_guardrail_error():
    case = make_case()
    for bad in (request_for(case, State.NEW), request_for(case, State.RESOLVED, evidence="short"),
                request_for(case, State.ESCALATED, case_version=1)):
        with pytest.raises(GuardrailError):
            workflow.transition(case, bad, REVIEWER, NOW)


def test_stale_is_reported_before_anything_else():
    """Someone who saw an old version is told to reload first, whatever else is wrong with the request."""
    case = make_case(version=5)
    with pytest.raises(StaleCase):
        workflow.transition(case, request_for(case, State.NEW, case_version=4, evidence=""), REVIEWER, NOW)


def test_transition_does_not_mutate_the_case():
    case = make_case()
    before = case.model_dump()
    workflow.transition(case, request_for(case, State.RESOLVED), REVIEWER, NOW)
    assert case.model_dump() == before
