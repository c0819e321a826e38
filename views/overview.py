"""Overview: where the backlog is and how old it is, at a glance. Click a bucket to work it in the Queue."""
import streamlit as st

from exq_core import queries
from exq_core.models import BUCKET_LABELS, BUCKETS
from exq_core.store import utcnow
from ui.charts import bucket_state_table, chart_specs, picked
from ui.common import page_guard, still_signed_in
from ui.data import NOW, read
from ui.format import bucket_badge, format_hours, open_by_bucket
from ui.links import BAND_SLUG

page_guard()
QUEUE = "views/queue.py"


def open_queue(params: dict) -> None:
    st.switch_page(QUEUE, query_params=params)


@st.fragment(run_every="60s")
def kpi_row() -> None:
    """The five numbers a manager reads first; refreshed every minute without rerunning the page (the
    account is re-checked first: a disabled person's screen stops refreshing)."""
    if not still_signed_in():
        return
    data = read(queries.overview, NOW)
    cols = st.columns(5)
    cols[0].metric("Open exceptions", f"{data['open']:,}", help="Cases not resolved yet, in every bucket.",
                   border=True)
    cols[1].metric("SLA breached", f"{data['breached']:,}", border=True,
                   help="Open cases past their bucket's SLA (fraud 2 h … returns 48 h).")
    cols[2].metric("Oldest open case", format_hours(data["oldest_open_hours"]), border=True,
                   help="How long the oldest unresolved case has been open.")
    cols[3].metric("Exception rate", f"{data['exception_rate']:.2f} %", border=True,
                   help=f"Orders that became a case: {data['exceptions']:,} of {data['orders']:,}.")
    cols[4].metric("Resolved today", f"{data['resolved_today']:,}", border=True,
                   help="Cases resolved since midnight UTC.")
    st.caption(f"Updated {utcnow():%H:%M} UTC · refreshes every minute")


st.title("Overview")
data = read(queries.overview, NOW)
charts = chart_specs(data)

if not data["orders"]:
    st.info("This database has no orders yet. Import a feed on the Import page, or load a demo shop "
            "from the command line:", icon=":material/inbox:")
    st.code("python -m exq_core demo", language="bash")
    st.page_link("views/import.py", label="Go to Import", icon=":material/upload_file:")
else:
    kpi_row()
    if not data["exceptions"]:
        st.success(f"All {data['orders']:,} orders are routine: no exception cases.", icon=":material/check_circle:")

    st.subheader("Open cases by bucket")
    open_counts = open_by_bucket(data["by_bucket"])
    for col, b in zip(st.columns(len(BUCKETS)), BUCKETS):
        with col.container(border=True):
            st.markdown(bucket_badge(b))
            st.markdown(f"### {open_counts[b.value]:,}")
            st.caption(f"{data['breached_by_bucket'][b.value]:,} past SLA")
            st.page_link(QUEUE, label="Open in Queue", icon=":material/arrow_forward:", query_params={"bucket": b.value},
                         help=f"The Queue, filtered to {BUCKET_LABELS[b]}")

    st.subheader("Backlog age")
    if data["open"]:
        st.caption("Open cases per age band, one panel per bucket. Click a bar to open those cases in the Queue.")
        event = st.vega_lite_chart(spec=charts["aging"], on_select="rerun",
                                   key="aging_chart", selection_mode="pick")
        point = picked(event, ("bucket", "band"))
        if point and point.get("bucket"):
            params = {"bucket": point["bucket"]}
            if point.get("band") in BAND_SLUG:
                params["age"] = BAND_SLUG[point["band"]]
            open_queue(params)
    else:
        st.success("No open cases: nothing is waiting for a person.", icon=":material/check_circle:")

    left, right = st.columns(2)
    with left:
        st.subheader("SLA breaches")
        event = st.vega_lite_chart(spec=charts["breaches"], on_select="rerun",
                                   key="breaches_chart", selection_mode="pick", width="stretch")
        point = picked(event)
        if point and point.get("bucket"):
            open_queue({"bucket": point["bucket"], "breached": "1"})
    with right:
        st.subheader("Opened vs resolved, last 30 days")
        st.vega_lite_chart(spec=charts["flow"], width="stretch")

    st.subheader("Cases by bucket and state")
    table = bucket_state_table(data["by_bucket"])
    st.table(table.style.format("{:,}", subset=list(table.columns[1:])), hide_index=True, border="horizontal")
