"""Fixtures for integration tests: a feed-file factory and a database held by another process. (The helpers
they use are in tests/feeds.py.)"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exq_core.models import FEED_COLUMNS
from exq_core.store import open_store
from tests.feeds import write_feed
from tests.support import ROOT


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


