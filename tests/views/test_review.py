"""The Review page through AppTest: claim on open, the suggestion panel, the decision form and every guardrail
as a reviewer meets it (message shown, nothing written), auto-advance, two sessions on one case, waiting and
reopening. The store the tests read is a second handle on the app's database file (same process)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from exq_core import queries, services
from exq_core.errors import StaleCase
from exq_core.models import Actor, DecisionRequest, Role, State, reasons_for
from exq_core.rules import load_rules
from exq_core.store import Store, utcnow
from tests.views.review_support import counts, session

pytestmark = pytest.mark.slow

SAM = Actor(username="sam", role=Role.REVIEWER)
LEE = Actor(username="lee", role=Role.REVIEWER)
MARIA = Actor(username="maria", role=Role.MANAGER)
VIC = Actor(username="vic", role=Role.VIEWER)


@pytest.fixture
def db(app_env):
    return app_env


@pytest.fixture
def store(db, demo_store):
    return demo_store  # the same file the app under test reads


def first_case(store: Store, where: str) -> int:
    with store.read() as cur:
        return cur.execute(f"SELECT case_id FROM cases WHERE {where} ORDER BY case_id LIMIT 1").fetchone()[0]


def decisions_of(store: Store, case_id: int) -> list[dict]:
    with store.read() as cur:
        df = cur.execute("SELECT * FROM decisions WHERE case_id = ? ORDER BY decision_id", [case_id]).df()
    return df.to_dict("records")


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def fill(at, case_id: int, **values):
    """Set form inputs of one case: action, override_note, to_state, reason, evidence, note, follow_up."""
    for name, value in values.items():
        key = f"rv_{case_id}_{name}"
        if name in ("action", "to_state", "reason"):
            at.selectbox(key=key).set_value(value)
        elif name in ("override_note", "note"):
            at.text_area(key=key).input(value)
        elif name == "evidence":
            at.text_input(key=key).input(value)
        elif name == "follow_up":
            at.datetime_input(key=key).set_value(value)
    return at


def save(at):
    at.button(key="rv_save").click().run()
    assert not at.exception, at.exception
    return at


# -- opening ----------------------------------------------------------------------------------------

def test_take_next_opens_the_top_unclaimed_case_and_claims_it(db, store):
    with store.read() as cur:
        expected = queries.next_unclaimed(cur, load_rules(), utcnow())
    at = session(db, SAM)
    assert not at.exception
    at.button(key="rv_claim_next").click().run()
    assert not at.exception
    assert at.query_params["case"] == str(expected)
    case = services.get_case(store, expected)
    assert case.state in (State.IN_REVIEW, State.ESCALATED) and case.assignee == "sam" and case.claimed_at is not None
    assert at.title[0].value.startswith(f"Case {expected} ")


def test_open_shows_facts_reasons_suggestion_history(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    assert not at.exception
    case = services.get_case(store, cid)
    assert case.state is State.IN_REVIEW and case.assignee == "sam"          # claimed on open
    assert any(f"version {case.version}" in t for t in texts(at))
    labels = [m.label for m in at.metric]
    assert {"Priority", "SLA", "Order total", "Claimed by"} <= set(labels)
    assert any(c.value.startswith("= bucket ") for c in at.caption)          # the priority's terms
    assert any("Why this case is here" in h.value for h in at.subheader)
    assert any(f"**{case.rules_fired[0]}**" in m.value for m in at.markdown)
    sug = latest_suggestion(store, cid)
    assert sug is not None and sug["summary"] in texts(at) and sug["action"] in texts(at)
    assert any("Offline assistant" in t for t in texts(at))                   # the source label
    history = at.dataframe[1].value
    assert list(history.columns) == ["when (UTC)", "who", "what", "state", "details"]
    assert ("sam", "claim", "new → in_review") in set(zip(history["who"], history["what"], history["state"]))
    assert at.selectbox(key=f"rv_{cid}_action").value is None                 # nothing is chosen for the person
    assert at.selectbox(key=f"rv_{cid}_to_state").options == ["Resolve", "Wait for information (follow-up)",
                                                              "Escalate"]


def latest_suggestion(store, case_id: int) -> dict | None:
    with store.read() as cur:
        rows = cur.execute("SELECT suggestion_id, summary, action, source FROM suggestions WHERE case_id = ? "
                           "ORDER BY suggestion_id DESC LIMIT 1", [case_id]).dicts()
    return rows[0] if rows else None


def test_unknown_case_says_so(db):
    at = session(db, SAM, case_id=987654)
    assert not at.exception
    assert any("There is no case 987654" in e for e in errors(at))


def test_customer_text_is_shown_plain(db, store):
    cid = first_case(store, "state = 'new'")
    hostile = "**bold** [link](javascript:alert(1)) <img src=x onerror=alert(1)> <script>alert(2)</script>"
    with store.unit_of_work() as uow:
        uow.execute("UPDATE orders SET customer_message = ? WHERE EXISTS (SELECT 1 FROM cases c "
                    "WHERE c.case_id = ? AND c.source = orders.source AND c.order_id = orders.order_id)",
                    [hostile, cid])
        uow.commit()
    at = session(db, SAM, case_id=cid)
    assert hostile in texts(at)
    assert not any("<script>" in m.value or "onerror" in m.value for m in at.markdown)


# -- guardrails through the page: message shown, nothing written ----------------------------------------

def test_resolve_without_evidence_is_refused_and_writes_nothing(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    before, case_before = counts(store), services.get_case(store, cid)
    bucket = case_before.bucket
    at.button(key="rv_accept").click().run()
    save(fill(at, cid, to_state="resolved", reason=reasons_for(bucket)[0], evidence="  "))
    assert any("Not saved" in e and "Nothing closes without evidence" in e for e in errors(at))
    assert counts(store) == before
    assert services.get_case(store, cid) == case_before
    assert at.query_params["case"] == str(cid)                                # still on the same case
    save(fill(at, cid, evidence="short"))                                     # < 8 characters
    assert any("at least 8 characters" in e for e in errors(at))
    assert counts(store) == before


def test_resolve_without_reason_or_with_other_and_no_note_is_refused(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    at.button(key="rv_accept").click().run()
    before = counts(store)
    save(fill(at, cid, to_state="resolved", evidence="PSP txn pi_3Q0000abcd"))
    assert any("needs a resolution reason from its list" in e for e in errors(at))
    save(fill(at, cid, reason="other"))
    assert any("'other' needs a note" in e for e in errors(at))
    assert counts(store) == before


def test_saving_without_choosing_an_action_is_refused(db, store):
    """The form starts with no action chosen, and a rubber stamp is not an acceptance."""
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    before = counts(store)
    save(fill(at, cid, to_state="escalated"))
    assert any("No action chosen" in e and "Accept" in e for e in errors(at))
    assert counts(store) == before


def test_override_without_note_is_refused_then_saved_with_note(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    suggested = latest_suggestion(store, cid)["action"]
    at.button(key="rv_override").click().run()
    assert at.selectbox(key=f"rv_{cid}_action").value is None                 # the person chooses
    chosen = next(a for a in at.selectbox(key=f"rv_{cid}_action").options if a != suggested)
    fill(at, cid, action=chosen)
    before = counts(store)
    bucket = services.get_case(store, cid).bucket
    save(fill(at, cid, to_state="resolved", reason=reasons_for(bucket)[0], evidence="Tracking 1Z999AA10000001"))
    assert any("needs an override note" in e for e in errors(at))
    assert counts(store) == before
    save(fill(at, cid, override_note="Customer already confirmed by phone."))
    assert not errors(at)
    (d,) = decisions_of(store, cid)
    assert (d["verdict"], d["suggested_action"], d["action"]) == ("overridden", suggested, chosen)
    assert d["override_note"] == "Customer already confirmed by phone." and d["reviewer"] == "sam"


def test_accept_and_save_records_the_suggestion_and_opens_the_next_case(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    case = services.get_case(store, cid)
    at.selectbox(key=f"rv_{cid}_action").set_value("request_more_info").run()
    at.button(key="rv_accept").click().run()
    suggested = at.selectbox(key=f"rv_{cid}_action").value
    sid = latest_suggestion(store, cid)["suggestion_id"]
    assert suggested == latest_suggestion(store, cid)["action"]
    with store.read() as cur:
        expected_next = queries.next_unclaimed(cur, load_rules(), utcnow(), exclude=[cid])
    save(fill(at, cid, to_state="resolved", reason=reasons_for(case.bucket)[0],
              evidence="PSP txn pi_3Q1234abcd", note="Checked with the PSP."))
    assert not errors(at)
    (d,) = decisions_of(store, cid)
    assert (d["verdict"], d["action"], d["suggestion_id"], d["suggestion_source"]) == \
        ("accepted", suggested, sid, "offline")
    assert (d["case_version"], d["reviewer"], d["from_state"], d["to_state"]) == \
        (case.version, "sam", "in_review", "resolved")
    assert d["evidence"] == "PSP txn pi_3Q1234abcd" and d["resolution_reason"] == reasons_for(case.bucket)[0]
    assert services.get_case(store, cid).state is State.RESOLVED
    assert any(f"Case {cid} resolved" in t.value for t in at.toast)
    assert at.query_params["case"] == str(expected_next)                      # auto-advance
    assert at.title[0].value.startswith(f"Case {expected_next} ")
    assert services.get_case(store, expected_next).assignee == "sam"


def test_escalate_then_resolve_from_escalated(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    save(fill(at, cid, to_state="escalated", action="escalate_to_manager",
              override_note="Needs a manager's sign-off."))
    assert not errors(at) and services.get_case(store, cid).state is State.ESCALATED
    at = session(db, SAM, case_id=cid)                                        # still held by sam
    assert at.selectbox(key=f"rv_{cid}_to_state").options == ["Resolve", "In review"]
    at.button(key="rv_accept").click().run()
    save(fill(at, cid, to_state="resolved", reason="duplicate_case", evidence="Duplicate of EXQ-100001"))
    assert not errors(at) and services.get_case(store, cid).state is State.RESOLVED


def test_viewer_reads_but_cannot_decide(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, VIC, case_id=cid)
    assert not at.exception
    assert any("deciding needs the reviewer or manager role" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "rv_save"]
    assert services.get_case(store, cid).state is State.NEW                  # a viewer does not claim


# -- two sessions on one case -----------------------------------------------------------------------

def test_same_person_in_two_tabs_stale_version_is_refused_and_nothing_is_lost(db, store):
    cid = first_case(store, "state = 'new'")
    tab_a = session(db, SAM, case_id=cid)
    tab_b = session(db, SAM, case_id=cid)
    bucket = services.get_case(store, cid).bucket
    tab_a.button(key="rv_accept").click().run()
    fill(tab_a, cid, to_state="resolved", reason=reasons_for(bucket)[0], evidence="PSP txn pi_3Q7777abcd")
    save(fill(tab_b, cid, to_state="escalated", action="escalate_to_manager", override_note="Manager must see it."))
    assert not errors(tab_b)
    before = counts(store)
    save(tab_a)
    assert any("changed since you opened it" in e for e in errors(tab_a))
    assert counts(store) == before                                            # nothing written
    (d,) = decisions_of(store, cid)
    assert d["to_state"] == "escalated"                                       # the winner's decision stands
    assert tab_a.text_input(key=f"rv_{cid}_evidence").value == "PSP txn pi_3Q7777abcd"   # inputs kept
    save(tab_a)                                                               # now on the fresh version
    assert not errors(tab_a)
    assert [d["to_state"] for d in decisions_of(store, cid)] == ["escalated", "resolved"]


def test_someone_else_holding_the_case_is_shown_and_their_claim_wins(db, store):
    cid = first_case(store, "state = 'new'")
    session(db, SAM, case_id=cid)
    at = session(db, LEE, case_id=cid)
    assert any("sam is working on this case" in w.value for w in at.warning)
    assert services.get_case(store, cid).assignee == "sam"                    # lee did not take it
    before = counts(store)
    bucket = services.get_case(store, cid).bucket
    at.button(key="rv_accept").click().run()
    save(fill(at, cid, to_state="resolved", reason=reasons_for(bucket)[0], evidence="PSP txn pi_3Q5555abcd"))
    assert any("is claimed by sam" in e for e in errors(at))
    assert counts(store) == before


def test_two_threads_deciding_one_version_exactly_one_wins(store):
    cid = first_case(store, "state = 'new'")
    case = services.claim(store, cid, SAM)
    reason = reasons_for(case.bucket)[0]
    results = []

    def decide(to_state):
        req = DecisionRequest(case_id=cid, case_version=case.version, to_state=to_state,
                              resolution_reason=reason if to_state is State.RESOLVED else None,
                              evidence="PSP txn pi_3Q9999abcd", action="escalate_to_manager")
        try:
            services.decide(store, req, SAM)
            results.append("won")
        except StaleCase:
            results.append("stale")

    threads = [threading.Thread(target=decide, args=(s,)) for s in (State.RESOLVED, State.ESCALATED) * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["stale"] * 9 + ["won"]
    assert len(decisions_of(store, cid)) == 1


# -- waiting and reopening ----------------------------------------------------------------------------

def test_waiting_needs_a_future_follow_up_and_returns_to_the_queue_when_due(db, store):
    cid = first_case(store, "state = 'new'")
    at = session(db, SAM, case_id=cid)
    past = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    before = counts(store)
    save(fill(at, cid, to_state="waiting", action="request_more_info", override_note="Waiting on the customer.",
              follow_up=past))
    assert any("follow-up time in the future" in e for e in errors(at))
    assert counts(store) == before
    follow = (utcnow() + timedelta(hours=2)).replace(second=0, microsecond=0)
    save(fill(at, cid, follow_up=follow))
    assert not errors(at)
    case = services.get_case(store, cid)
    assert case.state is State.WAITING and case.follow_up_at == follow and case.claimed_at is None
    rules = load_rules()

    def in_queue(now) -> bool:
        with store.read() as cur:
            page, _ = queries.queue_page(cur, rules, now, limit=100_000)
        return cid in set(page["case_id"])

    assert not in_queue(utcnow())                                             # parked until the follow-up
    assert in_queue(follow + timedelta(minutes=1))                            # back in the queue when due
    # opening it before the follow-up does not take it; "Work on it now" does
    at = session(db, SAM, case_id=cid)
    assert any("Waiting for information until" in i.value for i in at.info)
    assert services.get_case(store, cid).state is State.WAITING
    at.button(key="rv_work_now").click().run()
    assert services.get_case(store, cid).state is State.IN_REVIEW


def test_due_waiting_case_is_claimed_on_open(db, store):
    cid = first_case(store, "state = 'waiting'")
    with store.unit_of_work() as uow:       # make its follow-up time pass
        uow.execute("UPDATE cases SET follow_up_at = ? WHERE case_id = ?", [utcnow() - timedelta(minutes=5), cid])
        uow.commit()
    with store.read() as cur:
        page, _ = queries.queue_page(cur, load_rules(), utcnow(), limit=100_000)
    assert cid in set(page["case_id"])
    session(db, SAM, case_id=cid)
    case = services.get_case(store, cid)
    assert case.state is State.IN_REVIEW and case.assignee == "sam"


def test_reopen_needs_a_manager_and_a_note(db, store):
    cid = first_case(store, "state = 'resolved'")
    at = session(db, SAM, case_id=cid)
    assert services.get_case(store, cid).state is State.RESOLVED             # opening does not claim it
    before = counts(store)
    at.text_area(key=f"rv_{cid}_reopen_note").input("The customer wrote again.")
    at.button(key="rv_reopen").click().run()
    assert any("may not reopen" in e for e in errors(at))
    assert counts(store) == before
    at = session(db, MARIA, case_id=cid)
    at.button(key="rv_reopen").click().run()
    assert any("Reopening a resolved case needs a note" in e for e in errors(at))
    assert counts(store) == before
    at.text_area(key=f"rv_{cid}_reopen_note").input("The customer wrote again: parcel never arrived.")
    at.button(key="rv_reopen").click().run()
    assert not errors(at)
    case = services.get_case(store, cid)
    assert case.state is State.IN_REVIEW and case.assignee == "maria" and case.resolution_reason is None
    d = decisions_of(store, cid)[-1]
    assert (d["from_state"], d["to_state"], d["reviewer"]) == ("resolved", "in_review", "maria")
    assert at.query_params["case"] == str(cid)                                # stays on the reopened case


def test_next_case_releases_the_claim_and_moves_on(db, store):
    at = session(db, SAM)
    at.button(key="rv_claim_next").click().run()
    first = int(at.query_params["case"])
    assert services.get_case(store, first).assignee == "sam"
    at.button(key="rv_next").click().run()
    assert not at.exception
    second = int(at.query_params["case"])
    assert second != first
    assert services.get_case(store, first).claimed_at is None                 # released for the others
    assert services.get_case(store, second).assignee == "sam"
