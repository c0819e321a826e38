"""The Overview page (AppTest): the numbers are those of `stats --json`, the charts show them in the fixed
bucket order and colours, a click on a bucket opens the filtered Queue, and odd databases read well."""
from __future__ import annotations

import urllib.parse

import pytest

from exq_core import queries
from exq_core.models import AGE_BANDS, BUCKET_COLORS, BUCKET_LABELS, BUCKETS, Actor, Role
from exq_core.store import open_store
from tests.sql import write
from ui.format import format_hours, open_by_bucket
from tests.views.dashboard_support import cli_stats, frozen_now, metric_values, session, vega_specs  # noqa: F401

PAGE = "views/overview.py"
MARIA = Actor(username="maria", role=Role.MANAGER)
LABELS = [BUCKET_LABELS[b] for b in BUCKETS]


def expected_metrics(stats: dict) -> dict[str, str]:
    return {
        "Open exceptions": f"{stats['open']:,}",
        "SLA breached": f"{stats['breached']:,}",
        "Oldest open case": format_hours(stats["oldest_open_hours"]),
        "Exception rate": f"{stats['exception_rate']:.2f} %",
        "Resolved today": f"{stats['resolved_today']:,}",
    }


def test_kpis_are_the_numbers_of_stats_json(app_env, frozen_now, capsys):
    cli = cli_stats(app_env, capsys)           # before the app opens the file: DuckDB lets one process own it
    at = session(app_env, MARIA)               # the Overview is the default page
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert metric_values(at) == expected_metrics(cli)
    assert cli["open"] > 0 and cli["breached"] > 0 and cli["resolved_today"] >= 0
    # The page and the CLI call the same query functions.
    from ui.common import get_store
    with get_store().read() as cur:
        assert queries.stats(cur, frozen_now) == cli | {"breached_by_bucket": cli["breached_by_bucket"]}


def test_bucket_state_table_and_bucket_cards_match_stats(app_env, frozen_now, capsys):
    cli = cli_stats(app_env, capsys)
    at = session(app_env, MARIA)
    table = at.table[0].value
    assert list(table["Bucket"]) == LABELS + ["All buckets"]
    for b in BUCKETS:
        row = table[table["Bucket"] == BUCKET_LABELS[b]].iloc[0]
        counts = cli["by_bucket"][b.value]
        assert [row["New"], row["In review"], row["Waiting"], row["Escalated"], row["Resolved"]] == \
            [counts[s] for s in ("new", "in_review", "waiting", "escalated", "resolved")]
        assert row["Open"] == sum(n for s, n in counts.items() if s != "resolved")
    assert table.iloc[-1]["Open"] == cli["open"]
    # One card per bucket, in precedence order, each linking to the Queue filtered to it.
    links = [link for link in at.get("page_link") if link.proto.label == "Open in Queue"]
    assert [urllib.parse.parse_qs(link.proto.query_string) for link in links] == \
        [{"bucket": [b.value]} for b in BUCKETS]
    assert all(link.proto.page.endswith("queue") or "queue" in link.proto.page for link in links)
    opens = open_by_bucket(cli["by_bucket"])
    card_numbers = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert card_numbers == [f"### {opens[b.value]:,}" for b in BUCKETS]


def test_aging_chart_shows_every_bucket_and_band_in_fixed_order_and_colour(app_env, frozen_now, capsys):
    cli = cli_stats(app_env, capsys)
    at = session(app_env, MARIA)
    specs = vega_specs(at)
    aging = next(s for s in specs if "facet" in s)
    assert aging["facet"]["column"]["sort"] == LABELS
    layer = aging["spec"]["layer"][0]
    assert layer["encoding"]["color"]["scale"] == {"domain": LABELS, "range": [BUCKET_COLORS[b] for b in BUCKETS]}
    assert layer["encoding"]["x"]["sort"] == list(AGE_BANDS)
    # The chart's data are the aging counts of stats --json, every bucket × band (zeros included).
    data = at.get("vega_lite_chart")[0].proto.datasets or None
    points = _chart_rows(at, 0)
    assert {(p["bucket"], p["band"]): p["cases"] for p in points} == \
        {(b, band): n for b, bands in cli["aging"].items() for band, n in bands.items()}
    assert data is not None
    # SLA breaches per bucket, same order and colours.
    breaches = next(s for s in specs if "layer" in s and s["layer"][0]["encoding"]["y"]["field"] == "label")
    assert breaches["layer"][0]["encoding"]["y"]["sort"] == LABELS
    assert {p["bucket"]: p["breached"] for p in _chart_rows(at, 1)} == cli["breached_by_bucket"]


def _chart_rows(at, index: int) -> list[dict]:
    """The rows Streamlit ships to a chart (as Arrow)."""
    import pyarrow as pa
    chart = at.get("vega_lite_chart")[index].proto
    tables = [pa.ipc.open_stream(d.data.data).read_all() for d in chart.datasets] or \
        [pa.ipc.open_stream(chart.data.data).read_all()]
    return tables[0].to_pylist()


def test_opened_resolved_per_day_covers_30_days(app_env, frozen_now):
    at = session(app_env, MARIA)
    rows = _chart_rows(at, 2)
    from ui.common import get_store
    with get_store().read() as cur:
        per_day = queries.opened_resolved_per_day(cur, frozen_now)
    assert len(per_day) == 30
    assert sum(r["cases"] for r in rows if r["series"] == "Opened") == sum(r["opened"] for r in per_day)
    assert sum(r["cases"] for r in rows if r["series"] == "Resolved") == sum(r["resolved"] for r in per_day)


