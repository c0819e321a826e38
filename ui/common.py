"""What every page needs: the process's store, the active rules, the AI settings, the signed-in person."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from exq_core import services
from exq_core.assist import AIConfig
from exq_core.models import BUCKET_COLORS, BUCKETS, Actor
from exq_core.rules import RuleSet, load_rules
from exq_core.store import Store, default_db_target, open_store
from exq_core.store.duck import APP_MEMORY_LIMIT

BUCKET_ORDER = [b.value for b in BUCKETS]
BUCKET_PALETTE = [BUCKET_COLORS[b] for b in BUCKETS]


def db_target() -> str:
    """$EXQ_DB: a DuckDB file (default data/exq.duckdb) or a postgresql:// URL."""
    return default_db_target()


@st.cache_resource(show_spinner=False, on_release=lambda store: store.close())
def _store(target: str) -> Store:
    # The dashboard keeps DuckDB inside a memory budget: an inbox import of a million rows spills to disk
    # instead of growing the process past it (SPEC §8).
    return open_store(target, memory_limit=APP_MEMORY_LIMIT)


def get_store() -> Store:
    """The process's one store (DuckDB lets one process own the file; PostgreSQL gets one pool)."""
    return _store(db_target())


@st.cache_resource(show_spinner=False)
def _rules(path: str, mtime: float) -> RuleSet:
    rules = load_rules(path or None)
    services.sync_priority(get_store(), rules)
    return rules


def get_rules() -> RuleSet:
    """The active rules ($EXQ_RULES, else the shipped defaults), re-read when the file changes."""
    path = os.environ.get("EXQ_RULES", "")
    mtime = Path(path).stat().st_mtime if path and Path(path).exists() else 0.0
    return _rules(path, mtime)


def _secrets_ai() -> dict:
    try:
        return dict(st.secrets.get("ai") or {})
    except Exception:  # no or unreadable secrets file: environment only
        return {}


@st.cache_resource(show_spinner=False)
def _ai_config(key: tuple) -> AIConfig:
    return AIConfig.from_env(settings=_secrets_ai())


def ai_config() -> AIConfig:
    """The AI settings: the environment first, then `[ai]` in .streamlit/secrets.toml. Built once."""
    env = tuple(os.environ.get(n, "") for n in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXQ_AI_MODEL",
                                                 "EXQ_AI_TIMEOUT_S", "EXQ_AI_SEND_TEXT"))
    return _ai_config(env)


def current_actor() -> Actor | None:
    """The signed-in person. Set by the sign-in gate in app.py."""
    return st.session_state.get("actor")


def page_guard(permission: str = "read", what: str = "this page") -> Actor:
    """Every page checks the session itself (defence in depth behind app.py's gate): nobody signed in,
    no page; a role without `permission` gets a sentence instead of the page."""
    from exq_core.workflow import PERMISSIONS
    actor = current_actor()
    if actor is None:
        st.stop()
    if permission not in PERMISSIONS[actor.role]:
        st.info(f"{what[0].upper() + what[1:]} needs another role: you are signed in as a {actor.role.value}. "
                "Ask a manager if you need access.", icon=":material/lock:")
        st.stop()
    return actor


def still_signed_in() -> bool:
    """For parts of a page that refresh on their own (fragments skip app.py's gate): the account re-checked
    now. False (and a full rerun, which signs the person out) when it was disabled or its role changed."""
    from exq_core import auth
    actor = current_actor()
    if actor is None:
        return False
    fresh = auth.session_actor(get_store(), actor)
    if fresh != actor:
        st.rerun(scope="app")
    return True
