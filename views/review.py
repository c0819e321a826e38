"""Review: one case from start to finish — facts, why it is here, history, the AI suggestion and the decision.

Opening a case claims it (workflow.CLAIM_MINUTES) for the person looking; saving a decision runs it through the one
transition function and opens the next case in queue order. The page never waits for the model.
"""
import streamlit as st

from exq_core import queries
from exq_core.errors import CaseNotFound
from ui import review
from ui.common import page_guard
from ui.data import NOW, RULES, fresh
from ui.links import case_from_params

page_guard()
flash = st.session_state.pop(review.FLASH, None)
if flash:
    st.toast(flash, icon="✅")

case_id = case_from_params(st.query_params.to_dict())
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

detail = fresh(queries.case_detail, RULES, case_id, NOW)
review.header(detail)
if notice:
    st.warning(notice)

left, right = st.columns([3, 2], gap="large")
with right:
    with st.container(border=True, key="rv_suggestion"):
        review.suggestion_panel(detail)
    review.decision_form(detail)
    st.button("Next case →", key="rv_next", shortcut="Alt+N", on_click=review.skip_to_next, args=(case_id,),
              help="Skip this case: release your claim and open the next unclaimed case in queue order.")
with left:
    review.why_here(detail)
    review.order_facts(detail)
    review.history(case_id)
