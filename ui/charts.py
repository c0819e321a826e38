"""The Overview's charts and tables, built from numbers exq_core already aggregated in DuckDB.

Buckets appear in one fixed order (precedence) and one colour (models.BUCKET_COLORS) in every chart.
Every chart that shows buckets can be clicked: its selection names the bucket (and age band) to open
in the Queue.
"""
from __future__ import annotations

from typing import Mapping

import altair as alt
import pandas as pd

import streamlit as st

from exq_core.models import AGE_BANDS, BUCKET_COLORS, BUCKET_LABELS, BUCKETS, STATE_LABELS, STATES

LABELS = [BUCKET_LABELS[b] for b in BUCKETS]
COLORS = [BUCKET_COLORS[b] for b in BUCKETS]
PICK = "pick"          # the name of every chart's click selection


def _bucket_color(legend: bool = False) -> alt.Color:
    return alt.Color("label:N", scale=alt.Scale(domain=LABELS, range=COLORS),
                     legend=alt.Legend(title=None, orient="top") if legend else None)


def aging_chart(aging: Mapping[str, Mapping[str, int]]) -> alt.FacetChart:
    """Open cases per age band, one small panel per bucket (same y scale): where the backlog is, and how
    old. Older bands are drawn stronger so old backlog stands out."""
    rows = [{"bucket": b.value, "label": BUCKET_LABELS[b], "band": band,
             "cases": int(aging.get(b.value, {}).get(band, 0))} for b in BUCKETS for band in AGE_BANDS]
    df = pd.DataFrame(rows)
    pick = alt.selection_point(name=PICK, fields=["bucket", "band"], on="click", clear=False)
    base = alt.Chart(df).encode(
        x=alt.X("band:N", sort=list(AGE_BANDS), title=None, axis=alt.Axis(labelAngle=0, labelFontSize=10)),
        y=alt.Y("cases:Q", title="open cases"),
        tooltip=[alt.Tooltip("label:N", title="Bucket"), alt.Tooltip("band:N", title="Age"),
                 alt.Tooltip("cases:Q", title="Open cases", format=",")])
    bars = base.mark_bar(cursor="pointer").encode(
        color=_bucket_color(),
        opacity=alt.Opacity("band:N", sort=list(AGE_BANDS), legend=None,
                            scale=alt.Scale(domain=list(AGE_BANDS), range=[0.45, 0.6, 0.75, 0.88, 1.0])),
    ).add_params(pick)
    labels = base.mark_text(dy=-6, fontSize=10, color="#333").encode(
        text=alt.condition("datum.cases > 0", alt.Text("cases:Q", format=","), alt.value("")))
    return alt.layer(bars, labels, data=df).properties(width=135, height=190).facet(
        column=alt.Column("label:N", sort=LABELS, title=None, header=alt.Header(labelFontSize=12,
                                                                                labelFontWeight="bold")),
        spacing=10,
    ).resolve_scale(x="independent")


def breaches_chart(breached: Mapping[str, int]) -> alt.LayerChart:
    """Open cases past their SLA, per bucket."""
    df = pd.DataFrame([{"bucket": b.value, "label": BUCKET_LABELS[b], "breached": int(breached.get(b.value, 0))}
                       for b in BUCKETS])
    pick = alt.selection_point(name=PICK, fields=["bucket"], on="click", clear=False)
    base = alt.Chart(df).encode(
        y=alt.Y("label:N", sort=LABELS, title=None),
        x=alt.X("breached:Q", title="open cases past their SLA"),
        tooltip=[alt.Tooltip("label:N", title="Bucket"), alt.Tooltip("breached:Q", title="SLA breached",
                                                                     format=",")])
    bars = base.mark_bar(cursor="pointer").encode(color=_bucket_color()).add_params(pick)
    text = base.mark_text(align="left", dx=4, fontSize=11, color="#333").encode(text=alt.Text("breached:Q",
                                                                                            format=","))
    return alt.layer(bars, text).properties(height=230)


def flow_chart(per_day: list[dict]) -> alt.Chart:
    """Cases opened and resolved per day: is the team keeping up?"""
    df = pd.DataFrame([{"day": pd.Timestamp(r["day"]), "series": series, "cases": int(r[key])}
                       for r in per_day for series, key in (("Opened", "opened"), ("Resolved", "resolved"))])
    if df.empty:
        df = pd.DataFrame({"day": pd.Series(dtype="datetime64[ns]"), "series": pd.Series(dtype=str),
                           "cases": pd.Series(dtype=int)})
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=25), strokeWidth=2).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0)),
        y=alt.Y("cases:Q", title="cases per day"),
        color=alt.Color("series:N", scale=alt.Scale(domain=["Opened", "Resolved"], range=["#555555", "#17becf"]),
                        legend=alt.Legend(title=None, orient="top", symbolType="stroke", symbolStrokeWidth=3)),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=["Opened", "Resolved"],
                                                              range=[[4, 3], [1, 0]]), legend=None),
        tooltip=[alt.Tooltip("day:T", title="Day", format="%Y-%m-%d"), alt.Tooltip("series:N", title=""),
                 alt.Tooltip("cases:Q", title="Cases", format=",")],
    ).properties(height=230)


def bucket_state_table(by_bucket: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """Bucket × state counts as a small table (one row per bucket, fixed order, plus a total row)."""
    rows = []
    for b in BUCKETS:
        counts = by_bucket.get(b.value, {})
        by_state = {STATE_LABELS[s.value]: int(counts.get(s.value, 0)) for s in STATES}
        row = {"Bucket": BUCKET_LABELS[b], "Open": sum(n for s, n in counts.items() if s != "resolved")} | by_state
        rows.append(row)
    df = pd.DataFrame(rows)
    total = {"Bucket": "All buckets", **{c: int(df[c].sum()) for c in df.columns if c != "Bucket"}}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def picked(event, fields: tuple[str, ...] = ("bucket",)) -> dict | None:
    """The first clicked point of a chart's selection event, as {field: value}, or None."""
    if not event:
        return None
    try:
        points = event["selection"][PICK]
    except (KeyError, TypeError):
        try:
            points = event.selection[PICK]
        except (AttributeError, KeyError):
            return None
    if not points:
        return None
    point = points[0]
    return {f: point.get(f) for f in fields if point.get(f) is not None}


@st.cache_data(max_entries=20, show_spinner=False)
def chart_specs(data: dict) -> dict[str, dict]:
    """The Overview's charts as Vega-Lite specs, built (and validated by Altair) once per set of numbers
    rather than on every rerun."""
    return {"aging": aging_chart(data["aging"]).to_dict(),
            "breaches": breaches_chart(data["breached_by_bucket"]).to_dict(),
            "flow": flow_chart(data["per_day"]).to_dict()}
