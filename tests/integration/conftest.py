"""Fixtures for integration tests: a feed-file factory. (The helpers it uses are in tests/feeds.py.)"""
from __future__ import annotations

from pathlib import Path

import pytest

from exq_core.models import FEED_COLUMNS
from tests.feeds import write_feed


@pytest.fixture
def feed(tmp_path):
    """feed(rows, name="feed.csv") -> path of a CSV feed in the test's folder."""
    def make(rows: list[dict], name: str = "feed.csv", columns=FEED_COLUMNS) -> Path:
        return write_feed(tmp_path / name, rows, columns)
    return make
