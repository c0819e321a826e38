"""server.py: what the server does at start, before any page is opened."""
from __future__ import annotations

import logging
import sys

import server
import ui.common


def test_warm_up_opens_the_pages_store_and_loads_their_libraries(app_env, monkeypatch):
    opened = []
    real_open = ui.common.open_store
    monkeypatch.setattr(ui.common, "open_store", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    monkeypatch.delitem(sys.modules, "ui.charts", raising=False)

    server.warm_up()

    assert "ui.charts" in sys.modules and "altair" in sys.modules
    assert len(opened) == 1
    ui.common.get_store()                       # the first page finds the store open: not opened again
    assert len(opened) == 1


def test_warm_up_on_a_database_another_process_holds_only_logs(held_db, monkeypatch, caplog):
    path, _ = held_db
    monkeypatch.setenv("EXQ_DB", str(path))
    ui.common._store.clear()
    with caplog.at_level(logging.INFO, logger="exq.server"):
        server.warm_up()                        # no exception: the first page says what is wrong
    ui.common._store.clear()
    assert "warm-up skipped" in caplog.text and str(path) in caplog.text
