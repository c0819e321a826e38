"""Queue: the open cases in escalate-first order. Filter (the link keeps the filter: share it), page,
claim the next case, open one for review, or select several for a bulk action."""
import hashlib

import pandas as pd
import streamlit as st

from exq_core import queries, services, workflow
from exq_core.errors import ExqError
from exq_core.exports import frame_csv
from exq_core.models import AGE_BANDS, BUCKET_LABELS, BUCKETS, STATE_LABELS, STATES, Bucket
from exq_core.queries import UNASSIGNED, QueueFilter
from exq_core.workflow import PERMISSIONS
from ui.bulk import bulk_panel
from ui.common import get_rules, get_store, page_guard
from ui.data import NOW, RULES, fresh, read
from ui.format import bucket_cell_style, format_due, format_hours, inert, md_escape
from ui.links import PAGE_SIZE, filter_from_params, filter_to_params, page_count, page_from_params

REVIEW = "views/review.py"
ss = st.session_state
actor = page_guard()

# Widget keys, and the non-widget keys that outlive a visit to another page.
BUCKET, STATE, ASSIGNEE, AGE, BREACHED, TEXT, WAITING = (
    "queue_bucket", "queue_state", "queue_assignee", "queue_age", "queue_breached", "queue_text", "queue_waiting")
VIEW, VIEW_NAME = "queue_view", "queue_view_name"
PAGE, LINK, NOTICE = "queue_page", "queue_link", "queue_notice"


# -- filter <-> widgets <-> link ----------------------------------------------------------------------

def load_filter(f: QueueFilter, page: int = 1) -> None:
    """Put a filter into the widgets (before they are drawn, or from a callback)."""
    ss[BUCKET] = [b.value for b in f.buckets]
    ss[STATE] = [s.value for s in f.states]
    ss[ASSIGNEE] = f.assignee or ""
    ss[AGE] = f.age_band or ""
    ss[BREACHED] = f.breached_only
    ss[TEXT] = f.text or ""
    ss[WAITING] = f.include_waiting
    ss[PAGE] = page


def current_filter() -> QueueFilter:
    """The filter the widgets describe right now."""
    return QueueFilter(buckets=ss.get(BUCKET, []), states=ss.get(STATE, []), assignee=ss.get(ASSIGNEE) or None,
                       age_band=ss.get(AGE) or None, breached_only=ss.get(BREACHED, False),
                       text=(ss.get(TEXT) or "").strip()[:200] or None, include_waiting=ss.get(WAITING, False))


params = st.query_params.to_dict()
if params != ss.get(LINK) or BUCKET not in ss:
    # Arrived from a link, another page, or a shared URL. Coming back through the sidebar (no parameters)
    # restores the filters this session last used here.
    source = params if params or not ss.get(LINK) else ss[LINK]
    load_filter(filter_from_params(source), page_from_params(source))


def filters_changed() -> None:
    ss[PAGE] = 1
    ss[VIEW] = ""


def apply_view() -> None:
    name = ss.get(VIEW)
    if not name or actor is None:
        return
    view = fresh(queries.get_view, actor.username, name)
    if view:
        load_filter(view.filters)


def save_view() -> None:
    name = (ss.get(VIEW_NAME) or "").strip()
    try:
        view = services.save_view(get_store(), actor, name, current_filter())
    except ExqError as err:
        ss[NOTICE] = ("error", str(err))
        return
    ss[VIEW] = view.name
    ss[VIEW_NAME] = ""
    ss[NOTICE] = ("toast", f"Saved view “{md_escape(view.name)}”")


def delete_view() -> None:
    name = ss.get(VIEW)
    try:
        if name and services.delete_view(get_store(), actor, name):
            ss[NOTICE] = ("toast", f"Deleted view “{md_escape(name)}”")
    except ExqError as err:
        ss[NOTICE] = ("error", str(err))
    ss[VIEW] = ""


def clear_filters() -> None:
    load_filter(QueueFilter())
    ss[VIEW] = ""


def go_page(delta: int) -> None:
    ss[PAGE] = max(1, ss.get(PAGE, 1) + delta)


