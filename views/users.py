"""Users: managers add accounts, change roles, reset passwords, disable and enable, invite people to sign in
through single sign-on — the same use cases as `python -m exq_core user …` — and read the account audit."""
import pandas as pd
import streamlit as st

from exq_core import auth
from exq_core.errors import ExqError
from exq_core.models import Role
from ui.common import current_actor, get_store, page_guard
from ui.format import inert

ROLES = [r.value for r in Role]

actor = page_guard("users", "managing accounts")
st.title("Users")
store = get_store()
try:
    accounts = auth.list_users(store, actor)
except ExqError as err:
    st.error(str(err))
    st.stop()

st.caption("viewer: read · reviewer: read, claim, decide · manager: also reopen, bulk actions, import, rules, "
           "users. A role change, a password reset or a disable ends every session of that person at once.")
st.dataframe(
    pd.DataFrame([{"username": inert(a.username), "role": a.role.value, "active": not a.disabled,
                   "sign-in": ("single sign-on" if a.sso else "") + (" + password" if a.has_password and a.sso else
                                                                     "password" if a.has_password else
                                                                     "" if a.sso else "single sign-on (invited)"),
                   "created": a.created_at, "updated": a.updated_at} for a in accounts]),
    hide_index=True, width="stretch", key="users_table")


def run(change, done: str) -> None:
    try:
        change()
    except ExqError as err:
        st.error(str(err))
    else:
        st.toast(done)
        st.rerun()


add, edit = st.columns(2)
with add:
    st.subheader("Add an account")
    with st.form("user_add", clear_on_submit=True):
        name = st.text_input("Username", max_chars=100)
        role = st.selectbox("Role", ROLES, index=0)
        password = st.text_input("Initial password", type="password", autocomplete="new-password",
                                 help=f"At least {auth.MIN_PASSWORD} characters.")
        if st.form_submit_button("Add account", type="primary"):
            run(lambda: auth.add_user(store, name, password, role, current_actor()), f"Added {name.strip().lower()}.")
    st.subheader("Invite through single sign-on")
    with st.form("user_invite", clear_on_submit=True):
        email = st.text_input("E-mail address", max_chars=200,
                              help="The first sign-in from the identity provider with this verified address "
                                   "creates the account, bound to the provider's subject id from then on.")
        invite_role = st.selectbox("Role", ROLES, index=0, key="user_invite_role")
        if st.form_submit_button("Invite"):
            run(lambda: auth.invite(store, email, invite_role, current_actor()), f"Invited {email.strip().lower()}.")

with edit:
    st.subheader("Change an account")
    names = [a.username for a in accounts]
    chosen = st.selectbox("Account", names, key="user_edit_name")
    account = next((a for a in accounts if a.username == chosen), None)
    if account is not None:
        with st.form("user_role"):
            new_role = st.selectbox("Role", ROLES, index=ROLES.index(account.role.value))
            if st.form_submit_button("Change role"):
                run(lambda: auth.set_role(store, account.username, new_role, current_actor()),
                    f"{account.username} is now {new_role}.")
        with st.form("user_password", clear_on_submit=True):
            new_password = st.text_input("New password", type="password", autocomplete="new-password")
            if st.form_submit_button("Set password"):
                run(lambda: auth.set_password(store, account.username, new_password, current_actor()),
                    f"Password set for {account.username}.")
        if account.disabled:
            if st.button("Enable account", key="user_enable"):
                run(lambda: auth.set_disabled(store, account.username, False, current_actor()),
                    f"Enabled {account.username}.")
        elif st.button("Disable account", key="user_disable", type="secondary"):
            run(lambda: auth.set_disabled(store, account.username, True, current_actor()),
                f"Disabled {account.username}.")

st.subheader("Account changes")
st.caption("Every change to an account: who made it, when, and what it was before and after. The command line "
           "records the operating-system user who ran it (cli:<user>).")
events = auth.account_events(store, actor)
if events:
    st.dataframe(pd.DataFrame([{**e, "actor": inert(e["actor"]), "username": inert(e["username"])} for e in events]),
                 hide_index=True, width="stretch", key="users_audit",
                 column_config={"at": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm"),
                                "from_value": "from", "to_value": "to"})
else:
    st.caption("No account changes yet.")
invites = auth.invitations(store, actor)
if invites:
    st.subheader("Single sign-on invitations")
    st.dataframe(pd.DataFrame(invites), hide_index=True, width="stretch", key="users_invites")
