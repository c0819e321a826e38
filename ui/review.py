"""The Review page's panels: facts, why the case is here, history, the AI suggestion and the decision form.

Every state change goes through `exq_core.services` (the one transition function). Decision callbacks are
bound to the case version and suggestion that were on screen (`on_click` args are fixed when the form is
drawn), so a decision made on a stale screen is refused by the workflow, not silently applied.
Customer and model text is untrusted: it is shown with `st.text` / `st.dataframe`, never as Markdown or HTML.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from exq_core import assist, insights, queries, services, workflow
from exq_core.errors import CaseNotFound, GuardrailError
from exq_core.models import (BUCKET_LABELS, Bucket, DecisionRequest, State, SuggestionRef, actions_for,
                             reasons_for)
from exq_core.store import utcnow
from ui.common import current_actor, get_rules, get_store

FLASH = "review_flash"          # toast text shown once after a save
REFUSAL = "review_refusal"      # {"case_id", "kind", "message"} of the last refused decision
SKIPPED = "review_skipped"      # cases skipped with "Next case" in this session (not offered again soon)

STATE_LABELS = {
    State.RESOLVED: "Resolve",
    State.WAITING: "Wait for information (follow-up)",
    State.ESCALATED: "Escalate",
    State.IN_REVIEW: "In review",
    State.NEW: "New",
}
NEXT_STATE_ORDER = (State.RESOLVED, State.WAITING, State.ESCALATED, State.IN_REVIEW)

RULE_TEXT = {
    "fraud": "the PSP / fraud tool rates the order high risk",
    "payment": "the payment failed, or the amount paid differs from the order total",
    "inventory": "fewer items are available than were ordered",
    "address": "the shipping address is unverified or incomplete and the order has not shipped",
    "returns": "the customer asked for a return or reported damage",
    "vip": "a valuable customer or order, with another issue or a customer message",
}

ORDER_FIELDS = (
    ("Order", ("order_id", "source", "placed_at", "updated_at", "order_total", "currency")),
    ("Payment", ("payment_status", "amount_paid", "amount_refunded")),
    ("Risk", ("risk_score", "risk_level")),
    ("Stock", ("items_ordered", "items_available")),
    ("Customer", ("customer_id", "customer_email", "customer_tier", "customer_ltv")),
    ("Shipping", ("ship_name", "ship_address1", "ship_city", "ship_postal_code", "ship_country",
                  "address_verified", "fulfillment_status")),
    ("Return", ("return_requested", "damage_reported", "return_reason")),
)


class Keys:
    """Widget keys of one case's form: per case, so nothing typed for one case leaks into the next."""

    def __init__(self, case_id: int):
        p = f"rv_{case_id}_"
        self.action, self.override, self.state = p + "action", p + "override_note", p + "to_state"
        self.reason, self.evidence, self.note = p + "reason", p + "evidence", p + "note"
        self.follow_up, self.form = p + "follow_up", p + "form"
        self.reopen_form, self.reopen_note = p + "reopen_form", p + "reopen_note"
        self.overriding = p + "overriding"

    def all(self) -> list[str]:
        return [v for k, v in vars(self).items()]


def case_param() -> int | None:
    raw = st.query_params.get("case")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def open_case(case_id: int | None) -> None:
    """Point the page at another case (or none); the page reruns and claims it on open."""
    if case_id is None:
        st.query_params.pop("case", None)
    else:
        st.query_params["case"] = str(case_id)


def next_case_id(exclude: list[int]) -> int | None:
    """The top of the queue (escalate-first order) that nobody holds, skipping `exclude`."""
    skipped = st.session_state.get(SKIPPED, [])
    with get_store().read() as cur:
        return queries.next_unclaimed(cur, get_rules(), utcnow(), exclude=[*exclude, *skipped])


# -- claim on open ----------------------------------------------------------------------------------

def claim_on_open(case_id: int) -> str | None:
    """Claim the case for the person opening it, when that makes sense. Returns a notice to show, if any.

    Not claimed: resolved cases, waiting cases whose follow-up is still ahead (looking is not working on
    them), cases someone else holds (shown instead), and anything a viewer opens."""
    actor = current_actor()
    store = get_store()
    case = services.get_case(store, case_id)
    now = utcnow()
    holder = workflow.claim_holder(case, now)
    if holder and holder != actor.username:
        until = workflow.claim_expiry(case)
        return (f"{holder} is working on this case (claimed until {until:%Y-%m-%d %H:%M} UTC). You can read "
                "it; a decision from you is refused until the claim lapses or is released.")
    if holder == actor.username or "claim" not in workflow.PERMISSIONS[actor.role]:
        return None
    if case.state is State.RESOLVED:
        return None
    if case.state is State.WAITING and case.follow_up_at and case.follow_up_at > now:
        return None
    try:
        services.claim(store, case_id, actor)
    except GuardrailError as err:       # someone claimed it a moment ago
        return str(err)
    return None


