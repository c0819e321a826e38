"""The Rules page shows the active rules and a what-if that routes every order both ways."""
from streamlit.testing.v1 import AppTest

from exq_core.models import Actor, Role
from tests.support import ROOT


def _app(actor: Actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page("views/rules.py").run()
    return at


def test_rules_page_lists_rules_and_slas(app_env):
    at = _app(Actor(username="maria", role=Role.MANAGER))
    assert not at.exception
    rules_table = at.dataframe[0].value
    assert set(rules_table["rule"]) == {"fraud", "payment", "inventory", "address", "returns", "vip"}
    slas = at.dataframe[1].value.set_index("bucket")["SLA (hours)"].to_dict()
    assert slas["Fraud risk"] == 2 and slas["Return / damage"] == 48


def test_what_if_lower_fraud_threshold_moves_orders_into_fraud(app_env):
    at = _app(Actor(username="maria", role=Role.MANAGER))
    at.number_input[0].set_value(0.3)
    at.button[0].click().run()
    assert not at.exception
    table = at.dataframe[2].value.set_index("bucket")
    assert table.loc["Fraud risk", "proposed"] > table.loc["Fraud risk", "current"]
    assert table.loc["routine", "change"] < 0
    assert at.get("download_button"), "a manager can download the changed rules"


def test_what_if_download_is_for_managers_only(app_env):
    at = _app(Actor(username="sam", role=Role.REVIEWER))
    at.button[0].click().run()
    assert not at.exception
    assert not at.get("download_button")
    assert any("Only a manager" in c.value for c in at.caption)
