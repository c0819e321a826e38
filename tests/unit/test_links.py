"""The UI's small helpers: durations as a person reads them, and the Queue's filter as a link."""
from __future__ import annotations

import pytest

from exq_core.queries import UNASSIGNED, QueueFilter
from ui.format import format_due, format_hours
from ui.links import MAX_PAGE, filter_from_params, filter_to_params, page_from_params


@pytest.mark.parametrize("hours, text", [(0.2, "12m"), (1, "1h"), (5.34, "5h 20m"), (24, "1d"), (76.5, "3d 4h"),
                                         (None, "—"), (float("nan"), "—")])
def test_format_hours(hours, text):
    assert format_hours(hours) == text


def test_format_due():
    assert format_due(1.5) == "in 1h 30m"
    assert format_due(-3.1) == "3h 6m late"


@pytest.mark.parametrize("f", [
    QueueFilter(),
    QueueFilter(buckets=["fraud_risk", "vip_revenue"], states=["new", "waiting"], breached_only=True),
    QueueFilter(assignee=UNASSIGNED, age_band="1–3d", text="amelia smith", include_waiting=True),
    QueueFilter(assignee="maria", age_band="> 7d"),
])
def test_filter_link_round_trip(f):
    assert filter_from_params(filter_to_params(f)) == f


def test_links_are_short_and_readable():
    f = QueueFilter(buckets=["fraud_risk"], breached_only=True, age_band="< 4h", assignee=UNASSIGNED)
    assert filter_to_params(f) == {"bucket": "fraud_risk", "breached": "1", "age": "lt4h", "unassigned": "1"}
    assert filter_to_params(QueueFilter()) == {}


def test_a_junk_link_opens_something_sensible():
    f = filter_from_params({"bucket": ["nope", "fraud_risk,fraud_risk"], "state": "closed", "age": "old",
                            "breached": "maybe", "q": "x" * 500, "assignee": ""})
    assert f == QueueFilter(buckets=["fraud_risk"], text="x" * 200)
    assert page_from_params({"page": "-3"}) == 1
    assert page_from_params({"page": "abc"}) == 1
    assert page_from_params({"page": "4"}) == 4


@pytest.mark.parametrize("raw", ["99999999999999999999", "1e9", str(10**9), "0x10", "٣"])
def test_page_numbers_from_a_link_are_clamped(raw):
    page = page_from_params({"page": raw})
    assert 1 <= page <= MAX_PAGE


