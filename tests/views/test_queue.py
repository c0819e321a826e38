"""The Queue page (AppTest): escalate-first order, filters that change the rows and live in the link,
server-side paging, claim next, opening a case, bulk hand-off, saved views, empty and hostile data."""
from __future__ import annotations

from datetime import timedelta

import pytest

from exq_core import queries, services
from exq_core.models import BUCKET_LABELS, Actor, Role
from exq_core.queries import QueueFilter
from exq_core.rules import load_rules
from exq_core.store import open_store, utcnow
from tests.sql import one, reindex_order, write
from tests.views.dashboard_support import frozen_now, session  # noqa: F401
from ui.links import page_count

PAGE = "views/queue.py"
MARIA = Actor(username="maria", role=Role.MANAGER)
SAM = Actor(username="sam", role=Role.REVIEWER)
VIC = Actor(username="vic", role=Role.VIEWER)


def store():
    from ui.common import get_store      # the app's own connection (this process owns the file)
    return get_store()


def expected(now, f: QueueFilter | None = None, page: int = 1):
    with store().read() as cur:
        rows, total = queries.queue_page(cur, load_rules(), now, f, limit=50, offset=(page - 1) * 50)
    return [int(i) for i in rows["case_id"]], total


def shown(at) -> list[int]:
    """The case ids in the Queue table, in order ([] when nothing matches and no table is drawn)."""
    return [int(i) for i in at.dataframe[0].value["Case"]] if at.dataframe else []


def select_rows(at, rows: list[int]):
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_default_queue_is_escalate_first(app_env, frozen_now):
    at = session(app_env, SAM, PAGE)
    assert not at.exception
    ids, total = expected(frozen_now)
    assert shown(at) == ids and len(ids) == min(50, total) and total > 20
    table = at.dataframe[0].value
    assert list(table["Priority"]) == sorted(table["Priority"], reverse=True)
    assert f"**{total:,}** cases match" in at.markdown[0].value or any(
        f"**{total:,}** cases match" in m.value for m in at.markdown)
    assert set(table.columns) >= {"Case", "Priority", "Bucket", "State", "Order", "Value", "Age", "SLA left",
                                  "SLA due", "Assignee", "Cleared"}
    assert table["SLA left"].between(0, 1).all()
    assert at.query_params == {} or dict(at.query_params) == {}


def test_filters_change_the_rows_and_the_link(app_env, frozen_now):
    at = session(app_env, SAM, PAGE)
    at.multiselect(key="queue_bucket").select("fraud_risk").run()
    ids, total = expected(frozen_now, QueueFilter(buckets=["fraud_risk"]))
    assert shown(at) == ids and set(at.dataframe[0].value["Bucket"]) == {BUCKET_LABELS["fraud_risk"]}
    assert dict(at.query_params) == {"bucket": "fraud_risk"}

    at.toggle(key="queue_breached").set_value(True).run()
    ids, _ = expected(frozen_now, QueueFilter(buckets=["fraud_risk"], breached_only=True))
    assert shown(at) == ids
    assert dict(at.query_params) == {"bucket": "fraud_risk", "breached": "1"}

    at.selectbox(key="queue_age").select("> 7d").run()
    f = QueueFilter(buckets=["fraud_risk"], breached_only=True, age_band="> 7d")
    ids, _ = expected(frozen_now, f)
    assert shown(at) == ids and all(a.endswith("d") or "d " in a for a in at.dataframe[0].value["Age"])
    assert dict(at.query_params) == {"bucket": "fraud_risk", "breached": "1", "age": "gt7d"}

    at.multiselect(key="queue_state").select("in_review").run()
    f = QueueFilter(**(f.model_dump() | {"states": ["in_review"]}))
    ids, _ = expected(frozen_now, f)
    assert shown(at) == ids
    assert not ids or set(at.dataframe[0].value["State"]) == {"In review"}

    at.button(key="queue_clear").click().run()
    assert shown(at) == expected(frozen_now)[0] and dict(at.query_params) == {}