def work_now(case_id: int) -> None:
    """Take a waiting case back into review before its follow-up time."""
    try:
        services.claim(get_store(), case_id, current_actor())
    except GuardrailError as err:
        st.session_state[REFUSAL] = {"case_id": case_id, "kind": type(err).__name__, "message": str(err)}


# -- read-only panels -------------------------------------------------------------------------------

def header(detail: dict) -> None:
    bucket = Bucket(detail["bucket"])
    state = State(detail["state"])
    st.title(f"Case {detail['case_id']} · {BUCKET_LABELS[bucket]}")
    # order ids come from the feed: plain text
    st.text(f"Order {detail['order_id']} (source {detail['source']}) · state {state.value} · "
            f"version {detail['version']}" + (f" · assignee {detail['assignee']}" if detail["assignee"] else ""))
    cols = st.columns(4)
    cols[0].metric("Priority", f"{detail['priority']:.1f}",
                   help="priority = bucket weight + value points + urgency points (SPEC §3)")
    cols[0].caption(f"= bucket {detail['bucket_weight']:.0f} + value {detail['value_points']:.1f} "
                    f"+ urgency {detail['urgency_points']:.0f}")
    if state is State.RESOLVED:
        cols[1].metric("Resolved", f"{detail['resolved_at']:%Y-%m-%d %H:%M}")
        cols[1].caption(f"reason: {detail['resolution_reason']}")
    else:
        hours = detail["sla_remaining_hours"]
        cols[1].metric("SLA", f"{_duration(-hours)} over" if detail["breached"] else f"{_duration(hours)} left")
        cols[1].caption(f"due {detail['sla_due_at']:%Y-%m-%d %H:%M} UTC")
    order = detail.get("order") or {}
    cols[2].metric("Order total", f"{detail['order_total']:,.2f} {order.get('currency') or ''}".strip())
    cols[2].caption(f"placed {order['placed_at']:%Y-%m-%d %H:%M} UTC" if order.get("placed_at") else "")
    if detail["claimed_by"]:
        cols[3].metric("Claimed by", detail["claimed_by"])
        cols[3].caption(f"until {detail['claim_expires_at']:%H:%M} UTC")
    else:
        cols[3].metric("Claimed by", "nobody")
        if state is State.WAITING and detail["follow_up_at"] is not None:
            cols[3].caption(f"follow-up {detail['follow_up_at']:%Y-%m-%d %H:%M} UTC")


def _duration(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def why_here(detail: dict) -> None:
    st.subheader("Why this case is here")
    rules = {r.name: r for r in get_rules().rules}
    lines = []
    for name in detail["rules_fired"]:
        rule = rules.get(name)
        if rule is None:
            lines.append(f"- **{name}** (a rule no longer in the active rules file)")
        else:
            lines.append(f"- **{name}** → {BUCKET_LABELS[rule.bucket]}: {RULE_TEXT.get(rule.kind, rule.kind)}")
    # rule names are validated identifiers ([a-z0-9_]) and the texts are ours: safe as Markdown
    st.markdown("\n".join(lines) or "No rule recorded.")
    flags = [BUCKET_LABELS.get(Bucket(f), f) for f in detail["flags"]]
    if flags:
        st.caption("Also flagged: " + ", ".join(flags))
    if detail["condition_cleared"]:
        st.warning("Condition cleared: a later snapshot of this order no longer fires any rule. The case stays "
                   "open until someone resolves it with evidence.")
    st.caption(f"Routed by rules version {detail['rules_version']}; opened "
               f"{detail['opened_at']:%Y-%m-%d %H:%M} UTC.")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):  # money is stored with 3 places (for 3-decimal currencies); show what it has
        return f"{value:,.{max(2, -value.normalize().as_tuple().exponent)}f}"
    return str(value)


