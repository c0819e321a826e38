"""How values read on screen: durations, money, bucket badges, and untrusted text made inert.

Feed text (order ids, customer names, messages) and model text are data, never markup: inside Markdown
they go through `md_escape`, and characters that could reorder or hide text (bidi controls, zero-width
characters) are shown as visible markers by `inert`.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Mapping

from exq_core.models import BUCKET_COLORS, BUCKET_LABELS, BUCKETS, Bucket, State
from exq_core.textsafety import inert

__all__ = ["bucket_badge", "bucket_cell_style", "format_due", "format_hours", "inert", "md_escape", "money",
           "open_by_bucket"]


def format_hours(hours: float | None) -> str:
    """A duration a person reads at a glance: 45m, 5h 20m, 3d 4h."""
    if hours is None or (isinstance(hours, float) and math.isnan(hours)):
        return "—"
    minutes = int(round(abs(hours) * 60))
    days, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    if days:
        return f"{days}d {h}h" if h else f"{days}d"
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    return f"{m}m"


def format_due(sla_remaining_hours: float | None) -> str:
    """'in 1h 20m' before the SLA is due, '3h 5m late' after."""
    if sla_remaining_hours is None or (isinstance(sla_remaining_hours, float) and math.isnan(sla_remaining_hours)):
        return "—"
    if sla_remaining_hours >= 0:
        return f"in {format_hours(sla_remaining_hours)}"
    return f"{format_hours(sla_remaining_hours)} late"


def money(value) -> str:
    """Money with its own places (at least 2), thousands separated: 1,234.50 · 0.125."""
    if value is None:
        return "—"
    value = Decimal(str(value))
    return f"{value:,.{max(2, -value.normalize().as_tuple().exponent)}f}"


def open_by_bucket(by_bucket: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Open cases per bucket, from the bucket × state counts (every bucket, fixed order)."""
    return {b.value: sum(n for s, n in by_bucket.get(b.value, {}).items() if s != State.RESOLVED)
            for b in BUCKETS}


# Markdown badge colours closest to models.BUCKET_COLORS, for labels and cards (charts use the exact colours).
BUCKET_BADGE_COLORS: dict[str, str] = {
    Bucket.FRAUD_RISK: "red", Bucket.VIP_REVENUE: "violet", Bucket.PAYMENT_MISMATCH: "orange",
    Bucket.INVENTORY_CONFLICT: "yellow", Bucket.ADDRESS_PROBLEM: "blue", Bucket.RETURN_DAMAGE: "green",
}
LABEL_COLORS = {BUCKET_LABELS[b]: BUCKET_COLORS[b] for b in Bucket}


def bucket_badge(bucket: str) -> str:
    """A bucket as a coloured Markdown badge (bucket names are our own constants, never data)."""
    return f":{BUCKET_BADGE_COLORS[bucket]}-badge[{BUCKET_LABELS[Bucket(bucket)]}]"


def bucket_cell_style(bucket_label: str) -> str:
    """CSS for a table cell holding a bucket label: a light wash of the bucket's chart colour."""
    color = LABEL_COLORS.get(bucket_label)
    return f"background-color: {color}33" if color else ""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """Data shown inside Markdown (captions, labels) renders as the literal, inert text it is."""
    return _MD_SPECIAL.sub(r"\\\1", inert(str(text)))


def md_code(text: object) -> str:
    """Data shown as a Markdown code span. Backslash escapes do not work inside one, so the span's fence is
    made longer than any run of backticks in the text (CommonMark)."""
    value = inert(str(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"
