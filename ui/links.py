"""The Queue's filter as a link a person can share (`/queue?bucket=fraud_risk&breached=1&page=2`).

Everything in a URL is untrusted: unknown or malformed values are dropped, numbers are clamped, and a
link always opens something sensible instead of an error.
"""
from __future__ import annotations

import math
from typing import Mapping

from exq_core.models import AGE_BANDS, Bucket, State
from exq_core.queries import UNASSIGNED, QueueFilter
from exq_core.textsafety import has_invisible

PAGE_SIZE = 50
MAX_PAGE = 1_000_000

# Age bands as they appear in a link (the band labels themselves have '<', '>' and '–').
AGE_SLUGS: dict[str, str] = dict(zip(("lt4h", "4-24h", "1-3d", "3-7d", "gt7d"), AGE_BANDS))
BAND_SLUG = {band: slug for slug, band in AGE_SLUGS.items()}
_TRUE = {"1", "true", "yes", "on"}


def _values(params: Mapping[str, str | list[str]], key: str) -> list[str]:
    raw = params.get(key)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [part.strip() for item in items for part in str(item)[:2000].split(",") if part.strip()]


def _flag(params, key: str) -> bool:
    return (_values(params, key) or [""])[0].lower() in _TRUE


def filter_from_params(params: Mapping[str, str | list[str]]) -> QueueFilter:
    """The Queue filter a link describes. Unknown or malformed values are dropped, never an error."""
    buckets = [Bucket(v) for v in dict.fromkeys(_values(params, "bucket")) if v in Bucket._value2member_map_]
    states = [State(v) for v in dict.fromkeys(_values(params, "state")) if v in State._value2member_map_]
    assignee = None
    if _flag(params, "unassigned"):
        assignee = UNASSIGNED
    elif _values(params, "assignee"):
        name = _values(params, "assignee")[0][:100]
        assignee = None if has_invisible(name) else name
    age = (_values(params, "age") or [None])[0]
    text = str(params.get("q") or "").strip()[:200] or None
    return QueueFilter(buckets=buckets, states=states, assignee=assignee, breached_only=_flag(params, "breached"),
                       age_band=AGE_SLUGS.get(age) if age else None, text=text,
                       include_waiting=_flag(params, "waiting"))


def filter_to_params(f: QueueFilter) -> dict[str, str]:
    """The shortest link for a filter; `filter_from_params(filter_to_params(f)) == f` for every filter the
    Queue page can set."""
    out: dict[str, str] = {}
    if f.buckets:
        out["bucket"] = ",".join(b.value for b in f.buckets)
    if f.states:
        out["state"] = ",".join(s.value for s in f.states)
    if f.assignee == UNASSIGNED:
        out["unassigned"] = "1"
    elif f.assignee:
        out["assignee"] = f.assignee
    if f.breached_only:
        out["breached"] = "1"
    if f.age_band:
        out["age"] = BAND_SLUG[f.age_band]
    if f.text and f.text.strip():
        out["q"] = f.text.strip()
    if f.include_waiting:
        out["waiting"] = "1"
    return out


def page_from_params(params: Mapping[str, str | list[str]]) -> int:
    """The page a link asks for, from 1 to MAX_PAGE (the Queue then clamps it to the last page)."""
    raw = (_values(params, "page") or ["1"])[0]
    if not raw.isdigit() or len(raw) > 9:
        return 1 if not raw.isdigit() else MAX_PAGE
    return min(MAX_PAGE, max(1, int(raw)))


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(total / page_size))


def case_from_params(params: Mapping[str, str | list[str]]) -> int | None:
    """The case id of a Review link (`?case=123`), or None when it is not a plausible id."""
    raw = (_values(params, "case") or [""])[0]
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None
