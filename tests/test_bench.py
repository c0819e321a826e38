"""Every benchmark module runs at a small size on the backend under test, so the benchmarks keep working.
Budgets live in bench/ (they apply at 1,000,000 orders); here only what holds at any size is checked."""
import pytest

from bench.run import modules, print_table, run_all

pytestmark = pytest.mark.slow


def _run(module: str, backend: str, pg_server, tmp_path, orders: int = 2_000):
    return run_all(orders=orders, repeat=1, only=[module], workdir=tmp_path, backends=(backend,), pg=pg_server)


@pytest.mark.parametrize("module", [m.__name__.removeprefix("bench.bench_") for m in modules()])
def test_benchmark_runs_small(module, backend, pg_server, tmp_path, capsys):
    applies = backend in getattr(next(m for m in modules([module])), "BACKENDS", ("duckdb", "postgresql"))
    results = _run(module, backend, pg_server, tmp_path)
    if not applies:
        assert results == []
        return
    assert results, "a benchmark module must report at least one row"
    assert not [r.measure for r in results if " FAILED: " in r.measure]
    for result in results:
        row = result.by_backend[backend]
        assert result.unit and (row.value is None or row.value >= 0), result
        assert row.ok is None                   # budgets are judged at the spec's sizes only
    print_table(results, 2_000, 1, (backend,))
    assert results[0].measure in capsys.readouterr().out


def test_precomputed_suggestions_are_all_used(backend, pg_server, tmp_path):
    results = {r.measure.strip(): r.by_backend[backend].value for r in _run("precompute", backend, pg_server, tmp_path)}
    rate = next(v for k, v in results.items() if "hit rate" in k)
    assert rate == 100.0
    assert results["model requests made again on opening"] == 0


def test_the_held_out_feed_is_mostly_exceptions_with_boundary_values(tmp_path):
    from bench.heldout import write_heldout
    from exq_core.ingest import import_file
    from exq_core.store import open_store
    feed = write_heldout(tmp_path / "heldout.csv", 3_000)
    text = feed.read_text()
    for boundary in ("1000.000", "999.990", "0.7499", "4999.99", "=HYPERLINK(", "<script>"):
        assert boundary in text, boundary
    with open_store(tmp_path / "h.duckdb") as store:
        result = import_file(store, feed, source="heldout")
    assert result.rejected == 0 and result.rows == 3_000
    assert 0.85 <= result.cases_new / result.rows <= 0.95
    assert len(result.cases_new_by_bucket) == 6
