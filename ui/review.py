"""The Review page's panels: facts, why the case is here, history, the AI suggestion and the decision form.

Every state change goes through `exq_core.services` (the one transition function). The record tells the
truth about what the person did:
* the form starts with no action chosen; Accept sets the suggested action, any other action is an override
  (note required), and saving with no action is refused;
* the suggestion recorded with a decision is the one on screen: once shown it is pinned for this review and
  only changes when the person presses "Ask again";
* the page never waits for the model: the facts, history and form render at once, and a suggestion still
  being made arrives in its own fragment (within `EXQ_AI_TIMEOUT_S`; past it, the offline assistant's).
Customer and model text is untrusted: shown with `st.text` / `st.dataframe`, invisible characters made
visible, never as Markdown or HTML.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from exq_core import assist, queries, services, workflow
from exq_core.errors import CaseNotFound, GuardrailError
from exq_core.models import (BUCKET_LABELS, Bucket, DecisionRequest, State, actions_for, reasons_for)
from exq_core.queries import insights
from exq_core.rules import RULE_EXPLANATIONS
from exq_core.store import utcnow
from ui.common import ai_config, current_actor, get_rules, get_store
from ui.data import NOW, RULES, fresh
from ui.format import format_hours, inert, money

FLASH = "review_flash"          # toast text shown once after a save
REFUSAL = "review_refusal"      # {"case_id", "kind", "message"} of the last refused decision
SKIPPED = "review_skipped"      # cases skipped with "Next case" in this session (not offered again soon)
PINNED = "review_pinned"        # {case_id: suggestion dict}: the suggestion on screen for this review
PENDING = "review_pending"      # {case_id: assist.Pending}: a suggestion being made in the background

NEXT_STATE_LABELS = {
    State.RESOLVED: "Resolve",
    State.WAITING: "Wait for information (follow-up)",
    State.ESCALATED: "Escalate",
    State.IN_REVIEW: "In review",
    State.NEW: "New",
}
NEXT_STATE_ORDER = (State.RESOLVED, State.WAITING, State.ESCALATED, State.IN_REVIEW)

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
SOURCE_NAMES = {"model": "the AI model", "offline": "the offline assistant",
                "fallback": "the offline assistant (the model failed)"}


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


def open_case(case_id: int | None) -> None:
    """Point the page at another case (or none); the page reruns and claims it on open."""
    if case_id is None:
        st.query_params.pop("case", None)
    else:
        st.query_params["case"] = str(case_id)


def next_case_id(exclude: list[int]) -> int | None:
    """The top of the queue (escalate-first order) that nobody holds, skipping `exclude`."""
    skipped = st.session_state.get(SKIPPED, [])
    return fresh(queries.next_unclaimed, RULES, NOW, exclude=[*exclude, *skipped])


def _forget(case_id: int) -> None:
    """The review of this case is over (saved, skipped): its pinned suggestion and inputs go."""
    st.session_state.get(PINNED, {}).pop(case_id, None)
    st.session_state.get(PENDING, {}).pop(case_id, None)
    for key in Keys(case_id).all():
        st.session_state.pop(key, None)


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
        return (f"{inert(holder)} is working on this case (claimed until {until:%Y-%m-%d %H:%M} UTC). You can "
                "read it; a decision from you is refused until the claim lapses or is released.")
    if holder == actor.username or "claim" not in workflow.PERMISSIONS[actor.role]:
        return None
    if case.state is State.RESOLVED:
        return None
    if case.state is State.WAITING and case.follow_up_at and case.follow_up_at > now:
        return None
    try:
        services.claim(store, case_id, actor)
    except GuardrailError as err:       # someone claimed it a moment ago, or the account changed
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
    # order ids and names come from the feed: plain text, invisible characters shown as markers
    st.text(f"Order {inert(detail['order_id'])} (source {inert(detail['source'])}) · state {state.value} · "
            f"version {detail['version']}" + (f" · assignee {inert(detail['assignee'])}" if detail["assignee"] else ""))
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
        cols[1].metric("SLA", f"{format_hours(-hours)} over" if detail["breached"] else f"{format_hours(hours)} left")
        cols[1].caption(f"due {detail['sla_due_at']:%Y-%m-%d %H:%M} UTC")
    order = detail.get("order") or {}
    cols[2].metric("Order total", f"{money(detail['order_total'])} {order.get('currency') or ''}".strip())
    cols[2].caption(f"placed {order['placed_at']:%Y-%m-%d %H:%M} UTC" if order.get("placed_at") else "")
    if detail["claimed_by"]:
        cols[3].metric("Claimed by", inert(detail["claimed_by"]))
        cols[3].caption(f"until {detail['claim_expires_at']:%H:%M} UTC")
    else:
        cols[3].metric("Claimed by", "nobody")
        if state is State.WAITING and detail["follow_up_at"] is not None:
            cols[3].caption(f"follow-up {detail['follow_up_at']:%Y-%m-%d %H:%M} UTC")


def why_here(detail: dict) -> None:
    st.subheader("Why this case is here")
    rules = {r.name: r for r in get_rules().rules}
    lines = []
    for name in detail["rules_fired"]:
        rule = rules.get(name)
        if rule is None:
            lines.append(f"- **{name}** (a rule no longer in the active rules file)")
        else:
            lines.append(f"- **{name}** → {BUCKET_LABELS[rule.bucket]}: "
                         f"{RULE_EXPLANATIONS.get(rule.kind, rule.kind)}")
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
        return money(value)
    return inert(str(value))


def order_facts(detail: dict) -> None:
    st.subheader("Order facts")
    order = detail.get("order") or {}
    if not order:
        st.info("The order behind this case is not in the database.")
        return
    rows = [{"group": group, "field": name.replace("_", " "), "value": _fmt(order.get(name))}
            for group, names in ORDER_FIELDS for name in names]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=430, key="rv_facts",
                 column_config={"group": st.column_config.TextColumn(width="small"),
                                "field": st.column_config.TextColumn(width="medium")})
    if order.get("customer_message"):
        st.caption("Customer message (the customer's own words, shown as plain text)")
        st.text(inert(order["customer_message"]))


def _timeline(df: pd.DataFrame) -> pd.DataFrame:
    """Events and decisions as one readable line each: when, who, what, the state change, the details."""
    def change(row) -> str:
        if row["from_state"] and row["to_state"] and row["from_state"] != row["to_state"]:
            return f"{row['from_state']} → {row['to_state']}"
        return row["to_state"] or ""

    def details(row) -> str:
        if row["kind"] != "decision":
            return inert(row["detail"] or "")
        parts = [f"{row['verdict']}: {row['action']}" if row["action"] else row["verdict"],
                 f"reason {row['resolution_reason']}" if row["resolution_reason"] else None,
                 f"evidence {row['evidence']}" if row["evidence"] else None,
                 f"override note: {row['detail']}" if row["detail"] else None,
                 f"note: {row['note']}" if row["note"] else None]
        return inert(" · ".join(p for p in parts if p))

    df = df.astype(object).where(df.notna(), None)
    return pd.DataFrame({"when (UTC)": df["at"], "who": df["actor"].map(inert), "what": df["kind"],
                         "state": df.apply(change, axis=1), "details": df.apply(details, axis=1)})


def history(case_id: int) -> None:
    st.subheader("History")
    df = fresh(queries.history, case_id)
    if df.empty:
        st.caption("Nothing has happened to this case yet.")
        return
    st.dataframe(_timeline(df), hide_index=True, width="stretch", key="rv_history", column_config={
        "when (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", width="small"),
        "who": st.column_config.TextColumn(width="small"), "what": st.column_config.TextColumn(width="small"),
        "state": st.column_config.TextColumn(width="medium"), "details": st.column_config.TextColumn(width="large")})


# -- the suggestion ---------------------------------------------------------------------------------

def pinned(case_id: int) -> assist.Suggestion | None:
    """The suggestion on screen for this review of the case, if one is shown."""
    data = st.session_state.get(PINNED, {}).get(case_id)
    return assist.Suggestion.model_validate(data) if data else None


def _pin(case_id: int, suggestion: assist.Suggestion) -> None:
    st.session_state.setdefault(PINNED, {})[case_id] = suggestion.model_dump()
    st.session_state.get(PENDING, {}).pop(case_id, None)


def ask_again(case_id: int) -> None:
    """The person's choice: drop the suggestion on screen and ask the assistant anew."""
    st.session_state.get(PINNED, {}).pop(case_id, None)
    result = assist.request(get_store(), get_rules(), case_id, config=ai_config(), again=True)
    if isinstance(result, assist.Pending):
        st.session_state.setdefault(PENDING, {})[case_id] = result
    elif result is not None:
        _pin(case_id, result)
    k = Keys(case_id)
    st.session_state.pop(k.overriding, None)


