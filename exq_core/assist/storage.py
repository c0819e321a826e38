"""Stored suggestions: made once per facts and model, reused by every view, precomputed for the queue's top.

A suggestion is filed under the facts it is about (`facts_key`: order snapshot, bucket, flags, rules and
rules version) plus model, prompt version and server. A claim bumps a case's version but not its facts, so a
suggestion precomputed by `suggest` is still the one a reviewer sees when they open the case.

The page never waits for the model: `request` returns at once with the stored suggestion or a `Pending`
that a background thread completes within the time budget (`EXQ_AI_TIMEOUT_S`, retries included). A
`Pending` past its budget is settled with the offline suggestion, stored as a fallback, so the page has an
answer on time whatever the model does; a late model answer never replaces what was stored first.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import openai
from pydantic import BaseModel, Field

from .. import queries
from ..models import Bucket, SuggestionRef
from ..queries import suggestions as stored_suggestions
from ..rules import RuleSet
from ..store import Store, utcnow
from .config import FALLBACK_SOURCE, PROMPT_VERSION, AIConfig
from .facts import SUMMARY_MAX, facts_key
from .model import Made, advise, client_for
from .offline import offline_advice

log = logging.getLogger(__name__)

GRACE_S = 1.0       # how long past its budget a background request may run before the page settles it


class Suggestion(BaseModel):
    """A stored suggestion, as the Review page shows it."""
    suggestion_id: int
    case_id: int
    case_version: int
    facts_key: str | None = None
    source: str                      # model | offline | fallback
    model: str
    prompt_version: str
    server: str | None = None
    summary: str = Field(max_length=SUMMARY_MAX)
    action: str
    rationale: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    missing_evidence: list[str] = []
    error: str | None = None         # why the model's answer was not used (the suggestion is then a fallback)
    created_at: datetime

    def ref(self) -> SuggestionRef:
        """What a decision records about the suggestion that was on screen."""
        return SuggestionRef(suggestion_id=self.suggestion_id, action=self.action, model=self.model,
                             source=self.source)


def _suggestion(row: dict | None) -> Suggestion | None:
    if row is None:
        return None
    return Suggestion(**{**row, "missing_evidence": list(row.get("missing_evidence") or [])})


def _case(store: Store, rules: RuleSet, case_id: int, now: datetime) -> dict | None:
    with store.read() as cur:
        return queries.case_detail(cur, rules, case_id, now)


def lookup(store: Store, case: dict, config: AIConfig) -> Suggestion | None:
    """The stored suggestion for the case's current facts from the configured assistant, if any."""
    with store.read() as cur:
        return _suggestion(stored_suggestions.stored(cur, case["case_id"], facts_key(case), config.key_model,
                                                     config.prompt_version, config.server))


def get(store: Store, suggestion_id: int) -> Suggestion | None:
    with store.read() as cur:
        return _suggestion(stored_suggestions.by_id(cur, suggestion_id))


def save(store: Store, case: dict, made: Made, now: datetime | None = None, *, replace: bool = False) -> Suggestion:
    """Store advice for the case's facts. Unless `replace` (a person asked again), a suggestion already
    stored for the same facts and assistant wins: the first one stored is the one everybody sees."""
    now = now or utcnow()
    key = facts_key(case)
    a = made.advice
    with store.unit_of_work() as uow:
        if not replace:
            existing = stored_suggestions.stored(uow.cursor, case["case_id"], key, made.model, made.prompt_version,
                                                 made.server)
            if existing:
                return _suggestion(existing)
        values = {"case_id": case["case_id"], "case_version": case["version"], "facts_key": key,
                  "source": made.source, "model": made.model, "prompt_version": made.prompt_version,
                  "server": made.server, "summary": a.summary, "action": a.action, "rationale": a.rationale,
                  "confidence": a.confidence, "missing_evidence": list(a.missing_evidence), "error": made.error,
                  "created_at": now}
        sid = stored_suggestions.insert(uow, values)
        uow.commit()
    return Suggestion(suggestion_id=sid, **values)


def suggestion_for(store: Store, rules: RuleSet, case_id: int, now: datetime | None = None, *,
                   config: AIConfig | None = None, client: openai.OpenAI | None = None) -> Suggestion | None:
    """The suggestion for the case's current facts: the stored one, else made now (waiting for the model,
    within its budget) and stored. None for an unknown case. For scripts and precompute; the Review page
    uses `request`, which never waits."""
    now = now or utcnow()
    config = config or AIConfig.from_env()
    case = _case(store, rules, case_id, now)
    if case is None:
        return None
    with _key_lock(_key(store, case, config)):
        found = lookup(store, case, config)
        if found:
            return found
        return save(store, case, advise(case, rules, config, client), now)


# -- without waiting ---------------------------------------------------------------------------------

@dataclass
class Pending:
    """A suggestion being made in the background for the Review page."""
    case_id: int
    future: Future
    started: float
    budget_s: float

    @property
    def overdue(self) -> bool:
        return not self.future.done() and time.monotonic() - self.started > self.budget_s + GRACE_S

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="exq-assist")
_guard = threading.Lock()
_pending: dict[tuple, Pending] = {}
_locks: dict[tuple, threading.Lock] = {}


