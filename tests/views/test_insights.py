"""Insights: the DuckDB queries checked against an independent computation over the raw rows, the filters,
the CSV export, and the page through AppTest."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from exq_core import services
from exq_core.queries import insights
from exq_core.queries.insights import DecisionLogFilter, InsightsFilter
from exq_core.models import BUCKETS, Actor, Bucket, DecisionRequest, Role, State, Verdict, reasons_for
from exq_core.store import open_store, Store, utcnow
from tests.views.review_support import session

MARIA = Actor(username="maria", role=Role.MANAGER)


@pytest.fixture
def store(demo_store):
    return demo_store


_open = []


def _cur(store: Store):
    """A cursor that stays open until the test ends (see the autouse fixture below)."""
    ctx = store.read()
    _open.append(ctx)
    return ctx.__enter__()


@pytest.fixture(autouse=True)
def _close_cursors():
    yield
    while _open:
        _open.pop().__exit__(None, None, None)


def raw_decisions(store: Store) -> pd.DataFrame:
    with store.read() as cur:
        return cur.execute("SELECT * FROM decisions").df()


def test_acceptance_by_bucket_matches_the_raw_decisions(store):
    raw = raw_decisions(store)
    got = insights.acceptance_by_bucket(_cur(store))
    # every bucket × every source, fixed order: acceptance is never mixed across sources
    assert list(zip(got["bucket"], got["source"])) == [(b.value, s) for b in BUCKETS for s in insights.SOURCES]
    for row in got.itertuples():
        mine = raw[(raw["bucket"] == row.bucket) & (raw["suggestion_source"] == row.source)]
        accepted = int((mine["verdict"] == "accepted").sum())
        overridden = int((mine["verdict"] == "overridden").sum())
        assert (row.accepted, row.overridden) == (accepted, overridden)
        if accepted + overridden:
            assert row.acceptance_rate == pytest.approx(accepted / (accepted + overridden))
    s = insights.summary(_cur(store))
    assert s["decisions"] == len(raw)
    for source in insights.SOURCES:
        mine = raw[raw["suggestion_source"] == source]
        judged = mine["verdict"].isin(["accepted", "overridden"]).sum()
        expected = (mine["verdict"] == "accepted").sum() / judged if judged else None
        assert s["acceptance"][source]["acceptance_rate"] == (pytest.approx(expected) if judged else None)


def test_acceptance_per_week_and_override_pairs(store):
    raw = raw_decisions(store)
    judged = raw[raw["verdict"].isin(["accepted", "overridden"])].copy()
    judged["week"] = judged["decided_at"].dt.to_period("W-SUN").dt.start_time.dt.date
    weeks = insights.acceptance_by_week(_cur(store))
    weeks["week"] = pd.to_datetime(weeks["week"]).dt.date
    expected = judged.groupby(["week", "bucket"])["verdict"].apply(lambda v: (v == "accepted").mean())
    got = weeks.set_index(["week", "bucket"])["acceptance_rate"]
    assert len(got) == len(expected)
    for key, value in expected.items():
        assert got.loc[key] == pytest.approx(value)

    pairs = insights.override_pairs(_cur(store), limit=1000)
    over = raw[raw["verdict"] == "overridden"]
    expected = over.groupby(["bucket", "suggested_action", "action"]).size()
    assert pairs["n"].sum() == len(over) and len(pairs) == len(expected)
    top = pairs.iloc[0]
    assert top["n"] == expected.max()
    assert (top["suggested_action"] != top["chosen_action"])


def test_resolution_reasons_and_time_to_resolution(store):
    raw = raw_decisions(store)
    reasons = insights.resolution_reasons(_cur(store))
    resolved = raw[raw["to_state"] == "resolved"]
    expected = resolved.groupby(["bucket", "resolution_reason"]).size()
    assert reasons.set_index(["bucket", "resolution_reason"])["n"].to_dict() == expected.to_dict()
    for bucket in reasons["bucket"].unique():                               # every reason from the catalog
        assert set(reasons[reasons["bucket"] == bucket]["resolution_reason"]) <= set(reasons_for(bucket))

    with store.read() as cur:
        cases = cur.execute("SELECT bucket, opened_at, resolved_at, sla_due_at FROM cases "
                            "WHERE state = 'resolved'").df()
    cases["hours"] = (cases["resolved_at"] - cases["opened_at"]).dt.total_seconds() / 3600
    ttr = insights.time_to_resolution(_cur(store)).set_index("bucket")
    for bucket, group in cases.groupby("bucket"):
        assert ttr.loc[bucket, "resolved"] == len(group)
        assert ttr.loc[bucket, "p50_hours"] == pytest.approx(np.quantile(group["hours"], 0.5))
        assert ttr.loc[bucket, "p90_hours"] == pytest.approx(np.quantile(group["hours"], 0.9))
        assert ttr.loc[bucket, "within_sla"] == pytest.approx((group["resolved_at"] <= group["sla_due_at"]).mean())


def test_reviewer_throughput(store):
    raw = raw_decisions(store)
    rv = insights.reviewer_throughput(_cur(store)).set_index("reviewer")
    for reviewer, group in raw.groupby("reviewer"):
        assert rv.loc[reviewer, "decisions"] == len(group)
        assert rv.loc[reviewer, "resolved"] == (group["to_state"] == "resolved").sum()
        assert rv.loc[reviewer, "active_days"] == group["decided_at"].dt.date.nunique()
    assert list(rv["decisions"]) == sorted(rv["decisions"], reverse=True)


def test_filters_narrow_every_panel(store):
    raw = raw_decisions(store)
    since = utcnow() - timedelta(days=7)
    f = InsightsFilter(since=since, buckets=[Bucket.PAYMENT_MISMATCH])
    mine = raw[(raw["decided_at"] >= since) & (raw["bucket"] == "payment_mismatch")]
    assert insights.summary(_cur(store), f)["decisions"] == len(mine)
    acc = insights.acceptance_by_bucket(_cur(store), f)
    assert set(acc["bucket"]) == {"payment_mismatch"} and list(acc["source"]) == list(insights.SOURCES)
    assert set(insights.resolution_reasons(_cur(store), f)["bucket"]) <= {"payment_mismatch"}
    log, total = insights.decision_log(_cur(store), DecisionLogFilter(**f.model_dump(), reviewers=["sam"],
                                                                         verdicts=[Verdict.OVERRIDDEN]))
    assert total == len(mine[(mine["reviewer"] == "sam") & (mine["verdict"] == "overridden")])
    assert set(log["reviewer"]) <= {"sam"}


def test_decision_log_pages_newest_first_and_exports_csv_safely(store, manager):
    with store.read() as cur:
        cid = cur.execute("SELECT case_id FROM cases WHERE state = 'new' ORDER BY case_id LIMIT 1").fetchone()[0]
    case = services.claim(store, cid, manager)
    services.decide(store, DecisionRequest(case_id=cid, case_version=case.version, to_state=State.RESOLVED,
                                           resolution_reason="other", evidence="=HYPERLINK(\"http://x\")",
                                           note="+1 refund, customer said \"thanks\", ok"), manager)
    log, total = insights.decision_log(_cur(store), limit=10)
    assert len(log) == 10 and total == len(raw_decisions(store))
    assert log.iloc[0]["case_id"] == cid                                     # newest first
    assert list(log["decided_at"]) == sorted(log["decided_at"], reverse=True)
    page2, _ = insights.decision_log(_cur(store), limit=10, offset=10)
    assert not set(page2["decision_id"]) & set(log["decision_id"])

    data = insights.decision_log_csv(_cur(store), DecisionLogFilter(case_id=cid))
    exported = pd.read_csv(io.BytesIO(data))
    assert list(exported.columns) == list(insights.LOG_COLUMNS)
    (row,) = exported.to_dict("records")
    assert row["evidence"] == "'=HYPERLINK(\"http://x\")"                   # never a live formula
    assert row["note"] == "'+1 refund, customer said \"thanks\", ok"
    assert row["reviewer"] == "maria" and row["resolution_reason"] == "other"
    everything = pd.read_csv(io.BytesIO(insights.decision_log_csv(_cur(store))))
    assert len(everything) == total


# -- the page ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_insights_page_renders_every_panel(app_env):
    at = session(app_env, MARIA, page="views/insights.py")
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Decisions", "Model accepted", "Offline assistant accepted", "Fallback accepted",
                      "Cases resolved", "Median time to resolution"]
    subheaders = [h.value for h in at.subheader]
    for name in ("AI acceptance by bucket", "AI acceptance per week", "Overrides: suggested → chosen",
                 "Resolution reasons", "Time to resolution", "Reviewer throughput", "Decision log"):
        assert name in subheaders
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 3                                                   # acceptance ×2, time to resolution
    assert [d.key for d in at.get("download_button")] == ["in_export"]
    with open_store(app_env) as s:
        expected = insights.summary(_cur(s), InsightsFilter(
            since=(utcnow() - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)))
    assert at.metric[0].value == f"{expected['decisions']:,}"


@pytest.mark.slow
def test_insights_log_filters_find_one_case(app_env):
    with open_store(app_env) as s:
        with s.read() as cur:
            cid, n = cur.execute("SELECT case_id, count(*) FROM decisions GROUP BY case_id ORDER BY case_id "
                                 "LIMIT 1").fetchone()
    at = session(app_env, MARIA, page="views/insights.py")
    at.number_input(key="in_log_case").set_value(cid).run()
    assert not at.exception
    log = at.dataframe[-1].value                                              # the log is the last table
    assert set(log["case_id"]) == {cid} and len(log) == n
    matches = "1 decision matches" if n == 1 else f"{n:,} decisions match"
    assert any(c.value.startswith(matches) for c in at.caption)
