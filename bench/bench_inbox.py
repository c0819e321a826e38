"""An import inside the running app (SPEC §8): the held-out-shaped feed of ctx.orders rows dropped into the
inbox of a process that opened the store as the dashboard does (DuckDB's memory limit set), while a
reviewer in that process keeps deciding cases. Peak RSS of the process ≤ 1 GB; the decisions saved during
the import, and their p95 — what a reviewer waits for while the inbox works.

Runs in a child process (its own peak RSS: bench.run.spawn_child).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

from bench.run import ROOT, Context, Row, bench_actor, quantile, run_child

BACKENDS = ("duckdb", "postgresql")
RSS_MB = 1024.0


def _child(db: str, feed: str, folder: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.bench_decision import _request, open_unclaimed
    from exq_core import services
    from exq_core.ingest.inbox import InboxWatcher
    from exq_core.store import open_store
    from exq_core.store.duck import APP_MEMORY_LIMIT

    actor = bench_actor()
    store = open_store(db, memory_limit=APP_MEMORY_LIMIT)      # as ui.common.get_store opens it
    cases = [services.claim(store, cid, actor) for cid in open_unclaimed(store, actor, 400)]
    inbox = Path(folder)
    inbox.mkdir(parents=True, exist_ok=True)
    watcher = InboxWatcher(store, inbox, interval=0.2)
    staged = inbox / "big.csv.part"
    shutil.copy(feed, staged)
    old = time.time() - 60
    os.utime(staged, (old, old))
    os.replace(staged, inbox / "big.csv")
    outcome: dict = {}

    def import_once():
        start = time.perf_counter()
        outcome["results"] = watcher.run_once()          # the watcher's own pass, on another thread
        outcome["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=import_once)
    started = time.perf_counter()
    thread.start()
    times, i = [], 0
    while thread.is_alive():
        case = cases[i % len(cases)]
        begin = time.perf_counter()
        out = services.decide(store, _request(case, i), actor)
        times.append((time.perf_counter() - begin) * 1000)
        cases[i % len(cases)] = out.case
        i += 1
    thread.join()
    status = [r.status for r in outcome["results"]]
    store.close()
    print(json.dumps({"import_s": outcome["seconds"], "status": status, "decisions": len(times),
                      "p50": statistics.median(times) if times else None,
                      "p95": quantile(times, 0.95) if times else None, "max": max(times) if times else None,
                      "span": time.perf_counter() - started}))


def run(ctx: Context) -> list[Row]:
    feed = ctx.heldout_csv()
    db = ctx.copy_db("inbox")
    folder = ctx.workdir / "inbox-bench"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        data, usage = run_child("bench.bench_inbox", str(db), str(feed), str(folder))
    finally:
        ctx.drop(db)
        shutil.rmtree(folder, ignore_errors=True)
    if data["status"] != ["imported"]:
        raise RuntimeError(f"the inbox import did not succeed: {data['status']}")
    rss = usage.ru_maxrss / 1024
    return [
        Row(f"inbox import of {ctx.orders:,} held-out rows inside the app process", data["import_s"], "s"),
        Row("  app process peak RSS during it", rss, "MB", f"≤ {RSS_MB:.0f} MB", ctx.verdict(rss <= RSS_MB),
            compare=False),
        Row("  decisions saved while it ran", float(data["decisions"]), "decisions", compare=False),
        Row("  decision p95 while it ran", data["p95"], "ms"),
        Row("  decision max while it ran", data["max"], "ms", compare=False),
    ]


if __name__ == "__main__":
    _child(*sys.argv[1:4])
