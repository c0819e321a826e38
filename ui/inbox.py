"""The inbox watcher: one background thread per app process imports files dropped into data/inbox/."""
from __future__ import annotations

import os

import streamlit as st

from exq_core.ingest.inbox import InboxWatcher, inbox_dir
from exq_core.rules import load_rules
from ui.common import db_path, get_store


def _interval() -> float:
    try:
        return max(0.2, float(os.environ.get("EXQ_INBOX_INTERVAL", "20")))
    except ValueError:
        return 20.0


@st.cache_resource(show_spinner=False, on_release=lambda watcher: watcher.stop())
def _watcher(db: str, folder: str, interval: float) -> InboxWatcher:
    # The rules are read afresh on every pass (a changed rules file applies to the next inbox import).
    return InboxWatcher(get_store(), folder, lambda: load_rules(os.environ.get("EXQ_RULES") or None),
                        interval).start()


def get_inbox_watcher() -> InboxWatcher | None:
    """Started once per process by app.py; `EXQ_INBOX=off` switches the inbox off."""
    if os.environ.get("EXQ_INBOX", "").lower() in ("off", "0", "false", "no"):
        return None
    return _watcher(str(db_path()), str(inbox_dir(db_path())), _interval())
