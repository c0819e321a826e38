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
