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

from exq_core.errors import CaseClaimed, StaleCase, TransitionNotAllowed
from exq_core.models import Actor, Role
from exq_core.store import open_store
from tests.support import reviewer_click


def work(url: str, worker: int, steps: int, case_ids: list[int]) -> dict:
    store = open_store(url, migrate=False)
    actor = Actor(username=f"p{worker}", role=Role.MANAGER)
    rnd = random.Random(worker)
    won, claims_only, refused = [], [], Counter()
    assert sys.stdin.readline().strip() == "go"
    for step in range(steps):
        try:
            kind, case_id, version = reviewer_click(store, actor, rnd, case_ids, f"{worker:04d}-{step:04d}")
        except (StaleCase, CaseClaimed, TransitionNotAllowed) as err:
            refused[type(err).__name__] += 1
            continue
        if kind == "claim only":
            claims_only.append(case_id)
        else:
            won.append([kind, case_id, version])
    store.close()
    return {"won": won, "claims_only": claims_only, "refused": dict(refused)}


if __name__ == "__main__":
    url, worker, steps, *ids = sys.argv[1:]
    print(json.dumps(work(url, int(worker), int(steps), [int(i) for i in ids])), flush=True)
