"""The case state machine and its guardrails: the one transition function.

`transition` is pure: it takes a case as it is now, what a person asks for, who they are and when,
and returns what must be written — or raises a named GuardrailError. `exq_core.services` runs it inside
a unit of work; pages, bulk actions, the CLI and the demo seeding all go through it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import (ActionNotAllowed, ActionRequired, CaseClaimed, EvidenceRequired, FollowUpRequired,
                     NoteRequired,
                     NotPermitted, ReasonNotAllowed, StaleCase, TransitionNotAllowed)
from .models import (MIN_EVIDENCE, Actor, Case, Decision, DecisionRequest, Event, Role, State, Verdict,
                     actions_for, reasons_for)

CLAIM_MINUTES = 60

ALLOWED: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.IN_REVIEW}),
    State.IN_REVIEW: frozenset({State.WAITING, State.ESCALATED, State.RESOLVED}),
    State.WAITING: frozenset({State.IN_REVIEW}),
    State.ESCALATED: frozenset({State.IN_REVIEW, State.RESOLVED}),
    State.RESOLVED: frozenset({State.IN_REVIEW}),
}

# What each role may do; checked here, in exq_core, not by hiding buttons.
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({"read"}),
    Role.REVIEWER: frozenset({"read", "decide", "claim"}),
    Role.MANAGER: frozenset({"read", "decide", "claim", "reopen", "import", "bulk", "rules", "users"}),
}


def require(actor: Actor, permission: str) -> None:
    if permission not in PERMISSIONS[actor.role]:
        raise NotPermitted(f"{actor.username} ({actor.role}) may not {permission}; ask a manager.")


def is_allowed(from_state: State, to_state: State) -> bool:
    return to_state in ALLOWED[from_state]


def claim_expiry(case: Case) -> datetime | None:
    return case.claimed_at + timedelta(minutes=CLAIM_MINUTES) if case.claimed_at else None


def claim_holder(case: Case, now: datetime) -> str | None:
    """Who holds a live claim on the case right now, if anyone."""
    expiry = claim_expiry(case)
    if case.assignee and expiry and expiry > now:
        return case.assignee
    return None


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


@dataclass(frozen=True)
class TransitionResult:
    """What a transition writes: the new case fields, one event, and (for a decision) one decision."""
    changes: dict
    event: Event
    decision: Decision | None


def transition(case: Case, request: DecisionRequest, actor: Actor, now: datetime,
               *, record_decision: bool = True) -> TransitionResult:
    """The one way a case changes state. Raises a GuardrailError naming the broken rule; writes nothing."""
    to_state = request.to_state
    reopening = case.state is State.RESOLVED and to_state is State.IN_REVIEW
    require(actor, "reopen" if reopening else "decide")
    if request.case_id != case.case_id:
        raise ValueError("request is for another case")
    if request.case_version != case.version:
        raise StaleCase(case.case_id, request.case_version, case.version)
    holder = claim_holder(case, now)
    if holder and holder != actor.username:
        raise CaseClaimed(case.case_id, holder, claim_expiry(case))
    if not is_allowed(case.state, to_state):
        allowed = ", ".join(sorted(ALLOWED[case.state])) or "nothing"
        raise TransitionNotAllowed(
            f"A case cannot go from {case.state} to {to_state}; from {case.state} it can go to {allowed}.")

    allowed = actions_for(case.bucket, case.flags)
    if request.action is not None and request.action not in allowed:
        raise ActionNotAllowed(f"'{request.action}' is not an action for this {case.bucket} case; choose one of "
                               f"{', '.join(allowed)}.")
    verdict = Verdict.NO_SUGGESTION
    if request.suggestion is not None:
        if request.action is None:
            raise ActionRequired("No action chosen: press Accept to take the suggested action, or choose "
                                 "another action (with an override note).")
        if request.action == request.suggestion.action:
            verdict = Verdict.ACCEPTED
        else:
            verdict = Verdict.OVERRIDDEN
            if _blank(request.override_note):
                raise NoteRequired("Overriding the suggestion needs an override note: say why.")

    changes: dict = {"state": to_state, "version": case.version + 1, "updated_at": now}
    if to_state is State.RESOLVED:
        if request.resolution_reason not in reasons_for(case.bucket):
            raise ReasonNotAllowed(
                f"Resolving a {case.bucket} case needs a resolution reason from its list: "
                f"{', '.join(reasons_for(case.bucket))}.")
        if request.resolution_reason == "other" and _blank(request.note):
            raise NoteRequired("Resolution reason 'other' needs a note explaining it.")
        if _blank(request.evidence) or len(request.evidence.strip()) < MIN_EVIDENCE:
            raise EvidenceRequired(
                f"Nothing closes without evidence: give a reference of at least {MIN_EVIDENCE} characters "
                "(PSP transaction id, tracking number, message link, photo URL…).")
        changes |= {"resolution_reason": request.resolution_reason, "resolved_at": now,
                    "claimed_at": None, "follow_up_at": None}
    elif request.resolution_reason is not None:
        raise ReasonNotAllowed("A resolution reason is only given when resolving.")
    if to_state is State.WAITING:
        if request.follow_up_at is None or request.follow_up_at <= now:
            raise FollowUpRequired("Waiting needs a follow-up time in the future.")
        changes |= {"follow_up_at": request.follow_up_at, "claimed_at": None}
    if reopening:
        if _blank(request.note):
            raise NoteRequired("Reopening a resolved case needs a note: say what changed.")
        changes |= {"resolution_reason": None, "resolved_at": None}
    if to_state is State.IN_REVIEW:
        changes |= {"assignee": actor.username, "claimed_at": now, "follow_up_at": None}

    detail = request.action or ""
    event = Event(case_id=case.case_id, at=now, actor=actor.username, kind="transition",
                  from_state=case.state, to_state=to_state, detail=detail or None)
    decision = None
    if record_decision:
        s = request.suggestion
        decision = Decision(
            case_id=case.case_id, case_version=case.version, reviewer=actor.username, decided_at=now,
            suggestion_id=s.suggestion_id if s else None, suggested_action=s.action if s else None,
            suggestion_model=s.model if s else None, suggestion_source=s.source if s else None,
            action=request.action, verdict=verdict, override_note=request.override_note or None,
            resolution_reason=request.resolution_reason, evidence=(request.evidence or "").strip() or None,
            note=request.note or None, from_state=case.state, to_state=to_state)
    return TransitionResult(changes=changes, event=event, decision=decision)


def claim(case: Case, actor: Actor, now: datetime) -> TransitionResult:
    """Take (or renew) the claim on a case for CLAIM_MINUTES. A new or waiting case moves to in_review."""
    require(actor, "claim")
    if case.state is State.RESOLVED:
        raise TransitionNotAllowed(f"Case {case.case_id} is resolved; reopen it to work on it.")
    holder = claim_holder(case, now)
    if holder and holder != actor.username:
        raise CaseClaimed(case.case_id, holder, claim_expiry(case))
    if case.state in (State.NEW, State.WAITING):
        request = DecisionRequest(case_id=case.case_id, case_version=case.version, to_state=State.IN_REVIEW)
        result = transition(case, request, actor, now, record_decision=False)
        return TransitionResult(changes=result.changes, event=result.event.model_copy(update={"kind": "claim"}),
                                decision=None)
    # Taking or renewing a claim without a state change leaves the version alone: the facts a reviewer
    # decides on have not changed (and the stored suggestion for this version stays valid). Another
    # person's live claim is what protects the case meanwhile.
    changes = {"assignee": actor.username, "claimed_at": now, "updated_at": now}
    event = Event(case_id=case.case_id, at=now, actor=actor.username, kind="claim",
                  from_state=case.state, to_state=case.state)
    return TransitionResult(changes=changes, event=event, decision=None)


def release(case: Case, actor: Actor, now: datetime) -> TransitionResult:
    require(actor, "claim")
    holder = claim_holder(case, now)
    if holder != actor.username:
        raise NotPermitted(f"You do not hold the claim on case {case.case_id}.")
    changes = {"claimed_at": None, "updated_at": now}
    event = Event(case_id=case.case_id, at=now, actor=actor.username, kind="release",
                  from_state=case.state, to_state=case.state)
    return TransitionResult(changes=changes, event=event, decision=None)
