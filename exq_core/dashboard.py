"""The dashboard's read models and small use cases beyond `queries`: the Overview in one call, the
Queue's filter as a shareable link, who to filter by, claim-next, and saved views.

Plain Python over DuckDB, like the rest of exq_core: the pages and the CLI render what this computes.
"""
from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Mapping

from pydantic import BaseModel, StringConstraints, ValidationError

from . import queries, services
from .errors import CaseClaimed, CaseNotFound, ExqError, StaleCase, TransitionNotAllowed
from .models import AGE_BANDS, BUCKETS, Actor, Bucket, Case, State
from .queries import UNASSIGNED, QueueFilter
from .rules import RuleSet
from .store import Store, utcnow
from .workflow import require

PAGE_SIZE = 50


# -- the Overview -------------------------------------------------------------------------------------

def overview(cur, now: datetime, days: int = 30) -> dict:
    """Every number and series the Overview shows: `queries.stats` (what `stats --json` prints) plus
    cases opened and resolved per day."""
    return {**queries.stats(cur, now), "per_day": queries.opened_resolved_per_day(cur, now, days)}


def open_by_bucket(by_bucket: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Open cases per bucket, from `queries.by_bucket_state`'s counts (every bucket, fixed order)."""
    return {b.value: sum(n for s, n in by_bucket.get(b.value, {}).items() if s != State.RESOLVED)
            for b in BUCKETS}


def format_hours(hours: float | None) -> str:
    """A duration a person reads at a glance: 45m, 5h 20m, 3d 4h."""
    if hours is None or (isinstance(hours, float) and math.isnan(hours)):
        return "—"
    minutes = int(round(abs(hours) * 60))
    days, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    if days:
        return f"{days}d {h}h" if h else f"{days}d"
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    return f"{m}m"


def format_due(sla_remaining_hours: float | None) -> str:
    """'in 1h 20m' before the SLA is due, '3h 5m late' after."""
    if sla_remaining_hours is None or (isinstance(sla_remaining_hours, float) and math.isnan(sla_remaining_hours)):
        return "—"
    if sla_remaining_hours >= 0:
        return f"in {format_hours(sla_remaining_hours)}"
    return f"{format_hours(sla_remaining_hours)} late"


# -- the Queue's filter as a link ---------------------------------------------------------------------

# Age bands as they appear in a link (the band labels themselves have '<', '>' and '–').
AGE_SLUGS: dict[str, str] = dict(zip(("lt4h", "4-24h", "1-3d", "3-7d", "gt7d"), AGE_BANDS))
_BAND_SLUG = {band: slug for slug, band in AGE_SLUGS.items()}
_TRUE = {"1", "true", "yes", "on"}


def _values(params: Mapping[str, str | list[str]], key: str) -> list[str]:
    raw = params.get(key)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def filter_from_params(params: Mapping[str, str | list[str]]) -> QueueFilter:
    """The Queue filter a link describes (`/queue?bucket=fraud_risk&breached=1`). Unknown or malformed
    values are dropped, never an error: a shared link always opens something sensible."""
    buckets = [Bucket(v) for v in dict.fromkeys(_values(params, "bucket")) if v in Bucket._value2member_map_]
    states = [State(v) for v in dict.fromkeys(_values(params, "state")) if v in State._value2member_map_]
    assignee = None
    if (_values(params, "unassigned") or [""])[0].lower() in _TRUE:
        assignee = UNASSIGNED
    elif _values(params, "assignee"):
        assignee = _values(params, "assignee")[0][:100]
    age = (_values(params, "age") or [None])[0]
    text = str(params.get("q") or "").strip()[:200] or None
    return QueueFilter(
        buckets=buckets, states=states, assignee=assignee,
        breached_only=(_values(params, "breached") or [""])[0].lower() in _TRUE,
        age_band=AGE_SLUGS.get(age) if age else None,
        text=text,
        include_waiting=(_values(params, "waiting") or [""])[0].lower() in _TRUE)


def filter_to_params(f: QueueFilter) -> dict[str, str]:
    """The shortest link for a filter; `filter_from_params(filter_to_params(f)) == f` for every filter the
    Queue page can set."""
    out: dict[str, str] = {}
    if f.buckets:
        out["bucket"] = ",".join(b.value for b in f.buckets)
    if f.states:
        out["state"] = ",".join(s.value for s in f.states)
    if f.assignee == UNASSIGNED:
        out["unassigned"] = "1"
    elif f.assignee:
        out["assignee"] = f.assignee
    if f.breached_only:
        out["breached"] = "1"
    if f.age_band:
        out["age"] = _BAND_SLUG[f.age_band]
    if f.text and f.text.strip():
        out["q"] = f.text.strip()
    if f.include_waiting:
        out["waiting"] = "1"
    return out


def page_from_params(params: Mapping[str, str | list[str]]) -> int:
    try:
        return max(1, int((_values(params, "page") or ["1"])[0]))
    except ValueError:
        return 1


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(total / page_size))


