"""Benchmarks against SPEC §8's budgets. `python -m bench.run` (or `make bench`) prints one table.

Each `bench/bench_*.py` module exposes `run(ctx: Context) -> list[Row]`. The runner builds the shared
data once per size (a demo feed CSV and a database imported from it) so modules reuse it.
Tests run every module at a small size so the benchmarks keep working; the budgets are checked here.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    measure: str
    value: float
    unit: str
    budget: str = ""
    ok: bool | None = None          # None: no budget at this size / informational

    def cells(self) -> list[str]:
        verdict = "" if self.ok is None else ("ok" if self.ok else "OVER")
        return [self.measure, f"{self.value:,.3f}" if self.value < 100 else f"{self.value:,.0f}", self.unit,
                self.budget, verdict]


@dataclass
class Context:
    orders: int
    repeat: int
    workdir: Path
    full_size: bool                 # True at the sizes the spec names: budgets apply
    _cache: dict = field(default_factory=dict)

    def feed_csv(self) -> Path:
        """The demo feed at this size, written once."""
        if "feed" not in self._cache:
            from exq_core.demo import write_feed
            self._cache["feed"] = write_feed(self.workdir / f"feed-{self.orders}.csv", self.orders, seed=11)
        return self._cache["feed"]

    def demo_db(self) -> Path:
        """A database seeded with the demo (orders routed, history played out), built once; copy it."""
        if "db" not in self._cache:
            from exq_core.demo import seed_demo
            from exq_core.store import open_store
            path = self.workdir / f"demo-{self.orders}.duckdb"
            with open_store(path) as store:
                seed_demo(store, n=self.orders, seed=11)
                store.checkpoint()
            self._cache["db"] = path
        return self._cache["db"]

    def copy_db(self, name: str) -> Path:
        target = self.workdir / f"{name}.duckdb"
        shutil.copy(self.demo_db(), target)
        return target


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, list[float], object]:
    """Median wall time in seconds over `repeat` runs, all runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def run_child(module: str, *args: str, remove: tuple[Path, ...] = ()) -> tuple[dict, object]:
    """Run `python -m <module> <args>` in a child process, so its peak memory is its own.
    Returns the JSON object on the child's last stdout line and the child's rusage. Files in `remove`
    (and their .wal) are deleted before and after."""
    import json
    import os
    import subprocess

    def clean():
        for p in remove:
            for f in (p, Path(str(p) + ".wal")):
                f.unlink(missing_ok=True)

    clean()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves: wait4 gives the child's rusage
        returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args[:1])} failed ({returncode}): {stderr[-2000:]}")
    clean()
    return json.loads(stdout.strip().splitlines()[-1]), usage


def modules(only: list[str] | None = None):
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("bench_") and (not only or info.name.removeprefix("bench_") in only):
            yield importlib.import_module(f"bench.{info.name}")


def run_all(orders: int, repeat: int, only: list[str] | None = None, workdir: Path | None = None) -> list[Row]:
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="exq-bench-"))
    ctx = Context(orders=orders, repeat=repeat, workdir=workdir, full_size=orders >= 1_000_000)
    rows: list[Row] = []
    try:
        for module in modules(only):
            rows.extend(module.run(ctx))
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    return rows


def print_table(rows: list[Row], orders: int, repeat: int) -> None:
    header = ["measure", "value", "unit", "budget", ""]
    table = [header] + [r.cells() for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"exq benchmarks: {orders:,} orders, median of {repeat} run(s)")
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) if j in (0, 2, 3) else cell.rjust(w)
                        for j, (cell, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="comma-separated module names, e.g. import,overview")
    args = parser.parse_args(argv)
    rows = run_all(args.orders, args.repeat, args.only.split(",") if args.only else None)
    print_table(rows, args.orders, args.repeat)
    return 1 if any(r.ok is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
