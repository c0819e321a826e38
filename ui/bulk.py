"""Bulk actions on the cases selected in the Queue: `bulk_panel(case_ids)`.

Each case goes through `services.decide_many` — the same transition function a single decision uses, one
transaction per case — with its own evidence. New and waiting cases are taken (claimed) in the same
transaction, so a set can be closed straight from the queue. A refusal names its case and reason; the
others stay done. Managers only (the workflow's "bulk" permission, enforced in exq_core).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from exq_core import queries, services, workflow
from exq_core.errors import NotPermitted
from exq_core.models import (BUCKET_LABELS, COMMON_REASONS, Bucket, DecisionRequest, State, reasons_for)
from exq_core.store import utcnow
from ui.common import current_actor, get_store
from ui.data import NOW, fresh
from ui.format import inert

MAX_BULK = 100
RESULT = "bulk_result"

OPERATIONS = {
    "duplicate": "Resolve as duplicates",
    "resolve": "Resolve with a reason",
    "escalate": "Escalate to a manager",
    "wait": "Wait for information",
}


def evidence_key(case_id: int) -> str:
    return f"bulk_ev_{case_id}"


def bulk_requests(cases: list[dict], operation: str, evidence: dict[int, str], *, reason: str | None = None,
                  note: str | None = None, follow_up_at: datetime | None = None
                  ) -> tuple[list[DecisionRequest], dict[int, str]]:
    """One DecisionRequest per case (each with its own evidence and the version on screen), and the cases
    whose input is not even a valid request, with why. The workflow judges the rest."""
    requests, invalid = [], {}
    for case in cases:
        cid = int(case["case_id"])
        fields = {"case_id": cid, "case_version": int(case["version"]), "evidence": evidence.get(cid) or None,
                  "note": note or None}
        if operation == "duplicate":
            fields |= {"to_state": State.RESOLVED, "resolution_reason": "duplicate_case"}
        elif operation == "resolve":
            fields |= {"to_state": State.RESOLVED, "resolution_reason": reason}
        elif operation == "escalate":
            fields |= {"to_state": State.ESCALATED, "action": "escalate_to_manager"}
        elif operation == "wait":
            fields |= {"to_state": State.WAITING, "action": "request_more_info", "follow_up_at": follow_up_at}
        else:
            raise ValueError(f"unknown bulk operation {operation!r}")
        try:
            requests.append(DecisionRequest(**fields))
        except ValidationError as err:
            invalid[cid] = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
    return requests, invalid


def apply(cases: list[dict]) -> None:
    """Form callback: build every request from the inputs on screen and run them through the workflow."""
    ss = st.session_state
    operation = ss["bulk_op"]
    follow = ss.get("bulk_follow_up")
    requests, invalid = bulk_requests(
        cases, operation, {int(c["case_id"]): ss.get(evidence_key(int(c["case_id"])), "") for c in cases},
        reason=ss.get("bulk_reason"), note=ss.get("bulk_note"),
        follow_up_at=follow.replace(tzinfo=None) if follow else None)
    try:
        outcome = services.decide_many(get_store(), requests, current_actor(), take=True)
    except NotPermitted as err:
        ss[RESULT] = {"operation": operation, "done": [], "refused": {}, "error": str(err)}
        return
    for cid in outcome.done:
        ss.pop(evidence_key(cid), None)
    ss[RESULT] = {"operation": operation, "done": outcome.done, "refused": {**invalid, **outcome.refused},
                  "error": None}
    refused = len(invalid) + len(outcome.refused)
    if outcome.done:
        st.toast(f"{OPERATIONS[operation]}: {len(outcome.done)} case(s) done"
                 + (f", {refused} refused (see the bulk panel)." if refused else "."), icon="✅")
    elif refused:
        st.toast(f"{OPERATIONS[operation]}: all {refused} case(s) refused; nothing written.", icon="⛔")


def show_result() -> None:
    result = st.session_state.get(RESULT)
    if not result:
        return
    label = OPERATIONS[result["operation"]]
    if result["error"]:
        st.error(result["error"], icon="⛔")
        return
    done, refused = result["done"], result["refused"]
    if done:
        st.success(f"{label}: {len(done)} case(s) done — " + ", ".join(f"#{c}" for c in done))
    if refused:
        st.error(f"{label}: {len(refused)} case(s) refused, nothing written for them. The others stay done.",
                 icon="⛔")
        st.dataframe(pd.DataFrame([{"case": c, "why": why} for c, why in refused.items()]), hide_index=True,
                     width="stretch", key="bulk_refused")


def bulk_panel(case_ids: list[int]) -> None:
    """Render the bulk-action controls for the selected cases."""
    st.subheader("Bulk action")
    show_result()
    if not case_ids:
        st.caption("Select cases in the queue to act on several at once.")
        return
    actor = current_actor()
    if actor is None or "bulk" not in workflow.PERMISSIONS[actor.role]:
        st.info("Bulk actions need the manager role.")
        return
    ids = [int(c) for c in case_ids]
    if len(ids) > MAX_BULK:
        st.warning(f"{len(ids)} cases selected; a bulk action takes at most {MAX_BULK}. The first {MAX_BULK} are shown.")
        ids = ids[:MAX_BULK]
    now = utcnow()
    frame = fresh(queries.cases_by_id, NOW, ids)
    cases = frame.to_dict("records")
    buckets = sorted({c["bucket"] for c in cases})
    reasons = list(reasons_for(buckets[0])) if len(buckets) == 1 else list(COMMON_REASONS)
    with st.form("bulk_form", enter_to_submit=False):
        st.radio("Action", list(OPERATIONS), format_func=OPERATIONS.get, horizontal=True, key="bulk_op")
        c1, c2 = st.columns(2)
        c1.selectbox("Resolution reason (for “Resolve with a reason”)", reasons, index=None, key="bulk_reason",
                     placeholder="Choose a reason",
                     help="Bucket reasons are offered when every selected case is in the same bucket.")
        c2.datetime_input("Follow-up at (UTC, for waiting)",
                          value=(now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0),
                          key="bulk_follow_up", format="YYYY-MM-DD", step=timedelta(minutes=30))
        st.text_area("Note (applies to every case)", key="bulk_note", height=68)
        st.markdown("**Evidence, one per case** — each case needs its own reference to be resolved "
                    "(≥ 8 characters: PSP transaction id, tracking number, message link…).")
        for case in cases:
            cid = int(case["case_id"])
            left, right = st.columns([2, 3], vertical_alignment="center")
            holder = f" · held by {case['claimed_by']}" if case["claimed_by"] else ""
            # order ids come from the feed: plain text
            left.text(f"#{cid} · {BUCKET_LABELS.get(Bucket(case['bucket']), case['bucket'])} · {case['state']} · "
                      f"{inert(case['order_id'])}{holder}")
            right.text_input(f"Evidence for case {cid}", key=evidence_key(cid), max_chars=2_000,
                             label_visibility="collapsed", placeholder=f"Evidence for case {cid}")
        # the versions on screen travel with the callback: a case changed since is refused as stale
        shown = [{"case_id": int(c["case_id"]), "version": int(c["version"])} for c in cases]
        st.form_submit_button(f"Apply to {len(cases)} case(s)", type="primary", key="bulk_apply", on_click=apply,
                              args=(shown,))