def source_label(s: assist.Suggestion) -> str:
    if s.source == "model":
        return f"AI model {s.model} at {s.server}"
    if s.source == "fallback":
        return "Offline assistant, because the AI model failed (template from the order facts and the rules)"
    return "Offline assistant (template from the order facts and the rules that fired)"


def _show(s: assist.Suggestion, bucket: str) -> None:
    st.text(inert(s.summary))
    st.markdown("**Suggested action**")
    st.text(s.action)
    if s.rationale:
        st.markdown("**Why**")
        st.text(inert(s.rationale))
    if s.confidence is not None:
        st.progress(float(s.confidence))
        st.caption(f"Confidence {s.confidence:.0%}")
    if s.missing_evidence:
        st.markdown("**Missing evidence**")
        st.text("\n".join(f"• {inert(m)}" for m in s.missing_evidence))
    st.caption("Source")
    st.text(source_label(s))
    if s.error:
        st.caption("Why the model's answer was not used:")
        st.text(s.error)
    acc = fresh(insights.acceptance_for, bucket).get(s.source)
    if acc and acc["judged"]:
        st.caption(f"Reviewers accepted {SOURCE_NAMES[s.source]} on {acc['acceptance_rate']:.0%} of "
                   f"{acc['judged']:,} {BUCKET_LABELS[Bucket(bucket)]} decisions.")


