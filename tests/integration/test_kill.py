"""A process killed (SIGKILL) in the middle of an import leaves the database as it was (SPEC §9).

A child process imports a generated feed big enough to take seconds; the parent kills it with -9 at a
given stage (or after a given time), reopens the file and compares every table's row count and content
hash, and the sequences, with the state before the import. The file must also stay fully usable.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from exq_core.ingest import import_file
from exq_core.rules import DEFAULT_RULES_PATH, load_rules
from exq_core.store import open_store

from .conftest import snapshot

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 12, 0, 0)
RULES = load_rules(DEFAULT_RULES_PATH)
BIG = 200_000

CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime
    sys.path.insert(0, {root!r})
    from exq_core.ingest import import_file
    from exq_core.rules import load_rules
    from exq_core.store import open_store
    store = open_store({db!r})
    print("open", flush=True)
    def tick(stage, fraction):
        print(stage, flush=True)
    import_file(store, {feed!r}, rules=load_rules({rules!r}), now=datetime(2026, 11, 27, 12), progress=tick)
    store.close()
    print("finished", flush=True)
""")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_feed(tmp_path_factory) -> Path:
    from exq_core.demo import write_feed
    return write_feed(tmp_path_factory.mktemp("kill") / "big.csv", BIG, seed=5, now=NOW)


@pytest.fixture
def before_db(tmp_path, feed) -> Path:
    """A database with an earlier small import in it (committed, not checkpointed: the WAL is in play)."""
    path = tmp_path / "exq.duckdb"
    rows = [{"order_id": f"EXQ-{100000 + i}", "items_available": "0" if i % 2 else "9"} for i in range(50)]
    with open_store(path) as store:
        import_file(store, feed(rows, "earlier.csv"), rules=RULES, now=NOW)
    return path


def start_import(db: Path, feed: Path) -> subprocess.Popen:
    code = CHILD.format(root=str(ROOT), db=str(db), feed=str(feed), rules=str(DEFAULT_RULES_PATH))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def kill_at(proc: subprocess.Popen, stage: str | None = None, after: float | None = None) -> list[str]:
    """SIGKILL the child when it reports `stage` (or `after` seconds once the file is open)."""
    seen = []
    opened_at = None
    while True:
        line = proc.stdout.readline().strip()
        if not line:
            break
        seen.append(line)
        if line == "open":
            opened_at = time.monotonic()
            if after is not None:
                time.sleep(after)
                break
        if stage is not None and line == stage:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, seen, proc.stderr.read()[-2000:])
    assert "finished" not in seen and opened_at is not None, seen
    return seen


def check_usable(db: Path, big_feed: Path) -> None:
    """After the kill the same file imports the same feed to completion."""
    with open_store(db) as store:
        result = import_file(store, big_feed, rules=RULES, now=NOW)
        assert result.status == "imported" and result.rows == BIG
        snap = snapshot(store)
    assert snap["orders"][0] == BIG + 50 - 50   # the earlier 50 orders are re-sent by the big feed (same ids)


@pytest.mark.parametrize("stage", ["reading", "validating", "applying snapshots", "routing"])
def test_killed_at_a_stage_leaves_the_database_as_before(before_db, big_feed, stage):
    with open_store(before_db) as store:
        before = snapshot(store)
    size_before = before_db.stat().st_size
    seen = kill_at(start_import(before_db, big_feed), stage=stage)
    assert stage in seen
    with open_store(before_db) as store:
        assert snapshot(store) == before
    print(f"killed at {stage}: file {size_before:,} -> {before_db.stat().st_size:,} bytes")
    if stage == "routing":   # the latest kill point has the most half-written state behind it
        check_usable(before_db, big_feed)


@pytest.mark.parametrize("after", [0.5, 1.2])
def test_killed_after_some_time_leaves_the_database_as_before(before_db, big_feed, after):
    with open_store(before_db) as store:
        before = snapshot(store)
    kill_at(start_import(before_db, big_feed), after=after)
    with open_store(before_db) as store:
        assert snapshot(store) == before
    check_usable(before_db, big_feed)


def test_killed_while_committing_is_all_or_nothing(before_db, big_feed, tmp_path):
    """Killed as the commit starts: the file holds either the state before or the whole import."""
    with open_store(before_db) as store:
        before = snapshot(store)
    reference = tmp_path / "reference.duckdb"
    import shutil
    shutil.copy(before_db, reference)
    wal = Path(str(before_db) + ".wal")
    if wal.exists():
        shutil.copy(wal, str(reference) + ".wal")
    with open_store(reference) as store:
        import_file(store, big_feed, rules=RULES, now=NOW)
        full = snapshot(store)
    full.pop("imports"), before.pop("imports")     # the import record holds its own finish time
    kill_at(start_import(before_db, big_feed), stage="committing")
    with open_store(before_db) as store:
        after = snapshot(store)
    after.pop("imports")
    assert after in (before, full)