def render_table(rows, f: QueueFilter, page: int) -> None:
    """The page of cases, and what to do with the selected ones."""
    table = pd.DataFrame({
        "Case": rows["case_id"],
        "Priority": rows["priority"],
        "Bucket": [BUCKET_LABELS[Bucket(b)] for b in rows["bucket"]],
        "State": [STATE_LABELS.get(s, s) for s in rows["state"]],
        "Order": [inert(o) for o in rows["order_id"]],
        "Value": rows["order_total"].astype(float),
        "Cur.": rows["currency"],
        "Age": [format_hours(h) for h in rows["age_hours"]],
        "SLA left": rows["sla_remaining_fraction"].astype(float),
        "SLA due": [format_due(h) for h in rows["sla_remaining_hours"]],
        "Assignee": [f"{a} (claimed)" if pd.notna(c) else (a if pd.notna(a) else "")
                     for a, c in zip(rows["assignee"], rows["claimed_by"])],
        "Cleared": rows["condition_cleared"].astype(bool),
    })
    # A new key for every filter and page, so a selection never points at rows that are no longer shown.
    table_key = "queue_table_" + hashlib.sha1(f"{f.model_dump_json()}|{page}".encode()).hexdigest()[:10]
    event = st.dataframe(
        table.style.map(bucket_cell_style, subset=["Bucket"]), key=table_key, on_select="rerun",
        selection_mode="multi-row", hide_index=True, width="stretch",
        height=min(len(table), 15) * 35 + 38,
        column_config={
            "Case": st.column_config.NumberColumn("Case", format="%d", width="small"),
            "Priority": st.column_config.NumberColumn(
                "Priority", format="%.1f", width="small",
                help="Bucket weight + value points (order size) + urgency points (SLA elapsed; 30 once breached)."),
            "Value": st.column_config.NumberColumn("Value", format="%.2f"),
            "SLA left": st.column_config.ProgressColumn(
                "SLA left", min_value=0.0, max_value=1.0, format="percent", width="small",
                help="Share of the bucket's SLA time still left; empty once breached."),
            "SLA due": st.column_config.TextColumn("SLA due", help="When the SLA is due, or how late the case is."),
            "Assignee": st.column_config.TextColumn(
                "Assignee", help="Who works the case; '(claimed)' while their 60-minute claim is live."),
            "Cleared": st.column_config.CheckboxColumn(
                "Cleared", width="small",
                help="Condition cleared: a later snapshot no longer fires any rule. A person still resolves it."),
        })

    # The table's own toolbar has no CSV download (client.disableDataExport): it would write "=HYPERLINK(…)"
    # from a feed as it is. This one neutralises spreadsheet formulas.
    st.download_button("Download this page (CSV)", frame_csv(table), file_name=f"exq-queue-page-{page}.csv",
                       mime="text/csv", key="queue_csv", on_click="ignore", icon=":material/download:",
                       type="tertiary", help="The cases shown on this page, as CSV. For everything: "
                                             "`python -m exq_core export cases`.")
    selected_rows = [i for i in event.selection.rows if 0 <= i < len(table)]
    selected = [int(table.iloc[i]["Case"]) for i in selected_rows]
    if len(selected) == 1:
        case_id = selected[0]
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"Case **#{case_id}** selected.")
            if st.button(f"Open case #{case_id} for review", key="queue_open", type="primary",
                         icon=":material/open_in_new:"):
                st.switch_page(REVIEW, query_params={"case": str(case_id)})
    elif len(selected) > 1:
        st.markdown(f"**{len(selected)} cases selected.**")
        bulk_panel(selected)
    else:
        st.caption("Select a row to open it for review; select several for a bulk action.")


# -- the page ----------------------------------------------------------------------------------------

st.title("Queue")
st.caption("Escalate first: highest priority on top (bucket weight + order value + SLA urgency), then oldest.")

notice = ss.pop(NOTICE, None)
if notice and notice[0] == "toast":
    st.toast(notice[1], icon=":material/save:")
elif notice:
    st.error(notice[1])

views = fresh(queries.list_views, actor.username)
view_names = [v.name for v in views]
if ss.get(VIEW) and ss[VIEW] not in view_names:
    ss[VIEW] = ""
with st.container(horizontal=True, vertical_alignment="bottom"):
    st.selectbox("Saved view", [""] + view_names, key=VIEW, on_change=apply_view, width=260,
                 format_func=lambda n: n or ("Choose a saved view…" if view_names else "No saved views yet"),
                 disabled=not view_names)
    st.button("Delete view", key="queue_delete_view", on_click=delete_view, disabled=not ss.get(VIEW),
              icon=":material/delete:")
    with st.popover("Save view…", icon=":material/save:"):
        st.text_input("Name", key=VIEW_NAME, max_chars=60, placeholder="e.g. Fraud, breached")
        st.button("Save the current filters", key="queue_save_view", on_click=save_view, type="primary",
                  disabled=actor is None)

