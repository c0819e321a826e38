"""The offline assistant: deterministic advice from the order's facts and the rules that fired.

It answers when no model is configured, and whenever the model fails. It reads what the facts say and
nothing more: a delivered order is not told to wait "before it ships", fraud wording follows the risk level
or score that actually fired, damage words in the customer's own message count as a damage hint, and a
VIP case with a concrete problem (a short payment, missing stock) gets that problem's action. Its
confidence says how clear the facts are, not a constant.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import BUCKET_LABELS, DEFAULT_ACTIONS, Bucket
from ..rules import FraudRule, RuleSet
from .facts import (SHIPPED, SUMMARY_MAX, Advice, catalog, fired_kinds, kinds_for, money, payment_gap,
                    present)
from .privacy import customer_text, plain_text

# Words a customer uses for damage, in the languages exq's shops see most.
DAMAGE_WORDS = re.compile(
    r"\b(damag\w*|broken|broke|crush\w*|smash\w*|shatter\w*|crack\w*|dent\w*|torn|ripped|leak\w*|"
    r"besch[äa]digt\w*|kaputt|zerbrochen|cass[ée]\w*|endommag\w*|ab[îi]m[ée]\w*|roto|rota|da[ñn]ad\w*|"
    r"rotto|danneggiat\w*|kapot|beschadigd|uszkodz\w*|zniszcz\w*)\b", re.IGNORECASE)

_SHIP_LABELS = (("ship_name", "name"), ("ship_address1", "street"), ("ship_city", "city"),
                ("ship_postal_code", "postal code"), ("ship_country", "country"))


@dataclass
class Pick:
    action: str
    rationale: str
    missing: list[str] = field(default_factory=list)
    clear: bool = True           # the facts that decide this action are all known


def damage_hint(order: dict) -> bool:
    """Damage reported, or the customer's own words say it (message or return reason)."""
    if order.get("damage_reported"):
        return True
    text = " ".join(str(order.get(f) or "") for f in ("customer_message", "return_reason"))
    return bool(DAMAGE_WORDS.search(text))


def _shipped(order: dict) -> bool:
    return order.get("fulfillment_status") in SHIPPED


def _fraud_reason(order: dict, rules: RuleSet) -> str:
    level, score = order.get("risk_level"), order.get("risk_score")
    rule = next((r for r in rules.active if isinstance(r, FraudRule)), None)
    levels = {str(v) for v in (rule.risk_levels if rule else ["high"])}
    threshold = rule.risk_score_at_least if rule else 0.75
    if level in levels:
        text = f"the PSP / fraud tool rates the order {level} risk"
        if score is not None:
            text += f" (score {score:.2f})"
        return text
    if score is not None and score >= threshold:
        return (f"its risk score {score:.2f} is over the {threshold:g} threshold"
                + (f" although the risk level is {level}" if level else ""))
    return "the fraud rule fired"