def test_assignee_and_text_search(app_env, frozen_now):
    at = session(app_env, SAM, PAGE)
    at.selectbox(key="queue_assignee").select("lee").run()
    ids, total = expected(frozen_now, QueueFilter(assignee="lee"))
    assert shown(at) == ids and total > 0
    assert dict(at.query_params) == {"assignee": "lee"}
    at.selectbox(key="queue_assignee").select(queries.UNASSIGNED).run()
    assert shown(at) == expected(frozen_now, QueueFilter(assignee=queries.UNASSIGNED))[0]
    assert dict(at.query_params) == {"unassigned": "1"}
    at.selectbox(key="queue_assignee").select("").run()

    order_id = at.dataframe[0].value["Order"].iloc[3]
    at.text_input(key="queue_text").input(order_id.lower()).run()
    table = at.dataframe[0].value
    assert order_id in list(table["Order"])
    assert dict(at.query_params) == {"q": order_id.lower()}
    # The customer's name and message are searched too.
    with store().read() as cur:
        name = cur.execute("""SELECT split_part(o.ship_name, ' ', 2) FROM cases c JOIN orders o USING (source, order_id)
                              WHERE c.state = 'new' AND o.ship_name IS NOT NULL ORDER BY c.case_id LIMIT 1""").fetchone()[0]
    at.text_input(key="queue_text").input(name.upper()).run()
    ids, total = expected(frozen_now, QueueFilter(text=name))
    assert total > 0 and shown(at) == ids
    at.text_input(key="queue_text").input("script>").run()
    ids, total = expected(frozen_now, QueueFilter(text="<script>"))
    assert shown(at) == expected(frozen_now, QueueFilter(text="script>"))[0]


def test_deep_link_opens_the_filtered_queue(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params={"bucket": "fraud_risk", "breached": "1", "bogus": "x"})
    assert not at.exception
    assert at.multiselect(key="queue_bucket").value == ["fraud_risk"]
    assert at.toggle(key="queue_breached").value is True
    assert shown(at) == expected(frozen_now, QueueFilter(buckets=["fraud_risk"], breached_only=True))[0]
    assert dict(at.query_params) == {"bucket": "fraud_risk", "breached": "1"}


def test_deep_link_with_junk_values_still_opens(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params={"bucket": "nope,vip_revenue", "age": "ancient", "page": "x",
                                             "q": "'; DROP TABLE cases; --"})
    assert not at.exception
    assert at.multiselect(key="queue_bucket").value == ["vip_revenue"]
    assert at.selectbox(key="queue_age").value == ""
    assert any("No cases match" in i.value for i in at.info)
    with store().read() as cur:
        assert cur.execute("SELECT count(*) FROM cases").fetchone()[0] > 0


ALL_STATES = QueueFilter(states=["new", "in_review", "waiting", "escalated", "resolved"])
ALL_STATES_LINK = {"state": "new,in_review,waiting,escalated,resolved"}


def test_paging_happens_in_the_database(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params=ALL_STATES_LINK)      # resolved too: several pages of cases
    first, total = expected(frozen_now, ALL_STATES)
    assert total > 100 and shown(at) == first
    at.button(key="queue_next").click().run()
    second, _ = expected(frozen_now, ALL_STATES, page=2)
    assert shown(at) == second and not set(first) & set(second)
    assert dict(at.query_params) == ALL_STATES_LINK | {"page": "2"}
    assert any(m.value == f"Page 2 of {page_count(total):,}" for m in at.markdown)
    at.button(key="queue_prev").click().run()
    assert shown(at) == first and dict(at.query_params) == ALL_STATES_LINK
    # A filter change goes back to page 1.
    at.button(key="queue_next").click().run()
    at.multiselect(key="queue_bucket").select("payment_mismatch").run()
    assert dict(at.query_params) == ALL_STATES_LINK | {"bucket": "payment_mismatch"}
    # A link beyond the last page lands on the last page.
    last = page_count(total)
    at2 = session(app_env, SAM, PAGE, params=ALL_STATES_LINK | {"page": str(last + 5)})
    assert shown(at2) == expected(frozen_now, ALL_STATES, page=last)[0]
    assert dict(at2.query_params) == ALL_STATES_LINK | {"page": str(last)}