# -- what the Queue's filters offer --------------------------------------------------------------------

def assignees(cur) -> list[str]:
    """Everyone who holds or held an open case, for the assignee filter."""
    return [r[0] for r in cur.execute(
        "SELECT DISTINCT assignee FROM cases WHERE assignee IS NOT NULL AND state <> 'resolved' ORDER BY 1"
    ).fetchall()]


def snoozed_count(cur, now: datetime, f: QueueFilter) -> int:
    """How many waiting cases the filter hides because their follow-up time has not come yet."""
    if f.include_waiting or (f.states and State.WAITING in f.states):
        return 0
    where, params = queries._queue_where(f.model_copy(update={"include_waiting": True}))
    return cur.execute(f"SELECT count(*) FROM cases c WHERE {where} AND c.state = 'waiting' "
                       "AND c.follow_up_at > $now", params | {"now": now}).fetchone()[0]


# -- claim next ----------------------------------------------------------------------------------------

def claim_next(store: Store, rules: RuleSet, actor: Actor, f: QueueFilter | None = None,
               now: datetime | None = None, attempts: int = 5) -> Case | None:
    """Claim the top unclaimed case of the queue (under `f`) for `actor`: what 'Claim next' does.

    Two people pressing it at once never get the same case: the claim goes through the one transition
    function under the case's version, and whoever loses the race moves on to the next case.
    Returns None when no unclaimed case is left."""
    require(actor, "claim")
    f = f or QueueFilter()
    # A resolved case is never claimed; 'claim next' in a view of resolved cases works the open ones.
    f = f.model_copy(update={"states": [s for s in f.states if s is not State.RESOLVED]})
    tried: list[int] = []
    for _ in range(attempts):
        at = now or utcnow()
        with store.read() as cur:
            case_id = queries.next_unclaimed(cur, rules, at, f, exclude=tried)
        if case_id is None:
            return None
        try:
            return services.claim(store, case_id, actor, at)
        except (CaseClaimed, StaleCase, TransitionNotAllowed, CaseNotFound):
            tried.append(case_id)
    raise ExqError("Others are claiming cases as fast as you: try 'Claim next' again.")


# -- saved views ---------------------------------------------------------------------------------------

ViewName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class SavedView(BaseModel):
    """A person's named Queue filter."""
    owner: str
    name: ViewName
    filters: QueueFilter
    created_at: datetime


def save_view(store: Store, actor: Actor, name: str, f: QueueFilter, now: datetime | None = None) -> SavedView:
    """Save (or replace) the actor's view `name`. The owner is the signed-in person, never a form field."""
    try:
        view = SavedView(owner=actor.username, name=name, filters=f, created_at=now or utcnow())
    except ValidationError:
        raise ExqError("Give the view a name of 1 to 60 characters.") from None
    with store.unit_of_work() as uow:
        uow.execute("INSERT OR REPLACE INTO saved_views (owner, name, filters, created_at) VALUES (?, ?, ?, ?)",
                    [view.owner, view.name, view.filters.model_dump_json(), view.created_at])
        uow.commit()
    return view


def list_views(cur, owner: str) -> list[SavedView]:
    """The owner's saved views, by name. A view whose stored filter no longer validates is skipped."""
    views = []
    for owner_, name, filters, created_at in cur.execute(
            "SELECT owner, name, filters, created_at FROM saved_views WHERE owner = ? ORDER BY lower(name), name",
            [owner]).fetchall():
        try:
            views.append(SavedView(owner=owner_, name=name, created_at=created_at,
                                   filters=QueueFilter.model_validate(json.loads(filters))))
        except (ValidationError, ValueError):
            continue
    return views


def get_view(cur, owner: str, name: str) -> SavedView | None:
    return next((v for v in list_views(cur, owner) if v.name == name), None)


def delete_view(store: Store, actor: Actor, name: str) -> bool:
    """Delete one of the actor's own views. Returns whether it existed."""
    with store.unit_of_work() as uow:
        gone = uow.execute("DELETE FROM saved_views WHERE owner = ? AND name = ? RETURNING name",
                           [actor.username, name]).fetchall()
        uow.commit()
    return bool(gone)