def _key(store: Store, case: dict, config: AIConfig) -> tuple:
    return (store.label, case["case_id"], facts_key(case), config.key_model, config.prompt_version, config.server)


def _key_lock(key: tuple) -> threading.Lock:
    """One lock per suggestion key, so two browser sessions opening the same case ask the model once."""
    with _guard:
        return _locks.setdefault(key, threading.Lock())


def request(store: Store, rules: RuleSet, case_id: int, *, config: AIConfig, now: datetime | None = None,
            again: bool = False) -> Suggestion | Pending | None:
    """Without waiting: the stored suggestion for the case's facts, or a `Pending` being made in the
    background (one per key, however many pages ask). `again` asks the assistant anew (a person's choice)."""
    now = now or utcnow()
    case = _case(store, rules, case_id, now)
    if case is None:
        return None
    key = _key(store, case, config)
    if not again:
        found = lookup(store, case, config)
        if found:
            return found
    if not config.enabled:      # the offline assistant is a template, not a model: nothing to wait for
        with _key_lock(key):
            return save(store, case, advise(case, rules, config), replace=again)
    with _guard:
        pending = _pending.get(key)
        if pending is not None and not pending.future.done():
            return pending

        def work() -> Suggestion:
            with _key_lock(key):
                if not again:
                    found = lookup(store, case, config)
                    if found:
                        return found
                return save(store, case, advise(case, rules, config), replace=again)

        pending = Pending(case_id, _executor.submit(work), time.monotonic(), config.timeout_s)
        _pending[key] = pending
        for k in [k for k, p in _pending.items() if p.future.done() and k != key]:
            del _pending[k]
    return pending


def settle(store: Store, rules: RuleSet, pending: Pending, *, config: AIConfig) -> Suggestion | None:
    """The answer of a finished `Pending`; for one past its budget, the offline suggestion stored as a
    fallback (the background answer, when it comes, finds it stored and leaves it)."""
    if pending.future.done():
        try:
            return pending.future.result()
        except Exception as err:     # a store error in the background: the page still gets advice
            log.error("suggestion for case %s failed: %s", pending.case_id, err)
    case = _case(store, rules, pending.case_id, utcnow())
    if case is None:
        return None
    reason = f"no answer within the {config.timeout_s:g} s budget (EXQ_AI_TIMEOUT_S)"
    made = Made(offline_advice(case, rules), FALLBACK_SOURCE, config.model, PROMPT_VERSION, config.server, reason)
    return save(store, case, made)


# -- precomputing the top of the queue -----------------------------------------------------------------

@dataclass
class PrecomputeReport:
    cases: int = 0
    already: int = 0
    made: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def model_asked(self) -> int:
        return self.by_source.get("model", 0) + self.by_source.get(FALLBACK_SOURCE, 0)

    @property
    def all_failed(self) -> bool:
        """Every model request of this run failed (none asked: not a failure)."""
        return self.model_asked > 0 and self.by_source.get("model", 0) == 0


def precompute(store: Store, rules: RuleSet, *, limit: int = 50, bucket: Bucket | str | None = None,
               workers: int = 4, config: AIConfig | None = None, now: datetime | None = None,
               progress: Callable[[int, int], None] | None = None) -> PrecomputeReport:
    """Suggestions for the top `limit` cases of the queue (escalate-first order), asking the model with at
    most `workers` requests in flight. A stored fallback is asked again (this is the place to retry a model
    that was down); a stored model answer is kept."""
    now = now or utcnow()
    config = config or AIConfig.from_env()
    workers = max(1, min(int(workers), 16))
    f = queries.QueueFilter(buckets=[Bucket(bucket)] if bucket else [])
    report = PrecomputeReport()
    todo: list[tuple[dict, bool]] = []
    with store.read() as cur:
        page, _ = queries.queue_page(cur, rules, now, f, limit=limit)
        for case_id in page["case_id"].tolist():
            case = queries.case_detail(cur, rules, int(case_id), now)
            if case is None:
                continue
            report.cases += 1
            found = stored_suggestions.stored(cur, case["case_id"], facts_key(case), config.key_model,
                                              config.prompt_version, config.server)
            if found and found["source"] != FALLBACK_SOURCE:
                report.already += 1
            else:
                todo.append((case, found is not None))
    total = len(todo)
    if progress:
        progress(0, total)

    def record(case: dict, retry: bool, made: Made, done: int) -> None:
        save(store, case, made, now, replace=retry and made.source != FALLBACK_SOURCE)
        report.made += 1
        report.by_source[made.source] = report.by_source.get(made.source, 0) + 1
        if made.error:
            report.errors[made.error] = report.errors.get(made.error, 0) + 1
        if progress:
            progress(done, total)

    if not config.enabled:
        for done, (case, retry) in enumerate(todo, 1):
            record(case, retry, advise(case, rules, config), done)
        return report
    client = client_for(config)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exq-precompute") as pool:
        futures = {pool.submit(advise, case, rules, config, client): (case, retry) for case, retry in todo}
        for done, future in enumerate(as_completed(futures), 1):
            case, retry = futures[future]
            record(case, retry, future.result(), done)     # writes stay on this thread, serialised
    return report
