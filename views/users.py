"""Users: managers add accounts, change roles, reset passwords, disable and enable — the same use cases as
`python -m exq_core user …` (which cannot write while this dashboard holds the database file)."""
import streamlit as st

from exq_core import auth
from exq_core.errors import ExqError
from exq_core.models import Role
from ui.common import current_actor, get_store

ROLES = [r.value for r in Role]

st.title("Users")
actor = current_actor()
store = get_store()
try:
    accounts = auth.list_users(store, actor)
except ExqError as err:
    st.error(str(err))
    st.stop()

st.caption("viewer: read · reviewer: read, claim, decide · manager: also reopen, bulk actions, import, rules, "
           "users. A disabled account is signed out on its next click; a new role applies on its next click.")
st.dataframe(
    [{"username": a.username, "role": a.role.value, "active": not a.disabled,
      "sign-in": "password" if a.has_password else "OIDC only", "created": a.created_at, "updated": a.updated_at}
     for a in accounts],
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
        name = st.text_input("Username", help="Or the e-mail the single sign-on provider reports.")
        role = st.selectbox("Role", ROLES, index=0)
        password = st.text_input("Initial password", type="password", autocomplete="new-password",
                                 help=f"At least {auth.MIN_PASSWORD} characters. Leave blank for an account "
                                      "that signs in only through single sign-on.")
        if st.form_submit_button("Add account", type="primary"):
            run(lambda: auth.add_user(store, name, password or None, role, actor), f"Added {name.strip().lower()}.")

with edit:
    st.subheader("Change an account")
    names = [a.username for a in accounts]
    chosen = st.selectbox("Account", names, key="user_edit_name")
    account = next((a for a in accounts if a.username == chosen), None)
    if account is not None:
        with st.form("user_role"):
            new_role = st.selectbox("Role", ROLES, index=ROLES.index(account.role.value))
            if st.form_submit_button("Change role"):
                run(lambda: auth.set_role(store, account.username, new_role, actor),
                    f"{account.username} is now {new_role}.")
        with st.form("user_password", clear_on_submit=True):
            new_password = st.text_input("New password", type="password", autocomplete="new-password")
            if st.form_submit_button("Set password"):
                run(lambda: auth.set_password(store, account.username, new_password, actor),
                    f"Password set for {account.username}.")
        if account.disabled:
            if st.button("Enable account", key="user_enable"):
                run(lambda: auth.set_disabled(store, account.username, False, actor), f"Enabled {account.username}.")
        elif st.button("Disable account", key="user_disable", type="secondary"):
            run(lambda: auth.set_disabled(store, account.username, True, actor), f"Disabled {account.username}.")
