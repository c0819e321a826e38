"""Rules: the active routing rules, SLAs and weights, and a what-if on thresholds, SLAs and weights."""
import pandas as pd
import streamlit as st

from exq_core import whatif
from exq_core.errors import ExqError, NotPermitted
from exq_core.models import BUCKETS, BUCKET_LABELS, PaymentStatus
from exq_core.rules import FraudRule, PaymentRule, RuleSet, VipRule
from exq_core.store import utcnow
from exq_core.workflow import require
from ui.common import current_actor, get_rules, page_guard
from ui.data import fresh

page_guard()
st.title("Rules")
rules = get_rules()
st.caption(f"Rules file version **{rules.full_version}** · precedence: "
           + " › ".join(BUCKET_LABELS[b] for b in rules.precedence))

left, right = st.columns([3, 2])
with left:
    st.subheader("Rules")
    st.dataframe(
        pd.DataFrame([{"rule": r.name, "bucket": BUCKET_LABELS[r.bucket], "kind": r.kind, "enabled": r.enabled,
                       "parameters": ", ".join(f"{k} = {v}" for k, v in r.model_dump(mode="json").items()
                                               if k not in ("name", "bucket", "kind", "enabled"))}
                      for r in rules.rules]),
        hide_index=True, width="stretch")
with right:
    st.subheader("SLAs and weights")
    st.dataframe(
        pd.DataFrame([{"bucket": BUCKET_LABELS[b], "SLA (hours)": rules.buckets[b].sla_hours,
                       "weight": rules.buckets[b].weight} for b in BUCKETS]),
        hide_index=True, width="stretch")
    st.subheader("No money at stake")
    nm = rules.no_money_at_stake
    st.markdown(f"Orders whose fulfilment is **{' / '.join(s.value for s in nm.fulfillment_statuses)}** and "
                f"whose payment is **{' / '.join(s.value for s in nm.payment_statuses)}** open no "
                f"**{' / '.join(nm.rule_kinds)}** case: nothing ships and no money is held. Both statuses must be "
                "known: a blank status is still routed.")

st.subheader("What if…")
st.caption("Change a threshold, an SLA or a weight and see how routing and the top of the queue would "
           "change. Nothing is saved; a manager can download the changed rules file.")


def _first(kind):
    return next((r for r in rules.rules if isinstance(r, kind)), None)


fraud, payment, vip = _first(FraudRule), _first(PaymentRule), _first(VipRule)
with st.form("whatif"):
    c1, c2, c3, c4 = st.columns(4)
    risk = c1.number_input("Fraud: risk score at least", 0.0, 1.0, float(fraud.risk_score_at_least) if fraud else 0.75,
                           step=0.05, disabled=fraud is None)
    tolerance = c2.number_input("Payment: tolerance", 0.0, 1000.0, float(payment.tolerance) if payment else 0.01,
                                step=0.01, disabled=payment is None)
    vip_total = c3.number_input("VIP: order total at least", 0.0, 1e9,
                                float(vip.order_total_at_least) if vip else 1000.0, step=100.0, disabled=vip is None)
    vip_ltv = c4.number_input("VIP: customer LTV at least", 0.0, 1e9,
                              float(vip.customer_ltv_at_least) if vip else 5000.0, step=500.0, disabled=vip is None)
    statuses = [s.value for s in PaymentStatus]
    n1, n2 = st.columns([1, 2])
    exempt = n1.checkbox("Canceled orders with no money at stake open no fraud or payment case",
                         value=bool(rules.no_money_at_stake.payment_statuses), key="wi_no_money")
    no_money = n2.multiselect("…when the payment status is", statuses, key="wi_no_money_statuses",
                              default=[s.value for s in rules.no_money_at_stake.payment_statuses])
    cols = st.columns(len(BUCKETS))
    slas, weights = {}, {}
    for col, b in zip(cols, BUCKETS):
        slas[b] = col.number_input(f"{BUCKET_LABELS[b]} SLA h", 0.5, 2160.0, float(rules.buckets[b].sla_hours),
                                   step=1.0, key=f"sla_{b}")
        weights[b] = col.number_input(f"{BUCKET_LABELS[b]} weight", 0.0, 1000.0, float(rules.buckets[b].weight),
                                      step=5.0, key=f"w_{b}")
    submitted = st.form_submit_button("Compare", type="primary")

if submitted:
    data = rules.model_dump(mode="json")
    for rule in data["rules"]:
        if rule["kind"] == "fraud":
            rule["risk_score_at_least"] = risk
        elif rule["kind"] == "payment":
            rule["tolerance"] = str(round(tolerance, 3))
        elif rule["kind"] == "vip":
            rule["order_total_at_least"] = str(round(vip_total, 3))
            rule["customer_ltv_at_least"] = str(round(vip_ltv, 3))
    for b in BUCKETS:
        data["buckets"][b.value] = {"sla_hours": slas[b], "weight": weights[b]}
    data["no_money_at_stake"]["payment_statuses"] = no_money if exempt else []
    try:
        proposed = RuleSet.model_validate(data)
    except ValueError as err:
        st.error(f"Those settings are not valid: {err}")
        st.stop()
    now = utcnow()
    with st.spinner("Routing every order both ways…"):
        diff = fresh(whatif.compare_routing, rules, proposed)
        top_now = fresh(whatif.queue_top, rules, now)
        top_new = fresh(whatif.queue_top, proposed, now)
    table = pd.DataFrame(diff["buckets"])
    table["bucket"] = table["bucket"].map(lambda b: BUCKET_LABELS.get(b, b))
    st.markdown("**Orders per bucket** (primary bucket, all stored orders)")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"current": st.column_config.NumberColumn("with active rules", format="%d"),
                                "proposed": st.column_config.NumberColumn("what-if", format="%d"),
                                "change": st.column_config.NumberColumn("change", format="%+d")})
    if diff["moves"]:
        st.markdown("**Orders that would move**")
        st.dataframe(pd.DataFrame(diff["moves"]), hide_index=True, width="stretch")
    else:
        st.info("No order would change bucket.")
    a, b = st.columns(2)
    a.markdown("**Top of the queue now**")
    a.dataframe(pd.DataFrame(top_now), hide_index=True, width="stretch")
    b.markdown("**Top of the queue with these settings**")
    b.dataframe(pd.DataFrame(top_new), hide_index=True, width="stretch")
    actor = current_actor()
    try:
        require(actor, "rules")
        st.download_button("Download these rules (exq_rules.toml)", whatif.to_toml(proposed),
                           file_name="exq_rules.toml", mime="application/toml")
        st.caption("Save it next to your database and start exq with `EXQ_RULES=path/to/exq_rules.toml`.")
    except (NotPermitted, ExqError):
        st.caption("Only a manager can take a changed rules file.")