def _waiting_panel(case_id: int) -> None:
    """Polls the background request without holding up the page; when it is done (or past its budget) the
    suggestion is pinned and the page redraws once with it."""
    pending = st.session_state.get(PENDING, {}).get(case_id)
    if pending is None:
        return
    if pending.future.done() or pending.overdue:
        suggestion = assist.settle(get_store(), get_rules(), pending, config=ai_config())
        if suggestion is not None:
            _pin(case_id, suggestion)
        st.rerun()
    st.info(f"Asking {ai_config().describe()}… {pending.seconds:.0f} s. The decision form works meanwhile.",
            icon=":material/hourglass_top:")


waiting_panel = st.fragment(run_every=0.5)(_waiting_panel)


def suggestion_panel(detail: dict) -> assist.Suggestion | None:
    """The suggestion for this review: the pinned one, a stored one (pinned now), or one being made in the
    background. Never waits for the model. Returns the suggestion on screen, if any."""
    case_id = detail["case_id"]
    st.subheader("AI suggestion")
    config = ai_config()
    if config.problem:
        st.warning(config.problem, icon=":material/settings:")
    shown = pinned(case_id)
    if shown is None and case_id not in st.session_state.get(PENDING, {}):
        try:
            result = assist.request(get_store(), get_rules(), case_id, config=config)
        except Exception as err:  # the assistant must never break the page
            st.warning(f"No suggestion available ({type(err).__name__}). Decide without one.")
            return None
        if isinstance(result, assist.Suggestion):
            _pin(case_id, result)
            shown = result
        elif isinstance(result, assist.Pending):
            st.session_state.setdefault(PENDING, {})[case_id] = result
    if shown is None:
        waiting_panel(case_id)
        return None
    _show(shown, detail["bucket"])
    st.button("Ask again", key="rv_ask_again", on_click=ask_again, args=(case_id,), icon=":material/refresh:",
              help="Ask the assistant anew. The suggestion on screen stays until you do.")
    return shown


# -- the decision form ------------------------------------------------------------------------------

def _refuse(case_id: int, err: Exception) -> None:
    if isinstance(err, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in err.errors())
        message, kind = f"Some input is not valid — {problems}.", "InvalidInput"
    else:
        message, kind = str(err), type(err).__name__
    st.session_state[REFUSAL] = {"case_id": case_id, "kind": kind, "message": message}


def _saved(case_id: int, to_state: State) -> None:
    st.session_state.pop(REFUSAL, None)
    _forget(case_id)
    verb = {State.RESOLVED: "resolved", State.WAITING: "set to wait for a follow-up",
            State.ESCALATED: "escalated", State.IN_REVIEW: "back in review"}.get(to_state, str(to_state))
    if to_state is State.IN_REVIEW:
        st.session_state[FLASH] = f"Case {case_id} {verb}."
        return
    nxt = next_case_id(exclude=[case_id])
    st.session_state[FLASH] = f"Case {case_id} {verb}." + (f" Next: case {nxt}." if nxt else " The queue is empty.")
    open_case(nxt)


def save_decision(case_id: int, version: int) -> None:
    """Form callback: build the request from what is on screen — the action the person chose, the suggestion
    pinned on screen — and run it through the workflow."""
    ss, k = st.session_state, Keys(case_id)
    action = ss.get(k.action)
    if not action:
        _refuse(case_id, GuardrailError("No action chosen: press Accept to take the suggested action, or "
                                        "choose an action in the form."))
        return
    to_state = State(ss[k.state])
    follow_up = ss.get(k.follow_up) if to_state is State.WAITING else None
    shown = pinned(case_id)
    try:
        request = DecisionRequest(
            case_id=case_id, case_version=version, to_state=to_state, action=action,
            suggestion=shown.ref() if shown else None,
            # a reason is only part of a resolution; left selected while choosing another state, it is dropped
            resolution_reason=ss.get(k.reason) if to_state is State.RESOLVED else None,
            evidence=ss.get(k.evidence) or None, note=ss.get(k.note) or None,
            override_note=ss.get(k.override) or None,
            follow_up_at=follow_up.replace(tzinfo=None) if follow_up else None)
        services.decide(get_store(), request, current_actor())
    except (GuardrailError, CaseNotFound, ValidationError) as err:
        _refuse(case_id, err)
        return
    _saved(case_id, to_state)


