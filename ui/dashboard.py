"""Cached reads and small display helpers for the Overview and the Queue.

Every cached read takes `data_stamp()` (changes with every write) and the current minute (ages and SLA
clocks move with time), so a decision in one browser shows in another's next rerun.
"""
from __future__ import annotations

import re

import streamlit as st

from exq_core import dashboard, queries
from exq_core.models import BUCKET_COLORS, BUCKET_LABELS, Bucket
from exq_core.store import utcnow
from ui.common import data_stamp, get_rules, get_store

# Markdown badge colours closest to models.BUCKET_COLORS, for labels and cards (charts use the exact colours).
BUCKET_BADGE_COLORS: dict[str, str] = {
    Bucket.FRAUD_RISK: "red", Bucket.VIP_REVENUE: "violet", Bucket.PAYMENT_MISMATCH: "orange",
    Bucket.INVENTORY_CONFLICT: "yellow", Bucket.ADDRESS_PROBLEM: "blue", Bucket.RETURN_DAMAGE: "green",
}


def bucket_badge(bucket: str) -> str:
    """A bucket as a coloured Markdown badge (bucket names are our own constants, never data)."""
    return f":{BUCKET_BADGE_COLORS[bucket]}-badge[{BUCKET_LABELS[Bucket(bucket)]}]"


def bucket_cell_style(bucket_label: str) -> str:
    """CSS for a table cell holding a bucket label: a light wash of the bucket's chart colour."""
    color = LABEL_COLORS.get(bucket_label)
    return f"background-color: {color}33" if color else ""


LABEL_COLORS = {BUCKET_LABELS[b]: BUCKET_COLORS[b] for b in Bucket}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """Data shown inside Markdown (captions, labels) renders as the literal text it is."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


@st.cache_data(ttl=300, max_entries=20, show_spinner=False)
def cached_overview(stamp: tuple, minute: str) -> dict:
    """All of the Overview's numbers (`exq_core.dashboard.overview`)."""
    with get_store().read() as cur:
        return dashboard.overview(cur, utcnow())


@st.cache_data(ttl=300, max_entries=20, show_spinner=False)
def cached_chart_specs(stamp: tuple, minute: str) -> dict[str, dict]:
    """The Overview's charts as Vega-Lite specs, built (and validated by Altair) once per data version
    rather than on every rerun."""
    from ui.charts import aging_chart, breaches_chart, flow_chart
    data = cached_overview(stamp, minute)
    return {"aging": aging_chart(data["aging"]).to_dict(),
            "breaches": breaches_chart(data["breached_by_bucket"]).to_dict(),
            "flow": flow_chart(data["per_day"]).to_dict()}


@st.cache_data(ttl=120, max_entries=200, show_spinner=False)
def cached_queue_page(stamp: tuple, minute: str, filter_json: str, page: int, page_size: int):
    """One Queue page, the number of matching cases, and how many snoozed waiting cases the filter hides."""
    f = queries.QueueFilter.model_validate_json(filter_json)
    now = utcnow()
    with get_store().read() as cur:
        return queries.queue_view(cur, get_rules(), now, f, limit=page_size, offset=(page - 1) * page_size)


@st.cache_data(ttl=300, max_entries=20, show_spinner=False)
def cached_assignees(stamp: tuple) -> list[str]:
    with get_store().read() as cur:
        return dashboard.assignees(cur)


@st.cache_data(ttl=300, max_entries=20, show_spinner=False)
def cached_last_import(stamp: tuple) -> dict | None:
    with get_store().read() as cur:
        return queries.last_import(cur)


def last_import_caption() -> str:
    """For the sidebar: when data last came in, and from which file."""
    last = cached_last_import(data_stamp())
    if not last:
        return "Last import: none yet"
    when = f"{last['finished_at']:%Y-%m-%d %H:%M} UTC" if last.get("finished_at") else "in progress"
    return f"Last import: {when} · {md_escape(last['file_name'])}"
