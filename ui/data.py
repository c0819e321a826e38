"""The one way a page reads data: a named query from exq_core, run on a cursor of the process's store.

    read(queries.overview, NOW)                       # cached: same data, same minute → no query
    read(queries.queue_view, RULES, NOW, f, limit=50, offset=0)
    fresh(queries.case_detail, RULES, case_id, NOW)   # not cached: what a person is deciding on

`NOW` and `RULES` stand for the current time and the active rules; they are filled in when the query
runs. Cached reads are keyed by `data_stamp()` (it changes with every write: a decision made in one
browser shows in another's next rerun), the minute (ages and SLA clocks move) and the rules version.
"""
from __future__ import annotations

import importlib

import streamlit as st

from exq_core import queries
from exq_core.store import utcnow
from ui.common import get_rules, get_store

NOW = "⟨now⟩"
RULES = "⟨rules⟩"


def _fill(args: tuple) -> list:
    now = utcnow()
    return [now if a == NOW else get_rules() if a == RULES else a for a in args]


def _resolve(name: str):
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def data_stamp() -> tuple:
    with get_store().read() as cur:
        return queries.data_stamp(cur)


def now_minute() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M")


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def _cached(name: str, stamp: tuple, minute: str, rules_version: str, args: tuple, kwargs: tuple):
    with get_store().read() as cur:
        return _resolve(name)(cur, *_fill(args), **dict(kwargs))


def read(fn, *args, **kwargs):
    """A named query's result, cached until data changes (or the minute turns)."""
    name = f"{fn.__module__}:{fn.__qualname__}"
    return _cached(name, data_stamp(), now_minute(), get_rules().full_version, tuple(args),
                   tuple(sorted(kwargs.items())))


def fresh(fn, *args, **kwargs):
    """A named query's result, read now."""
    with get_store().read() as cur:
        return fn(cur, *_fill(args), **kwargs)