def pick_for(kind: str, case: dict, rules: RuleSet) -> Pick | None:
    """The first step for one rule kind, read off the facts."""
    order = case.get("order") or {}
    cur = order.get("currency") or ""
    shipped = _shipped(order)
    if kind == "payment":
        gap = payment_gap(order)
        if order.get("payment_status") == "failed":
            when = ("the order already shipped, so recover the payment" if shipped
                    else "hold it until they do")
            return Pick("contact_customer", f"The payment failed; ask the customer to pay again or use another "
                        f"payment method — {when}.",
                        ["PSP decline reason or transaction id", "customer's reply with a new payment method"])
        if gap is not None and gap < 0:
            when = "" if shipped else " before fulfilment"
            return Pick("capture_remaining", f"The customer paid {money(-gap)} {cur} less than the order "
                        f"total; capture the remaining amount{when}.".replace("  ", " "),
                        ["PSP capture reference for the remaining amount"])
        if gap is not None and gap > 0:
            return Pick("refund_difference", f"The customer paid {money(gap)} {cur} more than the order "
                        "total; refund the difference.", ["PSP refund transaction id"])
        return Pick("contact_customer", "The payment does not match the order; confirm it with the PSP and the "
                    "customer.", ["PSP transaction record"], clear=False)
    if kind == "fraud":
        why = _fraud_reason(order, rules)
        if shipped:
            return Pick("verify_identity", f"Fraud risk: {why}. The order is already "
                        f"{order.get('fulfillment_status')}; verify the customer and prepare for a chargeback.",
                        ["identity check result (ID document or call-back)", "proof of delivery"])
        return Pick("verify_identity", f"Fraud risk: {why}. Verify the customer's identity before it ships.",
                    ["identity check result (ID document or call-back)", "PSP risk report / AVS and CVV result"])
    if kind == "inventory":
        available, ordered = order.get("items_available"), order.get("items_ordered")
        if shipped:
            return Pick("request_more_info", f"The order is already {order.get('fulfillment_status')}, so the "
                        "stock figure is probably stale; confirm with the warehouse before anything else.",
                        ["warehouse confirmation of what shipped"])
        if available is not None and available <= 0:
            return Pick("backorder_and_notify", "Nothing is in stock; backorder and tell the customer when "
                        "to expect it.", ["restock date from purchasing", "customer notified (message link)"])
        have = ("the stock figure is unknown; count it, then" if available is None
                else f"{max(available, 0)} of {ordered if ordered is not None else 'the'} items are in stock;")
        return Pick("reallocate_stock", f"{have[0].upper()}{have[1:]} try to reallocate from another location "
                    "before splitting or cancelling.",
                    ["stock count per warehouse", "customer's choice if a split or substitute is needed"],
                    clear=available is not None and ordered is not None)
    if kind == "address":
        missing = [label for col, label in _SHIP_LABELS if not present(order.get(col))]
        if missing:
            return Pick("contact_customer_for_address", f"The shipping {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} missing; ask the customer before shipping.",
                        ["address confirmed by the customer"])
        return Pick("correct_verified_address", "The address is complete but failed verification; correct it "
                    "to the validator's suggestion, and confirm with the customer if unsure.",
                    ["address validator result", "customer's confirmation if the correction is not obvious"])
    if kind == "returns":
        if damage_hint(order):
            said = "" if order.get("damage_reported") else " (the customer's own words describe damage)"
            return Pick("request_photos", f"Damage{said}: ask for photos before refunding, replacing or "
                        "claiming with the carrier.", ["photos of the damage and the packaging",
                                                        "carrier tracking number"])
        if order.get("return_requested"):
            if not shipped:
                return Pick("request_more_info", "A return was requested for an order that has not shipped; ask "
                            "the customer whether they want to cancel instead.", ["customer's reply"])
            return Pick("issue_refund", "A return was requested; refund once the return is on its way or "
                        "received.", ["return tracking number", "refund transaction id"])
        return None
    if kind == "vip":
        return Pick("personal_outreach", "A valuable customer or order needs attention; reach out personally.",
                    ["note of the customer contact (call or message link)"], clear=present(
                        order.get("customer_message")) or order.get("customer_tier") == "vip")
    return None


def _candidate_kinds(case: dict, rules: RuleSet) -> list[str]:
    """Rule kinds in the order they decide the action: the bucket's own, but for a VIP case the concrete
    problem of a secondary flag first (VIP qualifies it: who it is for, not what to do)."""
    bucket = Bucket(case["bucket"])
    own = kinds_for(case, rules, bucket)
    secondary = [k for f in case.get("flags") or [] for k in kinds_for(case, rules, f)]
    if bucket is Bucket.VIP_REVENUE:
        return [k for k in secondary if k != "vip"] + own
    return own + secondary


