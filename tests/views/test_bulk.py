"""Bulk actions: every case through the one transition function, each with its own evidence, each in its own
transaction; a partial failure names the refused cases and why while the others stay done. Managers only.

The panel is tested as the Queue page uses it (`bulk_panel(case_ids)` in a script), and the use case directly.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from exq_core import services, workflow
from exq_core.errors import NotPermitted
from exq_core.models import Actor, DecisionRequest, Role, State
from exq_core.store import Store, utcnow
from tests.views.review_support import counts

MARIA = Actor(username="maria", role=Role.MANAGER)
SAM = Actor(username="sam", role=Role.REVIEWER)


def panel_script(case_ids):
    from ui.bulk import bulk_panel
    bulk_panel(case_ids)


def panel(actor: Actor, case_ids: list[int]) -> AppTest:
    at = AppTest.from_function(panel_script, args=(case_ids,), default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def store(app_env, demo_store):
    return demo_store  # the same file the app under test reads


def ids_where(store: Store, where: str, n: int, params: dict | None = None) -> list[int]:
    with store.read() as cur:
        rows = cur.execute(f"SELECT case_id FROM cases WHERE {where} ORDER BY case_id LIMIT $n",
                           {**(params or {}), "n": n}).fetchall()
    assert len(rows) == n
    return [r[0] for r in rows]


def snapshot(store: Store, case_ids: list[int]) -> dict:
    return {cid: services.get_case(store, cid) for cid in case_ids}


def test_resolve_duplicates_partial_failure_names_refused_cases_others_stay_done(store):
    *new, held = ids_where(store, "state = 'new'", 4)
    services.claim(store, held, SAM)                                        # someone else is on it
    ids = [*new, held]
    at = panel(MARIA, ids)
    at.radio(key="bulk_op").set_value("duplicate")
    at.text_input(key=f"bulk_ev_{new[0]}").input("Duplicate of EXQ-100001 (same customer, same cart)")
    at.text_input(key=f"bulk_ev_{new[1]}").input("Duplicate of EXQ-100002 (same customer, same cart)")
    # new[2]: no evidence
    at.text_input(key=f"bulk_ev_{held}").input("Duplicate of EXQ-100003 (same customer, same cart)")
    untouched_before = snapshot(store, [new[2], held])
    at.button(key="bulk_apply").click().run()
    assert not at.exception

    for cid, n in ((new[0], 1), (new[1], 2)):
        case = services.get_case(store, cid)
        assert case.state is State.RESOLVED and case.resolution_reason == "duplicate_case"
        with store.read() as cur:
            d = cur.execute("SELECT reviewer, evidence, from_state, to_state, verdict FROM decisions "
                            "WHERE case_id = ?", [cid]).fetchall()
            kinds = [r[0] for r in cur.execute("SELECT kind FROM events WHERE case_id = ? ORDER BY event_id",
                                               [cid]).fetchall()]
        assert d == [("maria", f"Duplicate of EXQ-10000{n} (same customer, same cart)", "in_review", "resolved",
                      "no_suggestion")]
        assert kinds[-2:] == ["claim", "transition"]                         # taken, then resolved
    assert snapshot(store, [new[2], held]) == untouched_before              # refused: nothing written

    assert any("2 case(s) done" in s.value for s in at.success)
    assert any("2 case(s) done" in t.value for t in at.toast)
    assert any("2 case(s) refused" in e.value for e in at.error)
    refused = at.dataframe[0].value.set_index("case")["why"].to_dict()
    assert set(refused) == {new[2], held}
    assert "Nothing closes without evidence" in refused[new[2]]
    assert "claimed by sam" in refused[held]


def test_escalate_a_set_refuses_the_already_escalated(store):
    new = ids_where(store, "state = 'new'", 2)
    escalated = ids_where(store, "state = 'escalated' AND (claimed_at IS NULL OR claimed_at < $lapsed)", 1,
                          {"lapsed": utcnow() - timedelta(minutes=workflow.CLAIM_MINUTES + 1)})
    at = panel(MARIA, new + escalated)
    at.radio(key="bulk_op").set_value("escalate")
    for cid in new + escalated:
        at.text_input(key=f"bulk_ev_{cid}").input(f"https://mail.example.com/thread/{cid:08d}")
    before = counts(store)
    at.button(key="bulk_apply").click().run()
    assert [services.get_case(store, c).state for c in new] == [State.ESCALATED, State.ESCALATED]
    refused = at.dataframe[0].value.set_index("case")["why"].to_dict()
    assert list(refused) == escalated
    assert "cannot go from escalated to escalated" in refused[escalated[0]]
    ev, dec = counts(store)
    assert (ev - before[0], dec - before[1]) == (4, 2)                      # 2 × (claim + transition), 2 decisions


def test_wait_for_information_with_follow_up(store):
    ids = ids_where(store, "state = 'new'", 2)
    at = panel(MARIA, ids)
    follow = (utcnow() + timedelta(hours=6)).replace(second=0, microsecond=0)
    at.radio(key="bulk_op").set_value("wait")
    at.datetime_input(key="bulk_follow_up").set_value(follow)
    at.button(key="bulk_apply").click().run()
    for cid in ids:
        case = services.get_case(store, cid)
        assert case.state is State.WAITING and case.follow_up_at == follow


def test_resolve_with_reason_offers_the_bucket_reasons_when_one_bucket(store):
    with store.read() as cur:
        ids = [r[0] for r in cur.execute("SELECT case_id FROM cases WHERE state = 'new' AND bucket = "
                                         "'payment_mismatch' ORDER BY case_id LIMIT 2").fetchall()]
    at = panel(MARIA, ids)
    assert "reconciled_with_psp" in at.selectbox(key="bulk_reason").options
    at.radio(key="bulk_op").set_value("resolve")
    at.selectbox(key="bulk_reason").set_value("reconciled_with_psp")
    for cid in ids:
        at.text_input(key=f"bulk_ev_{cid}").input(f"PSP txn pi_3Q{cid:08x}")
    at.button(key="bulk_apply").click().run()
    assert [services.get_case(store, c).resolution_reason for c in ids] == ["reconciled_with_psp"] * 2


def test_a_case_changed_after_the_panel_was_drawn_is_refused_as_stale(store):
    ids = ids_where(store, "state = 'new'", 2)
    at = panel(MARIA, ids)
    services.claim(store, ids[1], MARIA)                                   # changes its version meanwhile
    at.radio(key="bulk_op").set_value("escalate")
    at.button(key="bulk_apply").click().run()
    assert services.get_case(store, ids[0]).state is State.ESCALATED
    refused = at.dataframe[0].value.set_index("case")["why"].to_dict()
    assert "changed since you opened it" in refused[ids[1]]


def test_bulk_needs_a_manager_in_the_panel_and_in_exq_core(store):
    ids = ids_where(store, "state = 'new'", 2)
    at = panel(SAM, ids)
    assert any("need the manager role" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "bulk_apply"]
    before = counts(store)
    with pytest.raises(NotPermitted):
        services.decide_many(store, [DecisionRequest(case_id=i, case_version=1, to_state=State.ESCALATED)
                                     for i in ids], SAM, take=True)
    assert counts(store) == before


def test_take_rolls_back_the_claim_when_the_decision_is_refused(store):
    (cid,) = ids_where(store, "state = 'new'", 1)
    before, case = counts(store), services.get_case(store, cid)
    outcome = services.decide_many(store, [DecisionRequest(case_id=cid, case_version=case.version,
                                                           to_state=State.RESOLVED, resolution_reason="other",
                                                           evidence="Duplicate of EXQ-1")], MARIA, take=True)
    assert outcome.done == [] and "'other' needs a note" in outcome.refused[cid]
    assert counts(store) == before and services.get_case(store, cid) == case


def test_empty_selection_explains_itself(store):
    at = panel(MARIA, [])
    assert any("Select cases in the queue" in c.value for c in at.caption)
