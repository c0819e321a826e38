"""Benchmarks against SPEC §8's budgets, on both backends side by side. `make bench` (or
`python -m bench.run --orders 1000000`) prints one table: each measure on DuckDB and on PostgreSQL, their
ratio (§8: PostgreSQL within 2× of DuckDB), the budget and the verdict.

    python -m bench.run --orders 1000000 --repeat 3                    # both backends, every module
    python -m bench.run --orders 200000 --only queue,decision --backends duckdb
    python -m bench.run --pg-url postgresql://exq@127.0.0.1/postgres    # an existing server, not a private one

Each `bench/bench_*.py` module exposes `run(ctx: Context) -> list[Row]` and `BACKENDS` (those it applies
to). The runner builds the shared data once (the demo feed and database, the held-out-shaped feeds and
databases) and hands each module a Context for one backend. Without --pg-url a private PostgreSQL cluster
is started for the run and stopped after it (tests/pg_cluster.py), durable as a team's server is (fsync,
full-page writes and synchronous commit on, PostgreSQL's defaults; the test suite's cluster has them off).
Wall times are noisy on a shared machine: CPU time is reported beside them where the work happens in our
process. Budgets apply at 1,000,000 orders; tests run every module small so the benchmarks keep working.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BACKENDS = ("duckdb", "postgresql")
PG_WITHIN = 2.0                   # SPEC §8: PostgreSQL within 2× of the DuckDB figures
BENCH_USER, BENCH_PASSWORD = "bench-manager", "bench-password-123"


@dataclass
class Row:
    measure: str
    value: float | None
    unit: str
    budget: str = ""
    ok: bool | None = None          # None: no budget at this size, or informational
    compare: bool = True            # a figure where PostgreSQL should stay within 2× of DuckDB (lower is better)
    cpu: float | None = None        # CPU seconds of our process for the same work, where it is measured

    def shown(self) -> str:
        if self.value is None:
            return "—"
        text = f"{self.value:,.3f}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        return text + (f" (cpu {self.cpu:.2f})" if self.cpu is not None else "")


@dataclass
class Context:
    orders: int
    repeat: int
    workdir: Path
    full_size: bool                 # True at the sizes the spec names: budgets apply
    backend: str = "duckdb"
    shared: dict = field(default_factory=dict)     # data built once for every backend (feeds, DuckDB files)
    pg: object = None               # tests.pg_cluster.Databases when the backend is PostgreSQL

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def verdict(self, ok: bool) -> bool | None:
        return ok if self.full_size else None

    # -- feeds ----------------------------------------------------------------------------------------

    def feed_csv(self) -> Path:
        """The demo feed at this size (a healthy shop, about 7 % exceptions), written once."""
        if "feed" not in self.shared:
            from exq_core.demo import write_feed
            self.shared["feed"] = write_feed(self.workdir / f"feed-{self.orders}.csv", self.orders, seed=11)
        return self.shared["feed"]

    def heldout_csv(self, exceptions: float = 0.96) -> Path:
        """The held-out-shaped feed (bench/heldout.py): about 90 % cases by default."""
        key = f"heldout-{exceptions}"
        if key not in self.shared:
            from bench.heldout import write_heldout
            self.shared[key] = write_heldout(self.workdir / f"{key}-{self.orders}.csv", self.orders,
                                             exceptions=exceptions)
        return self.shared[key]

    # -- databases ------------------------------------------------------------------------------------

    def target(self, name: str):
        """A new, empty database for this backend: a file path, or a PostgreSQL URL."""
        if self.is_postgres:
            self.pg.drop(name)
            self.pg.create(name=name)
            return self.pg.url(name)
        path = self.workdir / f"{name}.duckdb"
        for p in (path, Path(f"{path}.wal")):
            p.unlink(missing_ok=True)
        return path

    def drop(self, target) -> None:
        if self.is_postgres:
            self.pg.drop(str(target).rsplit("/", 1)[1])
        else:
            for p in (Path(target), Path(f"{target}.wal")):
                p.unlink(missing_ok=True)

    def _duck_demo(self) -> Path:
        if "demo" not in self.shared:
            from exq_core.demo import seed_demo
            from exq_core.store import open_store
            path = self.workdir / f"demo-{self.orders}.duckdb"
            with open_store(path) as store:
                seed_demo(store, n=self.orders, seed=11)
                ensure_bench_user(store)
                store.checkpoint()
            self.shared["demo"] = path
        return self.shared["demo"]

    def _duck_heldout(self, exceptions: float) -> Path:
        key = f"heldout-db-{exceptions}"
        if key not in self.shared:
            from exq_core.ingest import import_file
            from exq_core.store import open_store
            path = self.workdir / f"{key}-{self.orders}.duckdb"
            with open_store(path) as store:
                ensure_bench_user(store)
                import_file(store, self.heldout_csv(exceptions), source="heldout")
                store.checkpoint()
            self.shared[key] = path
        return self.shared[key]

    def _template(self, key: str, duck: Path) -> str:
        """The PostgreSQL twin of a DuckDB file, made once with migrate-store (the same rows and ids)."""
        name = f"tpl_{key.replace('-', '_').replace('.', '_')}"
        if name not in self.shared:
            from exq_core.store import open_store
            from exq_core.store.transfer import copy_duckdb_to_postgres
            url = self.target(name)
            with open_store(duck, read_only=True) as source, open_store(url) as target:
                copy_duckdb_to_postgres(source, target)
            # what autovacuum does after a bulk load on a team server: statistics for the planner, and the
            # visibility map that lets a count read an index alone
            import psycopg
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("VACUUM ANALYZE")
            self.shared[name] = name
        return name

    def copy_db(self, name: str, of: str = "demo", exceptions: float = 0.96):
        """A private copy of the demo database (`of="demo"`) or of an imported held-out feed
        (`of="heldout"`), with the bench manager account in it."""
        duck = self._duck_demo() if of == "demo" else self._duck_heldout(exceptions)
        if self.is_postgres:
            template = self._template(f"{of}-{exceptions}" if of != "demo" else "demo", duck)
            self.pg.drop(name)
            self.pg.create(template=template, name=name)
            return self.pg.url(name)
        target = self.target(name)             # no file and no stale WAL of an earlier copy left
        shutil.copy(duck, target)
        return target


def ensure_bench_user(store) -> None:
    from exq_core import auth
    from exq_core.models import SYSTEM, Role
    if auth.count_users(store) == 0 or BENCH_USER not in {a.username for a in auth.list_users(store, SYSTEM)}:
        auth.add_user(store, BENCH_USER, BENCH_PASSWORD, Role.MANAGER, SYSTEM)


def bench_actor():
    from exq_core.models import Actor, Role
    return Actor(username=BENCH_USER, role=Role.MANAGER)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, list[float], object]:
    """Median wall time in seconds over `repeat` runs, all runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q * 100) - 1]