def order_facts(detail: dict) -> None:
    st.subheader("Order facts")
    order = detail.get("order") or {}
    if not order:
        st.info("The order behind this case is not in the database.")
        return
    rows = [{"group": group, "field": name.replace("_", " "), "value": _fmt(order.get(name))}
            for group, names in ORDER_FIELDS for name in names]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=430,
                 column_config={"group": st.column_config.TextColumn(width="small"),
                                "field": st.column_config.TextColumn(width="medium")})
    if order.get("customer_message"):
        st.caption("Customer message (the customer's own words, shown as plain text)")
        st.text(order["customer_message"])


def _timeline(df: pd.DataFrame) -> pd.DataFrame:
    """Events and decisions as one readable line each: when, who, what, the state change, the details."""
    def change(row) -> str:
        if row["from_state"] and row["to_state"] and row["from_state"] != row["to_state"]:
            return f"{row['from_state']} → {row['to_state']}"
        return row["to_state"] or ""

    def details(row) -> str:
        if row["kind"] != "decision":
            return row["detail"] or ""
        parts = [f"{row['verdict']}: {row['action']}" if row["action"] else row["verdict"],
                 f"reason {row['resolution_reason']}" if row["resolution_reason"] else None,
                 f"evidence {row['evidence']}" if row["evidence"] else None,
                 f"override note: {row['detail']}" if row["detail"] else None,
                 f"note: {row['note']}" if row["note"] else None]
        return " · ".join(p for p in parts if p)

    df = df.astype(object).where(df.notna(), None)
    return pd.DataFrame({"when (UTC)": df["at"], "who": df["actor"], "what": df["kind"],
                         "state": df.apply(change, axis=1), "details": df.apply(details, axis=1)})


def history(case_id: int) -> None:
    st.subheader("History")
    with get_store().read() as cur:
        df = queries.history(cur, case_id)
    if df.empty:
        st.caption("Nothing has happened to this case yet.")
        return
    st.dataframe(_timeline(df), hide_index=True, width="stretch", column_config={
        "when (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", width="small"),
        "who": st.column_config.TextColumn(width="small"), "what": st.column_config.TextColumn(width="small"),
        "state": st.column_config.TextColumn(width="medium"), "details": st.column_config.TextColumn(width="large")})


def source_label(s: assist.Suggestion) -> str:
    if s.source == "offline":
        return "Offline assistant (template from the order facts and the rules that fired)"
    return f"AI model ({s.source})"


def suggestion_panel(detail: dict) -> assist.Suggestion | None:
    """Show the stored suggestion for the case version on screen; returns it (None if there is none)."""
    st.subheader("AI suggestion")
    try:
        with st.spinner("Asking the assistant…"):
            s = assist.suggestion_for(get_store(), get_rules(), detail["case_id"])
    except Exception as err:  # the assistant must never break the page
        st.warning(f"No suggestion available: {type(err).__name__}. Decide without one.")
        return None
    if s is None:
        st.caption("No suggestion for this case.")
        return None
    st.text(s.summary)
    st.markdown("**Suggested action**")
    st.text(s.action)
    if s.rationale:
        st.markdown("**Why**")
        st.text(s.rationale)
    if s.confidence is not None:
        st.progress(float(s.confidence))
        st.caption(f"Confidence {s.confidence:.0%}")
    if s.missing_evidence:
        st.markdown("**Missing evidence**")
        st.text("\n".join(f"• {m}" for m in s.missing_evidence))
    st.caption("Source")
    st.text(source_label(s))
    if s.error:
        st.caption("The AI service failed, so this is the offline suggestion. Error:")
        st.text(s.error)
    with get_store().read() as cur:
        acc = insights.acceptance_for(cur, detail["bucket"])
    if acc["judged"]:
        st.caption(f"Reviewers accepted the AI on {acc['acceptance_rate']:.0%} of {acc['judged']:,} "
                   f"{BUCKET_LABELS[Bucket(detail['bucket'])]} decisions.")
    return s


# -- the decision form ------------------------------------------------------------------------------

def _refuse(case_id: int, err: Exception) -> None:
    if isinstance(err, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in err.errors())
        message, kind = f"Some input is not valid — {problems}.", "InvalidInput"
    else:
        message, kind = str(err), type(err).__name__
    st.session_state[REFUSAL] = {"case_id": case_id, "kind": kind, "message": message}


