"""Use cases over the store: check who acts, load a case, run the one transition function, write its result.

Every state change in exq — page, bulk action, CLI, demo seeding — comes through `decide`/`claim` here,
which call `workflow.transition` inside a unit of work. Each write re-reads the acting person's role and
active flag inside its transaction (`access.recheck`). Guardrail refusals write nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from . import workflow
from .access import recheck
from .errors import CaseClaimed, CaseNotFound, ExqError, GuardrailError, StaleCase, TransitionNotAllowed
from .models import Actor, Case, DecisionRequest, State
from .queries import QueueFilter, SavedView, next_unclaimed
from .queries.cases import load_case
from .rules import RuleSet
from .store import Store, UnitOfWork, tallies, utcnow

DECISION_COLUMNS = ("case_id", "case_version", "reviewer", "decided_at", "suggestion_id", "suggested_action",
                    "suggestion_model", "suggestion_source", "action", "verdict", "override_note",
                    "resolution_reason", "evidence", "note", "from_state", "to_state", "bucket")


def get_case(store: Store, case_id: int) -> Case:
    with store.read() as cur:
        return load_case(cur, case_id)


def write_result(uow: UnitOfWork, case: Case, result: workflow.TransitionResult) -> int | None:
    """Apply a transition's changes (guarded by the version it was computed on), append its event and
    decision. Returns the decision id, if any."""
    changes = result.changes
    sets = ", ".join(f"{k} = ?" for k in changes)
    updated = uow.execute(f"UPDATE cases SET {sets} WHERE case_id = ? AND version = ? RETURNING case_id",
                          [*[v.value if isinstance(v, State) else v for v in changes.values()], case.case_id,
                           case.version]).fetchall()
    if not updated:  # someone else wrote in between; the version check is the last line of defence
        raise StaleCase(case.case_id, case.version, load_case(uow.cursor, case.case_id).version)
    _count_resolved(uow, case, changes)
    e = result.event
    uow.execute('INSERT INTO events (case_id, "at", actor, kind, from_state, to_state, detail) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [e.case_id, e.at, e.actor, e.kind, _s(e.from_state), _s(e.to_state), e.detail])
    if result.decision is None:
        return None
    d = result.decision.model_dump(mode="json") | {"decided_at": result.decision.decided_at}
    d["bucket"] = case.bucket.value
    return uow.execute(f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) VALUES "
                       f"({', '.join('?' * len(DECISION_COLUMNS))}) RETURNING decision_id",
                       [d[c] for c in DECISION_COLUMNS]).fetchone()[0]


def _count_resolved(uow: UnitOfWork, case: Case, changes: dict) -> None:
    """Resolving a case, or reopening one, moves the Overview's counts of resolved cases (store/tallies.py)."""
    was = case.state is State.RESOLVED
    now = State(changes.get("state", case.state)) is State.RESOLVED
    if now and not was:
        tallies.add_resolved(uow.cursor, changes["resolved_at"].date(), case.bucket.value, 1)
    elif was and not now:
        tallies.add_resolved(uow.cursor, case.resolved_at.date(), case.bucket.value, -1)


def _s(state):
    return state.value if isinstance(state, State) else state


@dataclass(frozen=True)
class Outcome:
    case: Case
    decision_id: int | None


def decide(store: Store, request: DecisionRequest, actor: Actor, now: datetime | None = None, *,
           take: bool = False, bulk: bool = False) -> Outcome:
    """A person's decision on a case: validated by the transition function, written in one transaction.

    With `take`, a new or waiting case is first claimed by the actor (-> in_review) in the same transaction,
    so a bulk action can act on cases straight from the queue; a refusal rolls the claim back too. `bulk`
    also requires the bulk permission, checked in the same transaction."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        case = load_case(uow.cursor, request.case_id, lock=True)
        if bulk:
            recheck(uow.cursor, actor, "bulk")
        reopening = case.state is State.RESOLVED and request.to_state is State.IN_REVIEW
        actor = recheck(uow.cursor, actor, "reopen" if reopening else "decide")
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
    """Claim a case for workflow.CLAIM_MINUTES (a new or waiting case moves to in_review). Returns the case after."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        case = load_case(uow.cursor, case_id, lock=True)
        actor = recheck(uow.cursor, actor, "claim")
        result = workflow.claim(case, actor, now)
        write_result(uow, case, result)
        uow.commit()
    return case.model_copy(update=result.changes)


