"""`python -m exq_core demo` at ctx.orders: write the synthetic feed, import and route it, play out the
team's month through the transition function. Must finish in minutes at 1,000,000 orders.

Each run is the real command in a child process on a fresh file, so its peak RSS is its own (bench.run.spawn_child).
"""
from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.run import Context, Row, spawn_child, wait_child

BACKENDS = ("duckdb",)           # `make run` seeds a DuckDB file
BUDGET_SECONDS = 300.0   # "minutes" at 1M orders


def _demo_once(db: Path, orders: int) -> tuple[float, float]:
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err_file:
        proc = spawn_child("exq_core", "demo", "--db", str(db), "--orders", str(orders), "--seed", "11",
                           "--quiet", stdout=subprocess.DEVNULL, stderr=err_file)
        code, usage = wait_child(proc)
        seconds = time.perf_counter() - start
        err_file.seek(0)
        err = err_file.read()
    if code != 0:
        raise RuntimeError(f"demo failed ({code}): {err[-2000:]}")
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    return seconds, usage.ru_maxrss / 1024


def run(ctx: Context) -> list[Row]:
    times, rss = [], []
    for i in range(ctx.repeat):
        seconds, peak = _demo_once(ctx.workdir / f"demo-cli-{i}.duckdb", ctx.orders)
        times.append(seconds)
        rss.append(peak)
    median = statistics.median(times)
    return [
        Row(f"demo --orders {ctx.orders:,} (CLI, end to end)", median, "s", f"≤ {BUDGET_SECONDS:g} s",
            median <= BUDGET_SECONDS if ctx.full_size else None),
        Row("demo peak RSS (child process)", max(rss), "MB"),
    ]