@pytest.mark.parametrize("key, selection, expected", [
    ("aging_chart", [{"bucket": "fraud_risk", "band": "> 7d"}], {"bucket": "fraud_risk", "age": "gt7d"}),
    ("breaches_chart", [{"bucket": "payment_mismatch"}], {"bucket": "payment_mismatch", "breached": "1"}),
])
def test_clicking_a_bucket_in_a_chart_opens_the_filtered_queue(app_env, key, selection, expected):
    at = session(app_env, MARIA)
    at.session_state[key] = {"selection": {"pick": selection}}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Queue"
    assert {k: v for k, v in at.query_params.items()} == expected
    table = at.dataframe[0].value
    label = BUCKET_LABELS[expected["bucket"]]
    assert len(table) and set(table["Bucket"]) == {label}


def test_empty_database_points_to_import_and_the_demo(empty_app_db):
    db = empty_app_db
    at = session(db, MARIA)
    assert not at.exception
    assert "no orders yet" in at.info[0].value
    assert at.code[0].value == "python -m exq_core demo"
    assert any(link.proto.label == "Go to Import" for link in at.get("page_link"))
    assert not at.metric and not at.get("vega_lite_chart")
    assert "Last import: none yet" in [c.value for c in at.sidebar.caption]


def test_only_resolved_cases_reads_as_a_clear_backlog(app_env, frozen_now):
    with open_store(app_env) as s:
        write(s, "UPDATE cases SET state = 'resolved', resolved_at = opened_at + INTERVAL '1 hour', "
                 "resolution_reason = 'other' WHERE state <> 'resolved'")
    at = session(app_env, MARIA)
    assert not at.exception
    values = metric_values(at)
    assert values["Open exceptions"] == "0" and values["SLA breached"] == "0"
    assert values["Oldest open case"] == "—"
    assert any("nothing is waiting" in s.value for s in at.success)
    # The breaches and flow charts still render (all zeros), every bucket present.
    assert {p["bucket"]: p["breached"] for p in _chart_rows(at, 0)} == {b.value: 0 for b in BUCKETS}


def test_a_bucket_with_no_cases_still_shows_with_zeros(app_env, frozen_now):
    with open_store(app_env) as s:
        write(s, "DELETE FROM cases WHERE bucket = 'vip_revenue'")
    at = session(app_env, MARIA)
    assert not at.exception
    table = at.table[0].value
    vip = table[table["Bucket"] == BUCKET_LABELS["vip_revenue"]].iloc[0]
    assert vip["Open"] == 0 and vip["Resolved"] == 0
    points = _chart_rows(at, 0)
    assert sum(p["cases"] for p in points if p["bucket"] == "vip_revenue") == 0
    assert len(points) == len(BUCKETS) * len(AGE_BANDS)


def test_sidebar_shows_database_last_import_and_person(app_env):
    with open_store(app_env) as s:
        write(s, "UPDATE imports SET file_name = '<script>alert(1)</script>**x**.csv'")
    at = session(app_env, MARIA)
    captions = [c.value for c in at.sidebar.caption]
    assert f"Database: `{app_env}`" in captions                   # a code span shows its text as is
    last = next(c for c in captions if c.startswith("Last import:"))
    # The file name is data: escaped, so Markdown shows it literally.
    assert r"\<script\>alert\(1\)\</script\>\*\*x\*\*\.csv" in last
    assert "UTC" in last
    assert any("maria" in m.value for m in at.sidebar.markdown) or any("maria" in c for c in captions)


def test_a_decision_elsewhere_shows_on_the_next_rerun(app_env, frozen_now):
    at = session(app_env, MARIA)
    before = at.table[0].value.set_index("Bucket")
    from exq_core import services
    from exq_core.models import Actor, Role
    from ui.common import get_store
    with get_store().read() as cur:
        case_id, bucket = cur.execute("SELECT case_id, bucket FROM cases WHERE state = 'new' ORDER BY case_id "
                                      "LIMIT 1").fetchone()
    services.claim(get_store(), case_id, Actor(username="sam", role=Role.REVIEWER))   # another browser
    at.run()
    after = at.table[0].value.set_index("Bucket")
    label = BUCKET_LABELS[bucket]
    assert after.loc[label, "New"] == before.loc[label, "New"] - 1
    assert after.loc[label, "In review"] == before.loc[label, "In review"] + 1


def _kpi_refresh() -> None:
    """What the KPI row does when it refreshes itself (a fragment: app.py's gate does not run), once:
    a full rerun it asks for shows as a second run that never gets past the check."""
    import streamlit as st

    from ui.common import still_signed_in
    runs = st.session_state.get("runs", 0) + 1
    st.session_state["runs"] = runs
    if runs == 1:
        st.session_state["still_signed_in"] = still_signed_in()


@pytest.mark.parametrize("change, reruns", [(None, False), ("disable", True), ("role", True)])
def test_the_kpi_refresh_rechecks_the_account_and_reruns_the_app_when_it_changed(app_env, change, reruns):
    from streamlit.testing.v1 import AppTest

    from exq_core import auth
    from exq_core.models import SYSTEM
    from ui.common import get_store
    sam = Actor(username="sam", role=Role.REVIEWER)
    if change == "disable":
        auth.set_disabled(get_store(), "sam", True, SYSTEM)
    elif change == "role":
        auth.set_role(get_store(), "sam", Role.VIEWER, SYSTEM)
    at = AppTest.from_function(_kpi_refresh, default_timeout=30)
    at.session_state["actor"] = sam
    at.run()
    assert not at.exception
    # a changed account: the whole app runs again (its gate then signs the person out or applies the role:
    # test_sign_in), and the refresh draws nothing more
    assert at.session_state["runs"] == (2 if reruns else 1)
    assert ("still_signed_in" in at.session_state) is not reruns
