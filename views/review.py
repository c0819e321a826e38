"""Review: one case from start to finish — facts, why it is here, history, the AI suggestion and the decision.

Opening a case claims it (60 minutes) for the person looking; saving a decision runs it through the one
transition function and opens the next case in queue order.
"""
import streamlit as st

from exq_core import queries
from exq_core.errors import CaseNotFound
from exq_core.store import utcnow
from ui import review
from ui.common import current_actor, get_rules, get_store

if current_actor() is None:      # the sign-in gate in app.py normally stops before any page runs
    st.stop()
flash = st.session_state.pop(review.FLASH, None)
if flash:
    st.toast(flash, icon="✅")

case_id = review.case_param()
if case_id is None:
    review.landing()
    st.stop()

try:
    notice = review.claim_on_open(case_id)
except CaseNotFound as err:
    st.title("Review")
    st.error(str(err))
    st.button("Take the next case", key="rv_claim_next", type="primary", on_click=review.claim_next)
    st.stop()

with get_store().read() as cur:
    detail = queries.case_detail(cur, get_rules(), case_id, utcnow())

review.header(detail)
if notice:
    st.warning(notice)

left, right = st.columns([3, 2], gap="large")
with right:
    with st.container(border=True):
        suggestion = review.suggestion_panel(detail)
    review.decision_form(detail, suggestion)
    st.button("Next case →", key="rv_next", shortcut="Alt+N", on_click=review.skip_to_next, args=(case_id,),
              help="Skip this case: release your claim and open the next unclaimed case in queue order.")
with left:
    review.why_here(detail)
    review.order_facts(detail)
    review.history(case_id)
