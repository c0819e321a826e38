"""What every page needs: one Store per process, the rules, the current person, cached reads."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from exq_core.models import BUCKET_COLORS, BUCKETS, Actor
from exq_core.rules import RuleSet, load_rules
from exq_core.store import default_db_target, open_store, Store, utcnow


def db_path() -> Path:
    return Path(os.environ.get("EXQ_DB") or default_db_target())


@st.cache_resource(show_spinner=False, on_release=lambda store: store.close())
def _store(path: str) -> Store:
    return open_store(path)


def get_store() -> Store:
    """The process's one connection (DuckDB lets one process own the file)."""
    _apply_ai_secrets()
    return _store(str(db_path()))


def _apply_ai_secrets() -> None:
    """The [ai] table of .streamlit/secrets.toml configures the AI assist (environment variables win)."""
    from exq_core.assist import apply_settings
    try:
        settings = st.secrets.get("ai")
    except Exception:  # no or unreadable secrets file: environment only
        return
    if settings:
        apply_settings(dict(settings))


@st.cache_resource(show_spinner=False)
def _rules(path: str, mtime: float) -> RuleSet:
    return load_rules(path or None)


def get_rules() -> RuleSet:
    path = os.environ.get("EXQ_RULES", "")
    mtime = Path(path).stat().st_mtime if path and Path(path).exists() else 0.0
    return _rules(path, mtime)


def data_stamp() -> tuple:
    """Changes whenever anything is written (every state change appends an event; every import a row).
    Cached reads take it as an argument, so a decision in one browser shows in another on its next rerun."""
    with get_store().read() as cur:
        return cur.execute("SELECT (SELECT max(event_id) FROM events), (SELECT max(import_id) FROM imports), "
                           "(SELECT count(*) FROM suggestions)").fetchone()


def current_actor() -> Actor | None:
    """The signed-in person. Set by the sign-in gate in app.py."""
    return st.session_state.get("actor")


BUCKET_ORDER = [b.value for b in BUCKETS]
BUCKET_PALETTE = [BUCKET_COLORS[b] for b in BUCKETS]


def now_minute() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M")


