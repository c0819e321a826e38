"""The inbox watcher of this app process: files dropped into data/inbox/ (or data/inbox/<source>/) are
imported by it. Started at server start by server.py (whether or not anyone opened a page), and by
app.py when the app is run without it; either way there is one per process."""
from __future__ import annotations

import os

from exq_core.ingest.inbox import InboxWatcher, ensure_watcher, inbox_dir
from exq_core.rules import load_rules


def _interval() -> float:
    try:
        return max(0.2, float(os.environ.get("EXQ_INBOX_INTERVAL", "20")))
    except ValueError:
        return 20.0


def inbox_enabled() -> bool:
    return os.environ.get("EXQ_INBOX", "").lower() not in ("off", "0", "false", "no")


def get_inbox_watcher() -> InboxWatcher | None:
    """The process's watcher (started on first call); None when `EXQ_INBOX=off`. The store is opened lazily
    by the watcher's own thread, so a database held by another process only delays the inbox."""
    if not inbox_enabled():
        return None
    from ui.common import db_target, get_store
    return ensure_watcher(get_store, inbox_dir(db_target()), lambda: load_rules(os.environ.get("EXQ_RULES") or None),
                          _interval())