def _saved(case_id: int, from_state: State, to_state: State) -> None:
    st.session_state.pop(REFUSAL, None)
    for key in Keys(case_id).all():
        st.session_state.pop(key, None)
    verb = {State.RESOLVED: "resolved", State.WAITING: "set to wait for a follow-up",
            State.ESCALATED: "escalated", State.IN_REVIEW: "back in review"}.get(to_state, str(to_state))
    if to_state is State.IN_REVIEW:
        st.session_state[FLASH] = f"Case {case_id} {verb}."
        return
    nxt = next_case_id(exclude=[case_id])
    st.session_state[FLASH] = f"Case {case_id} {verb}." + (f" Next: case {nxt}." if nxt else " The queue is empty.")
    open_case(nxt)


def save_decision(case_id: int, version: int, from_state: str, suggestion: dict | None) -> None:
    """Form callback: build the request from what is on screen and run it through the workflow."""
    ss, k = st.session_state, Keys(case_id)
    to_state = State(ss[k.state])
    follow_up = ss.get(k.follow_up) if to_state is State.WAITING else None
    try:
        request = DecisionRequest(
            case_id=case_id, case_version=version, to_state=to_state, action=ss.get(k.action),
            suggestion=SuggestionRef(**suggestion) if suggestion else None,
            # a reason is only part of a resolution; left selected while choosing another state, it is dropped
            resolution_reason=ss.get(k.reason) if to_state is State.RESOLVED else None,
            evidence=ss.get(k.evidence) or None, note=ss.get(k.note) or None,
            override_note=ss.get(k.override) or None,
            follow_up_at=follow_up.replace(tzinfo=None) if follow_up else None)
        services.decide(get_store(), request, current_actor())
    except (GuardrailError, CaseNotFound, ValidationError) as err:
        _refuse(case_id, err)
        return
    _saved(case_id, State(from_state), to_state)


def reopen(case_id: int, version: int) -> None:
    k = Keys(case_id)
    try:
        request = DecisionRequest(case_id=case_id, case_version=version, to_state=State.IN_REVIEW,
                                  note=st.session_state.get(k.reopen_note) or None)
        services.decide(get_store(), request, current_actor())
    except (GuardrailError, CaseNotFound, ValidationError) as err:
        _refuse(case_id, err)
        return
    _saved(case_id, State.RESOLVED, State.IN_REVIEW)


def accept_suggestion(case_id: int, action: str) -> None:
    st.session_state[Keys(case_id).action] = action


def start_override(case_id: int, bucket: str, suggested: str) -> None:
    k = Keys(case_id)
    if st.session_state.get(k.action) in (None, suggested):
        st.session_state[k.action] = next(a for a in actions_for(bucket) if a != suggested)
    st.session_state[k.overriding] = True


def skip_to_next(case_id: int) -> None:
    """Leave this case for someone else: release my claim and open the next unclaimed case."""
    actor = current_actor()
    store = get_store()
    try:
        case = services.get_case(store, case_id)
        if workflow.claim_holder(case, utcnow()) == actor.username:
            services.release(store, case_id, actor)
    except (GuardrailError, CaseNotFound):
        pass
    skipped = st.session_state.setdefault(SKIPPED, [])
    skipped.append(case_id)
    del skipped[:-20]
    st.session_state.pop(REFUSAL, None)
    open_case(next_case_id(exclude=[case_id]))


def show_refusal(case_id: int) -> None:
    refusal = st.session_state.get(REFUSAL)
    if refusal and refusal["case_id"] == case_id:
        # our own messages, built from validated values: safe as plain text
        st.error(f"Not saved — {refusal['message']}", icon="⛔")
        if refusal["kind"] == "StaleCase":
            st.caption("Your inputs are kept below. The page now shows the case as it is; check the history "
                       "and save again.")


