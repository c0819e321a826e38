"""Idempotent imports: the same file twice changes nothing, an older snapshot never overwrites a newer one,
the same facts again bump nothing, and a process killed mid-import leaves the database as it was."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from decimal import Decimal

import pytest

from exq_core.demo import write_feed as write_demo_feed
from exq_core.ingest import import_file
from exq_core.store import open_store
from tests.support import ROOT
from tests.feeds import only_logged, snapshot

NOW = datetime(2026, 11, 27, 12, 0)


def test_the_same_file_twice_changes_nothing(store, feed):
    path = feed([{"order_id": "A", "risk_level": "high"}, {"order_id": "B"}])
    first = import_file(store, path, now=NOW)
    assert first.status == "imported" and first.cases_new == 1
    before = snapshot(store)
    again = import_file(store, path, now=datetime(2026, 11, 28))
    assert again.status == "unchanged" and again.import_id == first.import_id + 1
    assert only_logged(before, snapshot(store))            # nothing but the import's own log row


def test_the_same_content_under_another_name_is_the_same_file(store, feed, tmp_path):
    path = feed([{"order_id": "A"}])
    import_file(store, path, now=NOW)
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(path.read_bytes())
    before = snapshot(store)
    assert import_file(store, copy).status == "unchanged"
    assert only_logged(before, snapshot(store))


def test_an_older_snapshot_never_overwrites_a_newer_one(store, feed):
    import_file(store, feed([{"order_id": "A", "updated_at": "2026-11-27T10:00:00Z", "order_total": "100.00",
                              "amount_paid": "100.00"}], "new.csv"), now=NOW)
    result = import_file(store, feed([{"order_id": "A", "updated_at": "2026-11-27T09:00:00Z",
                                       "order_total": "999.00", "amount_paid": "1.00"}], "old.csv"), now=NOW)
    assert (result.orders_new, result.orders_updated, result.orders_stale) == (0, 0, 1)
    with store.read() as cur:
        assert cur.execute("SELECT order_total FROM orders").fetchone()[0] == 100


def test_a_newer_snapshot_with_the_same_facts_bumps_nothing(store, feed):
    import_file(store, feed([{"order_id": "A", "risk_level": "high", "updated_at": "2026-11-27T10:00:00Z"}],
                            "one.csv"), now=NOW)
    with store.read() as cur:
        version = cur.execute("SELECT version FROM cases").fetchone()[0]
    before = snapshot(store)
    # an overlapping export: the same order, same facts, a later snapshot time
    result = import_file(store, feed([{"order_id": "A", "risk_level": "high",
                                       "updated_at": "2026-11-27T11:00:00Z"}], "two.csv"), now=NOW)
    assert (result.orders_updated, result.orders_unchanged, result.cases_updated) == (0, 1, 0)
    after = snapshot(store)
    for table in ("orders", "cases", "events"):
        assert after[table] == before[table], table
    with store.read() as cur:
        assert cur.execute("SELECT version FROM cases").fetchone()[0] == version


def test_a_newer_snapshot_with_new_facts_is_applied(store, feed):
    import_file(store, feed([{"order_id": "A", "risk_level": "high", "updated_at": "2026-11-27T10:00:00Z"}],
                            "one.csv"), now=NOW)
    result = import_file(store, feed([{"order_id": "A", "risk_level": "low", "updated_at": "2026-11-27T11:00:00Z"}],
                                     "two.csv"), now=NOW)
    assert (result.orders_updated, result.cases_updated) == (1, 1)


# -- a killed import -------------------------------------------------------------------------------

KILLED_IMPORT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from exq_core.store import open_store
    from exq_core.ingest import import_file
    store = open_store({db!r})
    def tick(stage, fraction):
        if stage == {stage!r}:
            print("REACHED", stage, flush=True)
            time.sleep(120)          # killed here, inside the import's transaction
    import_file(store, {feed!r}, source="kill", progress=tick)
    print("FINISHED", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["validating", "applying snapshots", "routing", "committing"])
def test_a_killed_import_leaves_the_database_as_before(demo_db, tmp_path, stage):
    feed = write_demo_feed(tmp_path / "big.csv", 30_000, seed=3)
    with open_store(demo_db) as store:
        before = snapshot(store)
    script = KILLED_IMPORT.format(root=str(ROOT), db=str(demo_db), stage=stage, feed=str(feed))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 120
        line = ""
        while time.time() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            if line.startswith("REACHED"):
                break
        assert line.startswith("REACHED"), f"the import did not reach {stage}: {proc.stderr.read()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with open_store(demo_db) as store:
        assert snapshot(store) == before
        # and the file imports cleanly afterwards: the killed attempt left no trace
        result = import_file(store, feed, source="kill")
        assert result.status == "imported" and result.orders_new == 30_000


WHITE_SPACE = ("", " ", "\t", "\n", "\r", "  ")


def _newest(model: dict, rows: list[dict]) -> None:
    """What the stored orders must be after a file: per order id (trimmed), the newest snapshot of the
    file wins if it is newer than the stored one and says something new; two different newest
    snapshots at one time are a conflict and change nothing."""
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        by_id.setdefault(row["order_id"].strip(" \t\n\r\v\f"), []).append(row)
    for oid, snapshots in by_id.items():
        newest = max(r["updated_at"] for r in snapshots)
        facts = {(r["order_total"], r["amount_paid"], r["payment_status"].strip())
                 for r in snapshots if r["updated_at"] == newest}
        if len(facts) > 1:
            continue
        fact, stored = facts.pop(), model.get(oid)
        if stored is None or (newest > stored[0] and stored[1] != fact):
            model[oid] = (newest, fact)


@pytest.mark.parametrize("seed", range(6))
def test_random_overlapping_exports_leave_the_newest_snapshot_of_each_order_once(store, feed, seed):
    """Files of repeated, older, newer, conflicting and white-space-decorated snapshots of a few orders, one
    after the other: the stored orders are exactly the model's, one row per order, and every open case has
    its order."""
    import random
    rnd = random.Random(seed)
    model: dict[str, tuple] = {}
    for n in range(4):
        rows = []
        for _ in range(rnd.randint(1, 12)):
            total = f"{rnd.choice([10, 20, 55, 2000])}.00"
            rows.append({"order_id": rnd.choice(WHITE_SPACE) + f"O{rnd.randint(1, 6)}" + rnd.choice(WHITE_SPACE),
                         "updated_at": f"2026-11-27T{8 + rnd.randint(0, 3):02d}:{10 * rnd.randint(0, 5):02d}:00Z",
                         "order_total": total, "amount_paid": total if rnd.random() < 0.8 else "1.00",
                         "payment_status": rnd.choice(["paid", "pending", " paid "])})
        import_file(store, feed(rows, f"export-{n}.csv"), source="shop", skip_invalid=True, now=NOW)
        _newest(model, rows)
        with store.read() as cur:
            stored = cur.execute("SELECT order_id, updated_at, order_total FROM orders").fetchall()
            orphans = cur.execute("""SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM orders o
                                     WHERE o.source = c.source AND o.order_id = c.order_id)""").fetchone()[0]
            open_twice = cur.execute("""SELECT count(*) FROM (SELECT 1 FROM cases WHERE state <> 'resolved'
                                        GROUP BY source, order_id HAVING count(*) > 1) t""").fetchone()[0]
        assert sorted(oid for oid, *_ in stored) == sorted(model)          # one row per order, no other
        assert {oid: (f"{at:%Y-%m-%dT%H:%M:%SZ}", total) for oid, at, total in stored} == \
            {oid: (at, Decimal(facts[0])) for oid, (at, facts) in model.items()}
        assert (orphans, open_twice) == (0, 0)
