"""The Users page's account audit in AppTest: a manager changes sam's role, and the list says who did it, when,
what, and from what to what."""
from __future__ import annotations

from datetime import timedelta

from exq_core.models import Actor, Role
from exq_core.store import utcnow
from tests.support import app_test


def _form_role_selectbox(at):
    """The Role selectbox of the 'Change an account' form (the other two belong to Add and Invite)."""
    [role] = [s for s in at.selectbox if s.label == "Role" and s.key != "user_invite_role"
              and s.options == ["viewer", "reviewer", "manager"] and s.value == "reviewer"]
    return role


def test_a_role_change_on_the_users_page_is_in_the_audit_with_who_when_and_from_to(app_env):
    at = app_test(Actor(username="maria", role=Role.MANAGER), "views/users.py")
    assert not at.exception
    at.selectbox(key="user_edit_name").select("sam").run()
    before = utcnow()
    _form_role_selectbox(at).select("viewer")
    [change] = [b for b in at.button if b.label == "Change role"]
    change.click().run()
    assert not at.exception and not at.error

    table = at.dataframe[0].value.set_index("username")
    assert table.loc["sam", "role"] == "viewer"
    [audit] = [d.value for d in at.dataframe if "action" in d.value.columns]      # the "Account changes" table
    newest = audit.iloc[0]
    assert (newest["actor"], newest["username"], newest["action"], newest["from_value"], newest["to_value"]) == \
        ("maria", "sam", "role changed", "reviewer", "viewer")
    assert before - timedelta(seconds=1) <= newest["at"].to_pydatetime().replace(tzinfo=None) <= utcnow()