def reopen(case_id: int, version: int) -> None:
    k = Keys(case_id)
    try:
        request = DecisionRequest(case_id=case_id, case_version=version, to_state=State.IN_REVIEW,
                                  note=st.session_state.get(k.reopen_note) or None)
        services.decide(get_store(), request, current_actor())
    except (GuardrailError, CaseNotFound, ValidationError) as err:
        _refuse(case_id, err)
        return
    _saved(case_id, State.IN_REVIEW)


def accept_suggestion(case_id: int) -> None:
    shown = pinned(case_id)
    if shown is not None:
        st.session_state[Keys(case_id).action] = shown.action
        st.session_state.pop(Keys(case_id).overriding, None)


def start_override(case_id: int) -> None:
    k = Keys(case_id)
    shown = pinned(case_id)
    if shown is not None and st.session_state.get(k.action) == shown.action:
        st.session_state[k.action] = None
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
    _forget(case_id)
    open_case(next_case_id(exclude=[case_id]))


def show_refusal(case_id: int) -> None:
    refusal = st.session_state.get(REFUSAL)
    if refusal and refusal["case_id"] == case_id:
        # our own messages, built from validated values: safe as plain text
        st.error(f"Not saved — {refusal['message']}", icon="⛔")
        if refusal["kind"] == "StaleCase":
            st.caption("Your inputs are kept below. The page now shows the case as it is; check the history "
                       "and save again.")


def decision_form(detail: dict) -> None:
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

    actions = list(actions_for(bucket, detail.get("flags") or ()))
    shown = pinned(case_id)
    st.subheader("Decision")
    if shown is not None and shown.action in actions:
        c1, c2 = st.columns(2)
        c1.button(f"Accept: {shown.action}", key="rv_accept", shortcut="Alt+A", width="stretch",
                  on_click=accept_suggestion, args=(case_id,),
                  help="Take the suggested action; then add evidence and save.")
        c2.button("Override", key="rv_override", shortcut="Alt+O", width="stretch",
                  on_click=start_override, args=(case_id,),
                  help="Choose another action; an override note is required.")
        chosen = st.session_state.get(k.action)
        if chosen and chosen == shown.action:
            st.caption(f"Accepting the suggestion ({shown.action}).")
        elif chosen or st.session_state.get(k.overriding):
            st.caption("Overriding the suggestion: choose the action you prefer and say why in the override note.")
    next_states = [s.value for s in NEXT_STATE_ORDER if workflow.is_allowed(state, s)]
    show_refusal(case_id)
    with st.form(k.form, enter_to_submit=False, border=True):
        st.selectbox("Action", actions, index=None, key=k.action, placeholder="Choose an action (or press Accept)")
        st.text_area("Override note", key=k.override, height=68,
                     placeholder="Required when the action differs from the suggestion: say why")
        st.selectbox("Next state", next_states, key=k.state, format_func=lambda s: NEXT_STATE_LABELS[State(s)])
        st.selectbox("Resolution reason", list(reasons_for(bucket)), index=None, key=k.reason,
                     placeholder="Required when resolving", help="'other' needs a note.")
        st.text_input("Evidence", key=k.evidence, max_chars=2_000,
                      placeholder="PSP transaction id, tracking number, message link, photo URL… (≥ 8 characters)")
        st.text_area("Note", key=k.note, height=68)
        default_follow = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        st.datetime_input("Follow-up at (UTC, when waiting)", value=default_follow, key=k.follow_up,
                          format="YYYY-MM-DD", step=timedelta(minutes=30))
        st.form_submit_button("Save decision", type="primary", key="rv_save", shortcut="Ctrl+Enter",
                              on_click=save_decision, args=(case_id, int(detail["version"])))
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
    page, total = fresh(queries.queue_page, RULES, NOW, limit=10)
    if page.empty:
        st.success("The queue is empty.")
        return
    st.subheader(f"Top of the queue ({total:,} open)")
    st.caption("Select a row to open that case.")
    view = page[["case_id", "priority", "bucket", "state", "order_id", "sla_remaining_hours", "claimed_by"]].assign(
        bucket=lambda d: d["bucket"].map(lambda b: BUCKET_LABELS.get(Bucket(b), b)),
        order_id=lambda d: d["order_id"].map(inert),
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