def release(store: Store, case_id: int, actor: Actor, now: datetime | None = None) -> Case:
    now = now or utcnow()
    with store.unit_of_work() as uow:
        case = load_case(uow.cursor, case_id, lock=True)
        actor = recheck(uow.cursor, actor, "claim")
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
    refusal names its case and reason while the others stay done. `take` as in `decide`. The bulk
    permission is checked against the account as it is now, and again inside every case's write."""
    with store.read() as cur:
        recheck(cur, actor, "bulk")
    done, refused = [], {}
    for request in requests:
        try:
            decide(store, request, actor, now, take=take, bulk=True)
            done.append(request.case_id)
        except (GuardrailError, CaseNotFound) as err:
            refused[request.case_id] = str(err)
    return BulkOutcome(done=done, refused=refused)


def claim_next(store: Store, rules: RuleSet, actor: Actor, f: QueueFilter | None = None,
               now: datetime | None = None, attempts: int = 5) -> Case | None:
    """Claim the top unclaimed case of the queue (under `f`) for `actor`: what 'Claim next' does.

    Two people pressing it at once never get the same case: the claim goes through the one transition
    function under the case's row lock and version, and whoever loses the race moves on to the next case.
    Returns None when no unclaimed case is left."""
    f = f or QueueFilter()
    # A resolved case is never claimed; 'claim next' in a view of resolved cases works the open ones.
    f = f.model_copy(update={"states": [s for s in f.states if s is not State.RESOLVED]})
    tried: list[int] = []
    for _ in range(attempts):
        at = now or utcnow()
        with store.read() as cur:
            recheck(cur, actor, "claim")
            case_id = next_unclaimed(cur, rules, at, f, exclude=tried)
        if case_id is None:
            return None
        try:
            return claim(store, case_id, actor, at)
        except (CaseClaimed, StaleCase, TransitionNotAllowed, CaseNotFound):
            tried.append(case_id)
    raise ExqError("Others are claiming cases as fast as you: try 'Claim next' again.")


# -- saved views ---------------------------------------------------------------------------------------

def save_view(store: Store, actor: Actor, name: str, f: QueueFilter, now: datetime | None = None) -> SavedView:
    """Save (or replace) the actor's view `name`. The owner is the signed-in person, never a form field."""
    try:
        view = SavedView(owner=actor.username, name=name, filters=f, created_at=now or utcnow())
    except ValidationError:
        raise ExqError("Give the view a name of 1 to 60 characters.") from None
    with store.unit_of_work() as uow:
        recheck(uow.cursor, actor, "views")
        uow.execute("INSERT INTO saved_views (owner, name, filters, created_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (owner, name) DO UPDATE SET filters = excluded.filters, "
                    "created_at = excluded.created_at",
                    [view.owner, view.name, view.filters.model_dump_json(), view.created_at])
        uow.commit()
    return view


def delete_view(store: Store, actor: Actor, name: str) -> bool:
    """Delete one of the actor's own views. Returns whether it existed."""
    with store.unit_of_work() as uow:
        recheck(uow.cursor, actor, "views")
        gone = uow.execute("DELETE FROM saved_views WHERE owner = ? AND name = ? RETURNING name",
                           [actor.username, name]).fetchall()
        uow.commit()
    return bool(gone)



def sync_priority(store: Store, rules: RuleSet) -> int:
    """Store every case's static priority for these rules, when the rules' weights or value points changed
    since (the Queue orders by it). Returns how many cases were recomputed."""
    from .routing import sync_static_priority
    with store.unit_of_work() as uow:
        n = sync_static_priority(uow, rules)
        uow.commit()
    return n
