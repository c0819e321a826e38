"""Helpers for integration tests: feed files written from dicts, and table snapshots to prove that
something wrote nothing."""
from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exq_core.models import FEED_COLUMNS
from exq_core.store import open_store

ROOT = Path(__file__).resolve().parents[2]

# A routine order; tests override what they are about.
ROUTINE = {
    "placed_at": "2026-11-27T08:00:00Z", "order_total": "100.00", "currency": "USD",
    "updated_at": "2026-11-27T08:05:00Z", "customer_id": "C1", "customer_email": "a@example.com",
    "customer_tier": "standard", "customer_ltv": "200.00", "payment_status": "paid", "amount_paid": "100.00",
    "risk_score": "0.10", "risk_level": "low", "items_ordered": "2", "items_available": "5",
    "ship_name": "Ada Lovelace", "ship_address1": "1 Main St", "ship_city": "Austin",
    "ship_postal_code": "78701", "ship_country": "US", "address_verified": "true",
    "fulfillment_status": "unfulfilled", "return_requested": "false", "damage_reported": "false",
}

TABLES = ("orders", "cases", "events", "decisions", "suggestions", "imports", "rejects")


def write_feed(path: Path, rows: list[dict], columns=FEED_COLUMNS) -> Path:
    """A CSV feed; each row is ROUTINE plus its own fields (order_id required)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**ROUTINE, **row})
    return path


def snapshot(store) -> dict:
    """Row count and an order-independent content hash of every table, plus the sequences (DuckDB: a
    PostgreSQL sequence is not transactional by design — a rolled-back insert still uses up its number)."""
    out = {}
    row_hash = "hashtext(t::text)::BIGINT" if store.is_postgres else "hash(t)"
    with store.read() as cur:
        for table in TABLES:
            out[table] = tuple(cur.execute(f"SELECT count(*), coalesce(sum({row_hash}), 0) FROM {table} t")
                               .fetchone())
        if not store.is_postgres:
            out["sequences"] = sorted(cur.execute("SELECT sequence_name, last_value FROM duckdb_sequences()")
                                      .fetchall())
    return out


def counts(store) -> dict:
    with store.read() as cur:
        return {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture
def feed(tmp_path):
    """feed(rows, name="feed.csv") -> path of a CSV feed in the test's folder."""
    def make(rows: list[dict], name: str = "feed.csv", columns=FEED_COLUMNS) -> Path:
        return write_feed(tmp_path / name, rows, columns)
    return make


HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from exq_core.store import open_store
    store = open_store({path!r})
    print("ready", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def held_db(tmp_path, backend):
    """A database file held open by another process; yields (path, holder pid)."""
    if backend == "postgresql":
        pytest.skip("DuckDB only: one process owns a DuckDB file; a server has no such lock")
    path = tmp_path / "held.duckdb"
    open_store(path).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield path, proc.pid
    finally:
        proc.kill()
        proc.wait()


def only_logged(before: dict, after: dict, imports: int = 1) -> bool:
    """Nothing changed but the import log, which grew by `imports` rows (every import is logged, an
    unchanged re-import too)."""
    data = [t for t in TABLES if t != "imports"]
    return (all(after[t] == before[t] for t in data) and after["imports"][0] == before["imports"][0] + imports
            and [s for s in after.get("sequences", []) if s[0] != "import_seq"]
            == [s for s in before.get("sequences", []) if s[0] != "import_seq"])
