"""One app process of the multi-process test (tests/integration/test_processes.py): opens its own store on
the shared PostgreSQL database, waits for "go" on stdin, then works the given cases for a while — claims and
decisions on the version it read, as a reviewer clicking in a browser — and prints what it won as JSON.

    python -m tests.process_worker URL WORKER STEPS CASE_ID [CASE_ID …]
"""
from __future__ import annotations

import json
import random
import sys
from collections import Counter
from datetime import datetime, timedelta

from exq_core import services
from exq_core.errors import CaseClaimed, StaleCase, TransitionNotAllowed
from exq_core.models import Actor, DecisionRequest, Role, State
from exq_core.store import open_store

NOW = datetime(2026, 11, 27, 12, 0, 0)


def work(url: str, worker: int, steps: int, case_ids: list[int]) -> dict:
    store = open_store(url, migrate=False)
    actor = Actor(username=f"p{worker}", role=Role.MANAGER)
    rnd = random.Random(worker)
    won, claims_only, refused = [], [], Counter()
    assert sys.stdin.readline().strip() == "go"
    for step in range(steps):
        case = services.get_case(store, rnd.choice(case_ids))
        try:
            if case.state in (State.NEW, State.WAITING) or (case.state is State.ESCALATED and rnd.random() < 0.3):
                after = services.claim(store, case.case_id, actor, NOW)
                with store.read() as cur:   # this process's own claim event says if the state moved
                    moved = cur.execute("SELECT from_state <> to_state FROM events WHERE case_id = ? AND actor = ? "
                                        "ORDER BY event_id DESC LIMIT 1", [case.case_id, actor.username]).fetchone()[0]
                if moved:
                    won.append(["claim", case.case_id, after.version - 1])
                else:
                    claims_only.append(case.case_id)
                continue
            if case.state is State.IN_REVIEW:
                to_state = rnd.choice([State.ESCALATED, State.WAITING, State.RESOLVED])
            elif case.state is State.ESCALATED:
                to_state = rnd.choice([State.IN_REVIEW, State.RESOLVED])
            else:
                to_state = State.IN_REVIEW
            extra = {}
            if to_state is State.RESOLVED:
                extra = {"resolution_reason": "reconciled_with_psp", "evidence": f"PSP txn {worker:04d}-{step:04d}"}
            elif to_state is State.WAITING:
                extra = {"follow_up_at": NOW + timedelta(hours=1)}
            elif case.state is State.RESOLVED:
                extra = {"note": "reopened in the multi-process test"}
            out = services.decide(store, DecisionRequest(case_id=case.case_id, case_version=case.version,
                                                         to_state=to_state, **extra), actor, NOW)
            assert out.case.version == case.version + 1
            won.append(["decide", case.case_id, case.version])
        except (StaleCase, CaseClaimed, TransitionNotAllowed) as err:
            refused[type(err).__name__] += 1
    store.close()
    return {"won": won, "claims_only": claims_only, "refused": dict(refused)}


if __name__ == "__main__":
    url, worker, steps, *ids = sys.argv[1:]
    print(json.dumps(work(url, int(worker), int(steps), [int(i) for i in ids])), flush=True)
