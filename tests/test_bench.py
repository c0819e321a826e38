"""Every benchmark module runs at a small size, so the benchmarks keep working. Budgets live in bench/."""
import pytest

from bench.run import modules, run_all


@pytest.mark.parametrize("module", [m.__name__.removeprefix("bench.bench_") for m in modules()] or ["none"])
def test_benchmark_runs_small(module, tmp_path):
    if module == "none":
        pytest.skip("no benchmark modules yet")
    rows = run_all(orders=2_000, repeat=1, only=[module], workdir=tmp_path)
    assert rows, "a benchmark module must report at least one row"
    for row in rows:
        assert row.value >= 0 and row.unit