assignee_options = ["", UNASSIGNED] + sorted(set(read(queries.assignees)) | {actor.username if actor else ""}
                                             | {ss.get(ASSIGNEE) or ""} - {"", UNASSIGNED})


def assignee_label(value: str) -> str:
    if not value:
        return "Anyone"
    if value == UNASSIGNED:
        return "Nobody (unclaimed)"
    return f"{value} (me)" if actor and value == actor.username else value


with st.container(horizontal=True, vertical_alignment="bottom"):
    st.multiselect("Bucket", [b.value for b in BUCKETS], key=BUCKET, on_change=filters_changed,
                   format_func=lambda v: BUCKET_LABELS[Bucket(v)], placeholder="All buckets",
                   width=360)
    st.multiselect("State", [s.value for s in STATES], key=STATE, on_change=filters_changed,
                   format_func=STATE_LABELS.get, placeholder="Every open state", width=260)
    st.selectbox("Assignee", assignee_options, key=ASSIGNEE, on_change=filters_changed,
                 format_func=assignee_label, width=190)
    st.selectbox("Age", [""] + list(AGE_BANDS), key=AGE, on_change=filters_changed,
                 format_func=lambda v: v or "Any age", width=120)
with st.container(horizontal=True, vertical_alignment="center"):
    st.text_input("Search", key=TEXT, on_change=filters_changed, max_chars=200, width=360,
                  placeholder="Order id, customer, e-mail, message…", label_visibility="collapsed")
    st.toggle("SLA breached only", key=BREACHED, on_change=filters_changed)
    st.toggle("Show snoozed waiting cases", key=WAITING, on_change=filters_changed,
              help="Waiting cases are hidden until their follow-up time comes.")
    st.button("Clear filters", key="queue_clear", on_click=clear_filters, type="tertiary")

f = current_filter()
page = max(1, int(ss.get(PAGE, 1)))
rows, total, snoozed = read(queries.queue_view, RULES, NOW, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
pages = page_count(total)
if page > pages:
    page = ss[PAGE] = pages
    rows, total, snoozed = read(queries.queue_view, RULES, NOW, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)

link = filter_to_params(f) | ({"page": str(page)} if page > 1 else {})
if link != params:
    st.query_params.from_dict(link)
ss[LINK] = link

can_claim = actor is not None and "claim" in PERMISSIONS[actor.role]
with st.container(horizontal=True, vertical_alignment="center"):
    if st.button("Claim next", key="queue_claim_next", type="primary", icon=":material/front_hand:", disabled=not can_claim,
                 help=f"Claim the top unclaimed case in this view for {workflow.CLAIM_MINUTES} minutes and open it "
                      "for review." if can_claim else "Viewers cannot claim cases."):
        try:
            case = services.claim_next(get_store(), get_rules(), actor, f)
        except ExqError as err:
            st.error(str(err))
        else:
            if case is None:
                st.info("Nothing left to claim in this view: every matching case is claimed by someone.")
            else:
                st.switch_page(REVIEW, query_params={"case": str(case.case_id)})
    first, last = (page - 1) * PAGE_SIZE + 1, min(total, page * PAGE_SIZE)
    summary = f"**{total:,}** case{'s' if total != 1 else ''} match" + ("" if total != 1 else "es")
    if total:
        summary += f" · showing {first:,}–{last:,}"
    if snoozed:
        summary += f" · {snoozed:,} snoozed waiting case{'s' if snoozed != 1 else ''} hidden"
    st.markdown(summary)
    st.space("stretch")
    st.button("Previous", key="queue_prev", on_click=go_page, args=(-1,), disabled=page <= 1,
              icon=":material/chevron_left:")
    st.markdown(f"Page {page:,} of {pages:,}")
    st.button("Next", key="queue_next", on_click=go_page, args=(1,), disabled=page >= pages,
              icon=":material/chevron_right:")

if not total:
    if not read(queries.any_case):
        st.info("No cases yet. Import a feed on the Import page, or load a demo shop with "
                "`python -m exq_core demo`.", icon=":material/inbox:")
        st.page_link("views/import.py", label="Go to Import", icon=":material/upload_file:")
    elif f == QueueFilter():
        st.success("The queue is empty: every case is resolved or snoozed until its follow-up.",
                   icon=":material/check_circle:")
    else:
        st.info("No cases match these filters.", icon=":material/search_off:")
else:
    render_table(rows, f, page)