# A child's own peak RSS. wait4's ru_maxrss is no good for it: the child is started by vfork from this
# process, and Linux keeps the larger of the parent's high-water mark at exec and the child's own — a child
# of a 2 GB runner reported 2 GB whatever it did. VmHWM of /proc/self/status after exec is the child's alone.
_LAUNCH = """
import atexit, os, runpy, sys
def _peak():
    with open('/proc/self/status') as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))
    with open(os.environ['EXQ_BENCH_PEAK'], 'w') as out:
        out.write(str(kib))
atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
"""


@dataclass
class ChildUsage:
    ru_maxrss: float        # KiB, the child's own peak (VmHWM)
    ru_utime: float
    ru_stime: float


def spawn_child(module: str, *args: str, stdout=None, stderr=None, env: dict | None = None):
    """Start `python -m <module> <args>` so that wait_child() can tell its own peak memory and CPU."""
    peak = tempfile.NamedTemporaryFile("w+", suffix=".peak", delete=False)
    peak.close()
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, module, *args], cwd=ROOT, stdout=stdout,
                            stderr=stderr, text=True,
                            env={**os.environ, **(env or {}), "EXQ_BENCH_PEAK": peak.name})
    proc.peak_file = peak.name
    return proc


def wait_child(proc) -> tuple[int, ChildUsage]:
    _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves: wait4 gives the child's CPU
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    path = Path(proc.peak_file)
    try:
        kib = float(path.read_text() or "nan")
    except (OSError, ValueError):
        kib = float("nan")
    path.unlink(missing_ok=True)
    return code, ChildUsage(kib, usage.ru_utime, usage.ru_stime)


