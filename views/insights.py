"""Insights: how often the AI is right (per suggestion source, never mixed), what people choose instead, why
cases close, how long they take and who does the work; the decision log with filters and a CSV export.
Numbers come from exq_core.queries.insights, computed in the database."""
from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from exq_core.models import BUCKET_LABELS, BUCKETS, STATES, Bucket, Verdict
from exq_core.queries import insights
from exq_core.store import utcnow
from ui.common import BUCKET_ORDER, BUCKET_PALETTE, page_guard
from ui.data import fresh, read
from ui.format import inert

page_guard()
PERIODS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "All time": None}
LABEL_ORDER = [BUCKET_LABELS[b] for b in BUCKETS]
LOG_PAGE = 200


def labelled(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(bucket=df["bucket"].map(lambda b: BUCKET_LABELS.get(Bucket(b), b)))


def bucket_color(legend: bool = True) -> alt.Color:
    return alt.Color("bucket:N", scale=alt.Scale(domain=LABEL_ORDER, range=BUCKET_PALETTE), sort=LABEL_ORDER,
                     legend=alt.Legend(title=None, orient="bottom", columns=3) if legend else None)


st.title("Insights")
c1, c2 = st.columns([1, 3])
period = c1.selectbox("Period", list(PERIODS), index=1, key="in_period")
chosen = c2.multiselect("Buckets", BUCKET_ORDER, key="in_buckets", format_func=lambda b: BUCKET_LABELS[Bucket(b)],
                        placeholder="All buckets")
days = PERIODS[period]
since = (utcnow() - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0) if days else None
flt = insights.InsightsFilter(since=since, buckets=chosen)
s = read(insights.summary, flt)


def rate(source: str) -> str:
    r = s["acceptance"][source]
    return "—" if r["acceptance_rate"] is None else f"{r['acceptance_rate']:.0%} of {r['judged']:,}"


k = st.columns(6)
k[0].metric("Decisions", f"{s['decisions']:,}")
k[1].metric("Model accepted", rate("model"),
            help="Accepted ÷ (accepted + overridden) of the AI model's suggestions; decisions made without a "
                 "suggestion, or on the offline assistant's, do not count here.")
k[2].metric("Offline assistant accepted", rate("offline"),
            help="The same for suggestions of the offline assistant (no model configured).")
k[3].metric("Fallback accepted", rate("fallback"),
            help="The same for the offline suggestions shown because the model failed.")
k[4].metric("Cases resolved", f"{s['resolved_cases']:,}")
k[5].metric("Median time to resolution", "—" if s["ttr_p50_hours"] is None else f"{s['ttr_p50_hours']:.1f} h")

judged = {src: s["acceptance"][src]["judged"] for src in insights.SOURCES}
source = st.radio("Acceptance of suggestions from", list(insights.SOURCES), horizontal=True, key="in_source",
                  index=list(insights.SOURCES).index(max(insights.SOURCES, key=lambda src: judged[src])),
                  format_func=insights.SOURCE_LABELS.get,
                  help="Acceptance is shown for one source at a time: agreeing with a template is not agreeing "
                       "with the model.")

left, right = st.columns(2)
with left:
    st.subheader("AI acceptance by bucket")
    by_bucket = read(insights.acceptance_by_bucket, flt)
    bb = labelled(by_bucket[by_bucket["source"] == source])
    st.altair_chart(
        alt.Chart(bb).mark_bar().encode(
            x=alt.X("acceptance_rate:Q", title="accepted", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("bucket:N", sort=LABEL_ORDER, title=None), color=bucket_color(legend=False),
            tooltip=["bucket", "accepted", "overridden",
                     alt.Tooltip("acceptance_rate:Q", format=".0%")]).properties(height=220),
        width="stretch", theme=None)
with right:
    st.subheader("AI acceptance per week")
    wk = read(insights.acceptance_by_week, flt)
    wk = wk[wk["source"] == source]
    if wk.empty:
        st.caption("No decisions with a suggestion in this period.")
    else:
        st.altair_chart(
            alt.Chart(labelled(wk)).mark_line(point=True).encode(
                x=alt.X("week:T", title="week of"),
                y=alt.Y("acceptance_rate:Q", title="accepted", axis=alt.Axis(format="%"),
                        scale=alt.Scale(domain=[0, 1])),
                color=bucket_color(),
                tooltip=["week:T", "bucket", "accepted", "overridden",
                         alt.Tooltip("acceptance_rate:Q", format=".0%")]).properties(height=220),
            width="stretch", theme=None)

left, right = st.columns(2)
with left:
    st.subheader("Overrides: suggested → chosen")
    pairs = read(insights.override_pairs, flt)
    if pairs.empty:
        st.caption("No overrides in this period.")
    else:
        st.dataframe(labelled(pairs).assign(source=pairs["source"].map(insights.SOURCE_LABELS)), hide_index=True, width="stretch", height=300, column_config={
            "suggested_action": "suggested", "chosen_action": "chosen",
            "pct_of_bucket_overrides": st.column_config.NumberColumn("% of bucket's overrides", format="%.1f")})
with right:
    st.subheader("Resolution reasons")
    reasons = read(insights.resolution_reasons, flt)
    if reasons.empty:
        st.caption("No resolutions in this period.")
    else:
        st.dataframe(labelled(reasons), hide_index=True, width="stretch", height=300, column_config={
            "resolution_reason": "reason",
            "pct_of_bucket": st.column_config.ProgressColumn("% of bucket", format="%.0f%%", min_value=0,
                                                             max_value=100)})

left, right = st.columns(2)
with left:
    st.subheader("Time to resolution")
    ttr = labelled(read(insights.time_to_resolution, flt))
    long = ttr.melt(id_vars=["bucket"], value_vars=["p50_hours", "p90_hours"], var_name="quantile",
                    value_name="hours").dropna()
    long["quantile"] = long["quantile"].map({"p50_hours": "p50", "p90_hours": "p90"})
    if long.empty:
        st.caption("No resolutions in this period.")
    else:
        st.altair_chart(
            alt.Chart(long).mark_bar().encode(
                y=alt.Y("bucket:N", sort=LABEL_ORDER, title=None), yOffset="quantile:N",
                x=alt.X("hours:Q", title="hours from open to resolved"),
                color=alt.Color("quantile:N", scale=alt.Scale(range=["#4e79a7", "#a0cbe8"]),
                                legend=alt.Legend(title=None, orient="bottom")),
                tooltip=["bucket", "quantile", alt.Tooltip("hours:Q", format=".1f")]).properties(height=240),
            width="stretch", theme=None)
    st.dataframe(ttr.assign(within_sla=ttr["within_sla"] * 100), hide_index=True, width="stretch", column_config={
        "p50_hours": st.column_config.NumberColumn("p50 (h)", format="%.1f"),
        "p90_hours": st.column_config.NumberColumn("p90 (h)", format="%.1f"),
        "within_sla": st.column_config.ProgressColumn("within SLA", format="%.0f%%", min_value=0, max_value=100)})
with right:
    st.subheader("Reviewer throughput")
    rv = read(insights.reviewer_throughput, flt)
    if rv.empty:
        st.caption("No decisions in this period.")
    else:
        st.dataframe(rv.assign(reviewer=rv["reviewer"].map(inert),
                               model_acceptance_rate=rv["model_acceptance_rate"] * 100), hide_index=True,
                     width="stretch", column_config={
                         "model_acceptance_rate": st.column_config.NumberColumn("model accepted", format="%.0f%%"),
                         "active_days": "active days",
                         "per_active_day": st.column_config.NumberColumn("per active day", format="%.1f"),
                         "last_decision": st.column_config.DatetimeColumn("last decision (UTC)",
                                                                          format="YYYY-MM-DD HH:mm")})

st.subheader("Decision log")
with st.container(border=True):
    f1, f2, f3, f4, f5 = st.columns([2, 2, 2, 1, 2])
    who = f1.multiselect("Reviewer", read(insights.reviewers), key="in_log_reviewers", placeholder="Everyone")
    verdicts = f2.multiselect("Verdict", [v.value for v in Verdict], key="in_log_verdicts", placeholder="Any")
    to_states = f3.multiselect("To state", [x.value for x in STATES], key="in_log_states", placeholder="Any")
    case_id = f4.number_input("Case id", min_value=1, value=None, step=1, key="in_log_case", placeholder="any")
    text = f5.text_input("Contains", key="in_log_text", max_chars=200,
                         placeholder="order id, evidence, note, action")
log_filter = insights.DecisionLogFilter(**flt.model_dump(), reviewers=who, verdicts=verdicts, to_states=to_states,
                                        case_id=int(case_id) if case_id else None, text=text or None)
log, total = fresh(insights.decision_log, log_filter, limit=LOG_PAGE)
matches = "1 decision matches" if total == 1 else f"{total:,} decisions match"
st.caption(matches + (f"; the newest {LOG_PAGE} are shown — export for all." if total > LOG_PAGE else "."))
text_cols = ["order_id", "reviewer", "override_note", "evidence", "note"]
st.dataframe(log.assign(**{c: log[c].map(lambda v: inert(v) if isinstance(v, str) else v) for c in text_cols}),
             hide_index=True, width="stretch", key="in_log", column_config={
    "decided_at": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm")})


def export() -> bytes:
    """Every decision matching the filters, spreadsheet formulas neutralised."""
    return fresh(insights.decision_log_csv, log_filter)


st.download_button("Export CSV", data=export, file_name=f"exq-decisions-{utcnow():%Y%m%d-%H%M}.csv",
                   mime="text/csv", key="in_export", icon="⬇️", on_click="ignore",
                   help="Every decision matching the filters above, as CSV.")