def test_claim_next_claims_the_top_unclaimed_case_and_opens_it(app_env, frozen_now):
    at = session(app_env, SAM, PAGE)
    with store().read() as cur:
        top = queries.next_unclaimed(cur, load_rules(), frozen_now)
    at.button(key="queue_claim_next").click().run()
    assert not at.exception
    assert dict(at.query_params) == {"case": str(top)}
    case = services.get_case(store(), top)
    assert case.assignee == "sam" and case.claimed_at == frozen_now
    assert case.state in ("in_review", "escalated")          # a new or waiting case goes to review; others keep
    # The next press takes the next case, never the same one.
    at2 = session(app_env, SAM, PAGE)
    at2.button(key="queue_claim_next").click().run()
    assert at2.query_params["case"] != str(top)


def test_claim_next_respects_the_filter(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params={"bucket": "address_problem"})
    at.button(key="queue_claim_next").click().run()
    case = services.get_case(store(), int(at.query_params["case"]))
    assert case.bucket == "address_problem" and case.assignee == "sam"


def test_claim_next_with_nothing_to_claim_says_so(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params={"q": "no-such-order-anywhere"})
    events_before = _events()
    at.button(key="queue_claim_next").click().run()
    assert any("Nothing left to claim" in i.value for i in at.info)
    assert any("No cases match these filters" in i.value for i in at.info)
    assert at.title[0].value == "Queue" and _events() == events_before


def _events() -> int:
    with store().read() as cur:
        return cur.execute("SELECT count(*) FROM events").fetchone()[0]


def test_a_viewer_cannot_claim(app_env, frozen_now):
    at = session(app_env, VIC, PAGE)
    assert at.button(key="queue_claim_next").disabled
    from exq_core.errors import NotPermitted
    with pytest.raises(NotPermitted):
        services.claim_next(store(), load_rules(), VIC)


def test_one_selected_row_opens_for_review(app_env, frozen_now):
    at = session(app_env, SAM, PAGE)
    case_id = shown(at)[2]
    select_rows(at, [2])
    at.button(key="queue_open").click().run()
    assert not at.exception
    assert dict(at.query_params) == {"case": str(case_id)}


def test_several_selected_rows_go_to_the_bulk_panel(app_env, frozen_now, monkeypatch):
    import ui.bulk
    seen = []
    monkeypatch.setattr(ui.bulk, "bulk_panel", lambda ids: seen.append(list(ids)))
    at = session(app_env, MARIA, PAGE)
    ids = shown(at)
    select_rows(at, [0, 3, 4])
    assert not at.exception
    assert seen[-1] == [ids[0], ids[3], ids[4]]
    assert any("3 cases selected" in m.value for m in at.markdown)
    # A new filter means a new table: the old selection does not follow the rows.
    at.multiselect(key="queue_bucket").select("return_damage").run()
    assert not any("cases selected" in m.value for m in at.markdown)


def test_saved_views_save_list_apply_delete(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params={"bucket": "fraud_risk", "breached": "1"})
    at.text_input(key="queue_view_name").input("Fraud <b>late</b>")
    at.button(key="queue_save_view").click().run()
    assert not at.exception
    with store().read() as cur:
        views = queries.list_views(cur, "sam")
    assert [(v.name, v.filters) for v in views] == [
        ("Fraud <b>late</b>", QueueFilter(buckets=["fraud_risk"], breached_only=True))]
    assert at.selectbox(key="queue_view").value == "Fraud <b>late</b>"

    at.button(key="queue_clear").click().run()
    assert dict(at.query_params) == {} and at.selectbox(key="queue_view").value == ""
    at.selectbox(key="queue_view").select("Fraud <b>late</b>").run()
    assert dict(at.query_params) == {"bucket": "fraud_risk", "breached": "1"}
    assert shown(at) == expected(frozen_now, QueueFilter(buckets=["fraud_risk"], breached_only=True))[0]

    # Views are personal.
    other = session(app_env, MARIA, PAGE)
    assert other.selectbox(key="queue_view").options == ["No saved views yet"]

    at.button(key="queue_delete_view").click().run()
    with store().read() as cur:
        assert queries.list_views(cur, "sam") == []


