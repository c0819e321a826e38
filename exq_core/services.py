"""Use cases over the store: load a case, run the one transition function, write its result.

Every state change in exq — page, bulk action, CLI, demo seeding — comes through `decide`/`claim` here,
which call `workflow.transition` inside a unit of work. Guardrail refusals write nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import CaseNotFound, GuardrailError, StaleCase
from .models import Actor, Case, DecisionRequest, State
from .store import Store, UnitOfWork, utcnow
from . import workflow

CASE_COLUMNS = ("case_id", "source", "order_id", "bucket", "flags", "rules_fired", "rules_version", "state",
                "version", "opened_at", "sla_due_at", "condition_cleared", "assignee", "claimed_at",
                "follow_up_at", "resolution_reason", "resolved_at", "updated_at")
DECISION_COLUMNS = ("case_id", "case_version", "reviewer", "decided_at", "suggestion_id", "suggested_action",
                    "suggestion_model", "suggestion_source", "action", "verdict", "override_note",
                    "resolution_reason", "evidence", "note", "from_state", "to_state", "bucket")


def load_case(cur, case_id: int) -> Case:
    row = cur.execute(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE case_id = ?", [case_id]).fetchone()
    if row is None:
        raise CaseNotFound(case_id)
    return Case(**dict(zip(CASE_COLUMNS, row)))


def get_case(store: Store, case_id: int) -> Case:
    with store.read() as cur:
        return load_case(cur, case_id)


def write_result(uow: UnitOfWork, case: Case, result: workflow.TransitionResult) -> int | None:
    """Apply a transition's changes (guarded by the version it was computed on), append its event and
    decision. Returns the decision id, if any."""
    changes = result.changes
    sets = ", ".join(f"{k} = ?" for k in changes)
    updated = uow.execute(f"UPDATE cases SET {sets} WHERE case_id = ? AND version = ? RETURNING case_id",
                          [*changes.values(), case.case_id, case.version]).fetchall()
    if not updated:  # someone else wrote in between; the version check is the last line of defence
        current = load_case(uow.cursor, case.case_id)
        from .errors import StaleCase
        raise StaleCase(case.case_id, case.version, current.version)
    e = result.event
    uow.execute('INSERT INTO events (case_id, "at", actor, kind, from_state, to_state, detail) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [e.case_id, e.at, e.actor, e.kind, e.from_state, e.to_state, e.detail])
    if result.decision is None:
        return None
    d = result.decision.model_dump()
    d["bucket"] = case.bucket.value
    return uow.execute(f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) VALUES "
                       f"({', '.join('?' * len(DECISION_COLUMNS))}) RETURNING decision_id",
                       [d[c] for c in DECISION_COLUMNS]).fetchone()[0]


@dataclass(frozen=True)
class Outcome:
    case: Case
    decision_id: int | None


def decide(store: Store, request: DecisionRequest, actor: Actor, now: datetime | None = None, *,
           take: bool = False) -> Outcome:
    """A person's decision on a case: validated by the transition function, written in one transaction.

    With `take`, a new or waiting case is first claimed by the actor (-> in_review) in the same transaction,
    so a bulk action can act on cases straight from the queue; a refusal rolls the claim back too."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        case = load_case(uow.cursor, request.case_id)
        if take and case.state in (State.NEW, State.WAITING) and request.to_state is not State.IN_REVIEW:
            if request.case_version != case.version:
                raise StaleCase(case.case_id, request.case_version, case.version)
            claimed = workflow.claim(case, actor, now)
            write_result(uow, case, claimed)
            case = case.model_copy(update=claimed.changes)
            request = request.model_copy(update={"case_version": case.version})
        result = workflow.transition(case, request, actor, now)
        decision_id = write_result(uow, case, result)
        uow.commit()
    return Outcome(case=case.model_copy(update=result.changes), decision_id=decision_id)


def claim(store: Store, case_id: int, actor: Actor, now: datetime | None = None) -> Case:
    """Claim a case for 60 minutes (a new or waiting case moves to in_review). Returns the case after."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        case = load_case(uow.cursor, case_id)
        result = workflow.claim(case, actor, now)
        write_result(uow, case, result)
        uow.commit()
    return case.model_copy(update=result.changes)


def release(store: Store, case_id: int, actor: Actor, now: datetime | None = None) -> Case:
    now = now or utcnow()
    with store.unit_of_work() as uow:
        case = load_case(uow.cursor, case_id)
        result = workflow.release(case, actor, now)
        write_result(uow, case, result)
        uow.commit()
    return case.model_copy(update=result.changes)


@dataclass(frozen=True)
class BulkOutcome:
    done: list[int]
    refused: dict[int, str]


def decide_many(store: Store, requests: list[DecisionRequest], actor: Actor,
                now: datetime | None = None, *, take: bool = False) -> BulkOutcome:
    """Bulk action: each case through the same transition function, each in its own transaction, so a
    refusal names its case and reason while the others stay done. `take` as in `decide`."""
    workflow.require(actor, "bulk")
    done, refused = [], {}
    for request in requests:
        try:
            decide(store, request, actor, now, take=take)
            done.append(request.case_id)
        except (GuardrailError, CaseNotFound) as err:
            refused[request.case_id] = str(err)
    return BulkOutcome(done=done, refused=refused)
