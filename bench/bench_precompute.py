"""Precomputed suggestions are used (issue 10): `suggest` asks the model for the top of the queue before
anyone opens it; then reviewers open those cases (a claim, which bumps the case's version) and the Review
page looks for a stored suggestion for the case's facts. The hit rate is the share of opened cases whose
suggestion came from the store without asking the model again; the model is a local OpenAI-compatible
server (tests/ai_server.py), so nothing leaves the machine.
"""
from __future__ import annotations

import statistics
import time

from bench.run import Context, Row, bench_actor
from exq_core import queries, services
from exq_core.assist import AIConfig
from exq_core.assist.storage import lookup, precompute
from exq_core.errors import CaseClaimed
from exq_core.rules import load_rules
from exq_core.store import open_store, utcnow

BACKENDS = ("duckdb", "postgresql")
TOP = 100


def run(ctx: Context) -> list[Row]:
    from tests.ai_server import FakeOpenAI
    rules, actor = load_rules(), bench_actor()
    db = ctx.copy_db("precompute")
    try:
        with FakeOpenAI() as server, open_store(db) as store:
            config = AIConfig(**server.config())
            now = utcnow()
            start = time.perf_counter()
            report = precompute(store, rules, limit=TOP, config=config, now=now)
            precompute_s = time.perf_counter() - start
            asked_before = len(server.requests)
            with store.read() as cur:
                top = queries.queue_page(cur, rules, now, queries.QueueFilter(), limit=TOP)[0]["case_id"].tolist()
            hits, waits = 0, []
            for case_id in top:
                try:
                    services.claim(store, int(case_id), actor)             # the reviewer opens the case
                except CaseClaimed:
                    pass            # held by a colleague: the page shows it without claiming, suggestion too
                with store.read() as cur:
                    case = queries.case_detail(cur, rules, int(case_id), utcnow())
                begin = time.perf_counter()
                found = lookup(store, case, config)
                waits.append((time.perf_counter() - begin) * 1000)
                hits += found is not None and found.source == "model"
            asked_after = len(server.requests) - asked_before
    finally:
        ctx.drop(db)
    rate = 100.0 * hits / len(top) if top else 0.0
    return [
        Row(f"suggest: precompute the top {TOP} with the model (local server)", precompute_s, "s",
            compare=False),
        Row(f"  precomputed suggestions used when the {len(top)} cases are opened (hit rate)", rate, "%",
            "100 %", ctx.verdict(rate == 100.0 and report.made + report.already >= len(top)), compare=False),
        Row("  model requests made again on opening", float(asked_after), "requests", "0", ctx.verdict(asked_after == 0),
            compare=False),
        Row("  stored suggestion lookup on opening, median", statistics.median(waits), "ms"),
    ]