def test_filters_survive_a_visit_to_another_page(app_env, frozen_now):
    at = session(app_env, SAM, PAGE, params={"bucket": "inventory_conflict"})
    at.switch_page("views/overview.py").run()
    at.switch_page(PAGE).run()
    assert at.multiselect(key="queue_bucket").value == ["inventory_conflict"]
    assert dict(at.query_params) == {"bucket": "inventory_conflict"}


def test_snoozed_waiting_cases_are_counted_and_can_be_shown(app_env, frozen_now):
    with open_store(app_env) as s:
        write(s, "UPDATE cases SET follow_up_at = ? WHERE state = 'waiting' AND bucket = 'fraud_risk'",
              [utcnow() + timedelta(days=2)])
        (snoozed,) = one(s, "SELECT count(*) FROM cases WHERE state = 'waiting' AND bucket = 'fraud_risk'")
    assert snoozed
    at = session(app_env, SAM, PAGE, params={"bucket": "fraud_risk"})
    assert any(f"{snoozed} snoozed waiting case" in m.value for m in at.markdown)
    assert "Waiting" not in set(at.dataframe[0].value["State"])
    at.toggle(key="queue_waiting").set_value(True).run()
    assert "Waiting" in set(at.dataframe[0].value["State"])
    assert dict(at.query_params) == {"bucket": "fraud_risk", "waiting": "1"}


def test_hostile_order_text_is_shown_as_plain_text(app_env, frozen_now):
    hostile = "<script>alert('x')</script> **bold** [link](http://evil) '; DROP TABLE cases; --"
    with open_store(app_env) as s:
        case_id, source, order_id = one(
            s, "SELECT case_id, source, order_id FROM cases WHERE bucket = 'fraud_risk' AND state = 'new' "
               "ORDER BY case_id LIMIT 1")
        write(s, "UPDATE orders SET customer_message = ? WHERE source = ? AND order_id = ?",
              [hostile, source, order_id])
        write(s, "UPDATE orders SET order_id = ? WHERE source = ? AND order_id = ?", [hostile, source, order_id])
        write(s, "UPDATE cases SET order_id = ? WHERE case_id = ?", [hostile, case_id])
        reindex_order(s, source, hostile)
    at = session(app_env, SAM, PAGE, params={"q": "DROP TABLE"})
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Order"]) == [hostile] and list(table["Case"]) == [case_id]
    assert not any("<script>" in m.value for m in at.markdown)
    select_rows(at, [0])
    assert at.button(key="queue_open").label == f"Open case #{case_id} for review"


def test_empty_database_and_empty_results(empty_app_db):
    db = empty_app_db
    at = session(db, SAM, PAGE)
    assert not at.exception
    assert "No cases yet" in at.info[0].value and "python -m exq_core demo" in at.info[0].value
    assert not at.dataframe
    assert any(link.proto.label == "Go to Import" for link in at.get("page_link"))


def test_everything_resolved_reads_as_done(app_env, frozen_now):
    with open_store(app_env) as s:
        write(s, "UPDATE cases SET state = 'resolved', resolved_at = opened_at, resolution_reason = 'other'")
    at = session(app_env, SAM, PAGE)
    assert not at.exception
    assert any("The queue is empty" in m.value for m in at.success)


def test_a_claim_in_another_browser_shows_on_the_next_rerun(app_env, frozen_now):
    at = session(app_env, MARIA, PAGE)
    case_id = shown(at)[0]
    services.claim(store(), case_id, SAM, frozen_now)
    at.run()
    table = at.dataframe[0].value.set_index("Case")
    assert table.loc[case_id, "Assignee"] == "sam (claimed)"
    assert table.loc[case_id, "State"] in ("In review", "Escalated")