def _fact_phrases(case: dict, rules: RuleSet) -> list[str]:
    order = case.get("order") or {}
    cur = order.get("currency") or ""
    total = order.get("order_total")
    kinds = list(dict.fromkeys(kinds_for(case, rules, case["bucket"]) + list(fired_kinds(case, rules).values())))
    kinds.sort(key=lambda kind: kind == "vip")    # the concrete problem first; "valuable" qualifies it
    parts: list[str] = []
    for kind in kinds:
        if kind == "payment":
            gap = payment_gap(order)
            if order.get("payment_status") == "failed":
                parts.append(f"Payment failed on a {money(total)} {cur} order")
            elif gap is not None and gap < 0:
                parts.append(f"Paid {money(order['amount_paid'])} of {money(total)} {cur} (short {money(-gap)})")
            elif gap is not None and gap > 0:
                parts.append(f"Paid {money(order['amount_paid'])} on a {money(total)} {cur} order "
                             f"(over by {money(gap)})")
            else:
                parts.append(f"Payment {order.get('payment_status') or 'status unknown'} on a "
                             f"{money(total)} {cur} order")
        elif kind == "fraud":
            parts.append("Fraud risk: " + _fraud_reason(order, rules))
        elif kind == "inventory":
            ordered, available = order.get("items_ordered"), order.get("items_available")
            if ordered is not None and available is not None:
                parts.append(f"{max(available, 0)} of {ordered} ordered item{'' if ordered == 1 else 's'} in stock")
        elif kind == "address":
            missing = [label for col, label in _SHIP_LABELS if not present(order.get(col))]
            if order.get("address_verified") is False:
                parts.append("shipping address not verified")
            if missing:
                parts.append(f"shipping {', '.join(missing)} missing")
        elif kind == "returns":
            if order.get("damage_reported"):
                parts.append("damage reported")
            elif damage_hint(order):
                parts.append("the customer describes damage")
            if order.get("return_requested"):
                reason = customer_text(order, "return_reason", 60)
                parts.append(f'return requested ("{reason}")' if reason else "return requested")
        elif kind == "vip":
            if order.get("customer_tier") == "vip":
                parts.append("VIP customer")
            elif total is not None and Decimal(total) >= 1000:
                parts.append(f"high-value order ({money(total)} {cur})")
            elif order.get("customer_ltv") is not None:
                parts.append(f"lifetime value {money(order['customer_ltv'])} {cur}")
    if "vip" not in kinds and order.get("customer_tier") == "vip":
        parts.append("VIP customer")
    if "payment" not in kinds and total is not None and not any("high-value order" in p for p in parts):
        parts.append(f"order value {money(total)} {cur}")
    if order.get("fulfillment_status"):
        parts.append(f"fulfilment {order['fulfillment_status']}")
    message = customer_text(order, "customer_message", 80)
    if message:
        parts.append(f'customer wrote: "{message}"')
    if case.get("condition_cleared"):
        parts.append("the latest snapshot no longer fires the rule (condition cleared)")
    return [p for p in parts if p]


def _confidence(pick: Pick, case: dict, kinds: list[str], fallback: bool) -> float:
    """How clear the facts are: known deciding facts raise it; a cleared condition, several competing
    problems or no specific rule lower it."""
    score = 0.55 + (0.2 if pick.clear else -0.1)
    if fallback:
        score -= 0.25
    if case.get("condition_cleared"):
        score -= 0.2
    concrete = {k for k in kinds if k != "vip"}
    if len(concrete) > 1:
        score -= 0.1 * (len(concrete) - 1)
    return round(min(0.9, max(0.15, score)), 2)


def offline_advice(case: dict, rules: RuleSet) -> Advice:
    """Deterministic advice from the facts and the rules that fired: the same case gives the same advice."""
    bucket = Bucket(case["bucket"])
    allowed = catalog(case)
    kinds = _candidate_kinds(case, rules)
    pick = None
    for kind in kinds:
        pick = pick_for(kind, case, rules)
        if pick and pick.action in allowed:
            break
        pick = None
    fallback = pick is None
    if pick is None:
        pick = Pick(DEFAULT_ACTIONS[bucket], f"Default first step for a {BUCKET_LABELS[bucket].lower()} case.",
                    ["the facts that explain why this case is here"], clear=False)
    elif bucket is Bucket.VIP_REVENUE and kinds and kinds[-1] == "vip" and pick.action != "personal_outreach":
        pick.rationale += " It is a valuable customer or order: keep them informed personally."
    phrases = _fact_phrases(case, rules)
    text = "; ".join(phrases) if phrases else f"{BUCKET_LABELS[bucket]} case"
    summary = plain_text(text[0].upper() + text[1:] + ".", SUMMARY_MAX)
    return Advice(summary=summary, action=pick.action, rationale=pick.rationale,
                  confidence=_confidence(pick, case, kinds, fallback), missing_evidence=pick.missing)