def run_child(module: str, *args: str, env: dict | None = None) -> tuple[dict, ChildUsage]:
    """Run `python -m <module> <args>` in a child process, so its peak memory and CPU are its own.
    Returns the JSON object on the child's last stdout line and the child's usage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = spawn_child(module, *args, stdout=out, stderr=err, env=env)
        returncode, usage = wait_child(proc)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args[:1])} failed ({returncode}): {stderr[-2000:]}")
    return json.loads(stdout.strip().splitlines()[-1]), usage


def modules(only: list[str] | None = None):
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("bench_") and (not only or info.name.removeprefix("bench_") in only):
            yield importlib.import_module(f"bench.{info.name}")


@dataclass
class Result:
    module: str
    measure: str
    unit: str
    budget: str
    compare: bool
    by_backend: dict = field(default_factory=dict)      # backend -> Row


def run_all(orders: int, repeat: int, only: list[str] | None = None, workdir: Path | None = None,
            backends: tuple[str, ...] = ("duckdb",), pg=None) -> list[Result]:
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="exq-bench-"))
    shared: dict = {}
    results: dict[tuple[str, str], Result] = {}
    try:
        for module in modules(only):
            name = module.__name__.removeprefix("bench.bench_")
            for backend in backends:
                if backend not in getattr(module, "BACKENDS", BACKENDS):
                    continue
                ctx = Context(orders=orders, repeat=repeat, workdir=workdir, full_size=orders >= 1_000_000,
                              backend=backend, shared=shared, pg=pg)
                try:
                    rows = module.run(ctx)
                except Exception as err:      # one module failing must not lose the others' figures
                    import traceback
                    traceback.print_exc()
                    rows = [Row(f"{name} FAILED: {type(err).__name__}: {str(err).splitlines()[0][:120]}", None,
                                "-")]
                for row in rows:
                    key = (name, row.measure)
                    result = results.setdefault(key, Result(name, row.measure, row.unit, row.budget, row.compare))
                    result.by_backend[backend] = row
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    return list(results.values())


def verdict(result: Result, full_size: bool) -> str:
    parts = []
    for backend, label in (("duckdb", "DuckDB"), ("postgresql", "PG")):
        row = result.by_backend.get(backend)
        if row is not None and row.ok is not None:
            parts.append(f"{label} {'ok' if row.ok else 'OVER'}")
    duck, pg = result.by_backend.get("duckdb"), result.by_backend.get("postgresql")
    if full_size and result.compare and duck and pg and duck.value and pg.value is not None:
        parts.append("PG ≤ 2×" if pg.value <= PG_WITHIN * duck.value else "PG > 2×")
    return ", ".join(parts)


def print_table(results: list[Result], orders: int, repeat: int, backends: tuple[str, ...]) -> None:
    full = orders >= 1_000_000
    header = ["measure", *[{"duckdb": "DuckDB", "postgresql": "PostgreSQL"}[b] for b in backends]]
    if len(backends) == 2:
        header.append("PG÷Duck")
    header += ["unit", "budget", "verdict"]
    table = [header]
    for r in results:
        cells = [r.measure] + [r.by_backend[b].shown() if b in r.by_backend else "" for b in backends]
        if len(backends) == 2:
            d, p = r.by_backend.get("duckdb"), r.by_backend.get("postgresql")
            cells.append(f"{p.value / d.value:.2f}" if d and p and d.value and p.value is not None
                         and r.compare else "")
        cells += [r.unit, r.budget, verdict(r, full)]
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"exq benchmarks: {orders:,} orders, median of {repeat} run(s); CPU seconds of our own process in "
          "brackets where measured")
    numeric = set(range(1, len(backends) + (2 if len(backends) == 2 else 1)))
    for i, row in enumerate(table):
        print("  ".join(cell.rjust(w) if j in numeric else cell.ljust(w)
                        for j, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def failed(results: list[Result], full_size: bool) -> bool:
    return any("OVER" in verdict(r, full_size) or "PG > 2×" in verdict(r, full_size) or " FAILED: " in r.measure
               for r in results)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated module names, e.g. import,queue")
    parser.add_argument("--backends", default="duckdb,postgresql", help="duckdb, postgresql or both (default)")
    parser.add_argument("--pg-url", help="an existing PostgreSQL server (a user that may create databases)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    cluster = pg = None
    if "postgresql" in backends:
        from tests.pg_cluster import Databases, PrivateCluster, server_bin
        if args.pg_url:
            pg = Databases(args.pg_url)
        elif server_bin() is None:
            print("!!! PostgreSQL is not installed: DuckDB only.", file=sys.stderr)
            backends = tuple(b for b in backends if b != "postgresql")
        else:
            cluster = PrivateCluster(durable=True).start()
            pg = Databases(cluster.url())
    try:
        started = time.perf_counter()
        results = run_all(args.orders, args.repeat, args.only.split(",") if args.only else None,
                          backends=backends, pg=pg)
    finally:
        if cluster is not None:
            cluster.stop()
    print_table(results, args.orders, args.repeat, backends)
    print(f"(whole run {time.perf_counter() - started:,.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps([{**asdict(r), "by_backend": {b: asdict(row) for b, row in
                                                                            r.by_backend.items()}}
                                               for r in results], indent=1, default=str))
    return 1 if failed(results, args.orders >= 1_000_000) else 0


if __name__ == "__main__":
    sys.exit(main())
