"""Import + route a feed CSV (SPEC §8: ≤ 15 s for 1,000,000 rows, and ≤ 2.5× DuckDB's bare CSV load of the
same file), for the demo feed (a healthy shop) and the held-out-shaped feed (bench/heldout.py: nulls,
blanks, boundary values, long and hostile text, about 90 % exceptions).

Each run is a fresh Python process on a fresh database, so its peak RSS (VmHWM: bench.run.spawn_child) and CPU time are the
import's own: the bare side is DuckDB's `CREATE TABLE … AS SELECT * FROM read_csv(file)`; the exq side is
`import_file` (hash, read, validate, apply snapshots, route, commit). On PostgreSQL the file is read and
validated by DuckDB in memory and then copied in with COPY; the PostgreSQL server's own CPU is not in the
figure (its wall time is).
"""
from __future__ import annotations

import json
import statistics
import sys

from bench.run import ROOT, Context, Row, run_child

BACKENDS = ("duckdb", "postgresql")
BUDGET_SECONDS = 15.0
BUDGET_RATIO = 2.5


def _child(kind: str, feed: str, db: str) -> None:
    """Runs in the child process: one measured load, its time printed as JSON."""
    import time
    sys.path.insert(0, str(ROOT))
    from exq_core.store import open_store
    from exq_core.store.duck import connect
    if kind == "bare":
        con = connect(db)
        start, cpu = time.perf_counter(), time.process_time()
        con.execute("CREATE TABLE feed AS SELECT * FROM read_csv($path)", {"path": feed})
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = con.execute("SELECT count(*) FROM feed").fetchone()[0]
        con.close()
    else:
        from exq_core.ingest import import_file
        store = open_store(db)
        start, cpu = time.perf_counter(), time.process_time()
        result = import_file(store, feed, fmt="csv", source="bench")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = result.rows
        store.close()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows}))


def _measure(ctx: Context, kind: str, feed, name: str) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of all threads, peak RSS in MB) of one run in a child process."""
    if kind == "bare":
        db = ctx.workdir / f"{name}.duckdb"
        db.unlink(missing_ok=True)
    else:
        db = ctx.target(name)
    try:
        data, usage = run_child("bench.bench_import", kind, str(feed), str(db))
    finally:
        ctx.drop(db)
    return data["seconds"], data["cpu"], usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _one_feed(ctx: Context, label: str, feed) -> list[Row]:
    bare, imports, rss, cpu_bare, cpu_import = [], [], [], [], []
    for i in range(ctx.repeat):
        if not ctx.is_postgres:        # the bare DuckDB load is the yardstick for both backends
            seconds, cpu, _ = _measure(ctx, "bare", feed, f"bare-{i}")
            bare.append(seconds)
            cpu_bare.append(cpu)
        seconds, cpu, peak = _measure(ctx, "import", feed, f"import_{i}")
        imports.append(seconds)
        cpu_import.append(cpu)
        rss.append(peak)
    if bare:
        ctx.shared[f"bare-{label}"] = (statistics.median(bare), statistics.median(cpu_bare))
    t_bare, c_bare = ctx.shared.get(f"bare-{label}", (None, None))
    t_import = statistics.median(imports)
    ratio = t_import / t_bare if t_bare else None
    n = f"{ctx.orders:,}"
    rows = [
        Row(f"import + route {n} rows, {label} (CSV)", t_import, "s", f"≤ {BUDGET_SECONDS:g} s",
            ctx.verdict(t_import <= BUDGET_SECONDS) if not ctx.is_postgres else None,
            cpu=statistics.median(cpu_import)),
        Row(f"  ÷ DuckDB's bare read_csv load of the same file ({label})", ratio, "×", f"≤ {BUDGET_RATIO:g}×",
            ctx.verdict(ratio <= BUDGET_RATIO) if ratio is not None and not ctx.is_postgres else None,
            compare=False),
        Row(f"  import peak RSS ({label})", max(rss), "MB", compare=False),
    ]
    if not ctx.is_postgres:
        rows.insert(0, Row(f"bare DuckDB read_csv load, {n} rows, {label}", t_bare, "s", compare=False,
                           cpu=c_bare))
    return rows


def run(ctx: Context) -> list[Row]:
    return _one_feed(ctx, "demo feed", ctx.feed_csv()) + _one_feed(ctx, "held-out shape", ctx.heldout_csv())


if __name__ == "__main__":
    _child(*sys.argv[1:4])
