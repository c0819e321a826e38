"""Feed files written from dicts, and table snapshots to prove that something wrote nothing."""
from __future__ import annotations

import csv
from pathlib import Path

from exq_core.models import FEED_COLUMNS

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

TABLES = ("orders", "cases", "events", "decisions", "suggestions", "imports", "rejects", "tallies")


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


def only_logged(before: dict, after: dict, imports: int = 1) -> bool:
    """Nothing changed but the import log, which grew by `imports` rows (every import is logged, an
    unchanged re-import too)."""
    data = [t for t in TABLES if t != "imports"]
    return (all(after[t] == before[t] for t in data) and after["imports"][0] == before["imports"][0] + imports
            and [s for s in after.get("sequences", []) if s[0] != "import_seq"]
            == [s for s in before.get("sequences", []) if s[0] != "import_seq"])