def decision_form(detail: dict, suggestion: assist.Suggestion | None) -> None:
    case_id, bucket = detail["case_id"], detail["bucket"]
    state = State(detail["state"])
    k = Keys(case_id)
    actor = current_actor()
    if "decide" not in workflow.PERMISSIONS[actor.role]:
        st.info("You can read this case; deciding needs the reviewer or manager role.")
        return
    if state is State.RESOLVED:
        st.subheader("Reopen")
        st.caption("A resolved case goes back to review only with a note saying what changed. Managers only.")
        show_refusal(case_id)
        with st.form(k.reopen_form):
            st.text_area("Why reopen?", key=k.reopen_note, placeholder="What changed since it was resolved")
            st.form_submit_button("Reopen case", type="primary", key="rv_reopen", on_click=reopen,
                                  args=(case_id, int(detail["version"])))
        return
    if state is State.WAITING and detail["follow_up_at"] is not None and detail["follow_up_at"] > utcnow():
        st.info(f"Waiting for information until {detail['follow_up_at']:%Y-%m-%d %H:%M} UTC; it returns to the "
                "queue then.")
        show_refusal(case_id)
        st.button("Work on it now", key="rv_work_now", on_click=work_now, args=(case_id,))
        return

    actions = list(actions_for(bucket))
    suggested = suggestion.action if suggestion is not None and suggestion.action in actions else None
    ref = (SuggestionRef(suggestion_id=suggestion.suggestion_id, action=suggestion.action,
                         model=suggestion.model, source=suggestion.source).model_dump()
           if suggestion is not None else None)

    st.subheader("Decision")
    if suggested:
        c1, c2 = st.columns(2)
        c1.button("Accept", key="rv_accept", shortcut="Alt+A", width="stretch",
                  on_click=accept_suggestion, args=(case_id, suggested),
                  help="Accept the suggested action; then add evidence and save.")
        c2.button("Override", key="rv_override", shortcut="Alt+O", width="stretch",
                  on_click=start_override, args=(case_id, bucket, suggested),
                  help="Choose another action; an override note is required.")
        if st.session_state.get(k.overriding):
            st.caption("Overriding: choose the action you prefer and say why in the override note.")
    next_states = [s.value for s in NEXT_STATE_ORDER if workflow.is_allowed(state, s)]
    show_refusal(case_id)
    with st.form(k.form, enter_to_submit=False, border=True):
        st.selectbox("Action", actions, index=actions.index(suggested) if suggested else None, key=k.action,
                     format_func=lambda a: f"{a}  (suggested)" if a == suggested else a,
                     placeholder="Choose an action")
        st.text_area("Override note", key=k.override, height=68,
                     placeholder="Required when the action differs from the suggestion: say why")
        st.selectbox("Next state", next_states, key=k.state, format_func=lambda s: STATE_LABELS[State(s)])
        st.selectbox("Resolution reason", list(reasons_for(bucket)), index=None, key=k.reason,
                     placeholder="Required when resolving", help="'other' needs a note.")
        st.text_input("Evidence", key=k.evidence, max_chars=2_000,
                      placeholder="PSP transaction id, tracking number, message link, photo URL… (≥ 8 characters)")
        st.text_area("Note", key=k.note, height=68)
        default_follow = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        st.datetime_input("Follow-up at (UTC, when waiting)", value=default_follow, key=k.follow_up,
                          format="YYYY-MM-DD", step=timedelta(minutes=30))
        st.form_submit_button("Save decision", type="primary", key="rv_save", shortcut="Ctrl+Enter",
                              on_click=save_decision, args=(case_id, int(detail["version"]), state.value, ref))
    st.caption("Shortcuts: Alt+A accept · Alt+O override · Ctrl+Enter save · Alt+N next case")


# -- the page without a case ------------------------------------------------------------------------

def claim_next() -> None:
    nxt = next_case_id(exclude=[])
    if nxt is None:
        st.session_state[FLASH] = "Nothing left in the queue."
    open_case(nxt)


def landing() -> None:
    st.title("Review")
    st.caption("Work one case from start to finish. Take the next case in escalate-first order, or pick one.")
    st.button("Take the next case", key="rv_claim_next", type="primary", shortcut="Alt+N", on_click=claim_next)
    with get_store().read() as cur:
        page, total = queries.queue_page(cur, get_rules(), utcnow(), limit=10)
    if page.empty:
        st.success("The queue is empty.")
        return
    st.subheader(f"Top of the queue ({total:,} open)")
    st.caption("Select a row to open that case.")
    view = page[["case_id", "priority", "bucket", "state", "order_id", "sla_remaining_hours", "claimed_by"]].assign(
        bucket=lambda d: d["bucket"].map(lambda b: BUCKET_LABELS.get(Bucket(b), b)),
        claimed_by=lambda d: d["claimed_by"].fillna(""))
    event = st.dataframe(view, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key="rv_top", column_config={
                             "case_id": st.column_config.NumberColumn("case", format="%d"),
                             "order_id": "order",
                             "sla_remaining_hours": st.column_config.NumberColumn(
                                 "SLA left (h)", format="%.1f", help="negative: breached that many hours ago"),
                             "claimed_by": "claimed by"})
    rows = event.selection.rows if event else []
    if rows:
        open_case(int(view.iloc[rows[0]]["case_id"]))
        st.rerun()
