"""exq dashboard entry point: navigation, sign-in gate and the shared sidebar.

Run it through server.py (`make run`), which also starts the inbox at server start; `streamlit run app.py`
works too (the inbox then starts with the first visit)."""
import os

import streamlit as st

from exq_core import queries
from exq_core.errors import DatabaseLocked, ExqError
from exq_core.models import Role
from ui.common import get_store
from ui.data import read
from ui.format import md_code, md_escape
from ui.inbox import get_inbox_watcher
from ui.sign_in import account_sidebar, gate, sign_in_form

os.umask(0o077)       # everything this process writes (the database, its log, reports) is the owner's only
st.set_page_config(page_title="exq — exception queue", page_icon="🧭", layout="wide")

try:
    get_store()
except DatabaseLocked as err:
    st.title("exq")
    st.error(f"{err}", icon=":material/lock:")
    st.caption("This page tries again when you reload it.")
    st.stop()
except ExqError as err:
    st.title("exq")
    st.error(str(err))
    st.stop()
get_inbox_watcher()  # files dropped into data/inbox/ are imported by this process (SPEC §9)

# Who is signed in (st.session_state["actor"]), re-checked against the database on every rerun.
actor = gate()

# The default page's address is '/': Streamlit ignores its url_path (but reserves it), so a link to
# /overview would say "Page not found". A hidden page at /overview lands on the Overview instead.
overview = st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", url_path="home",
                   default=True)


def overview_address() -> None:
    st.switch_page(overview, query_params=st.query_params.to_dict())


pages = {
    "Work": [
        overview,
        st.Page(overview_address, title="Overview", url_path="overview", visibility="hidden"),
        st.Page("views/queue.py", title="Queue", icon=":material/format_list_numbered:", url_path="queue"),
        st.Page("views/review.py", title="Review", icon=":material/fact_check:", url_path="review"),
    ],
    "Manage": [
        st.Page("views/insights.py", title="Insights", icon=":material/insights:", url_path="insights"),
        st.Page("views/import.py", title="Import", icon=":material/upload_file:", url_path="import"),
        st.Page("views/rules.py", title="Rules", icon=":material/rule:", url_path="rules"),
    ],
}
if actor is None or actor.role is Role.MANAGER:
    pages["Manage"].append(st.Page("views/users.py", title="Users", icon=":material/group:", url_path="users"))
# Without a session every page stays registered but hidden and none runs: only the sign-in form renders,
# and a deep link (/queue?bucket=fraud_risk) keeps its address, so it opens right after signing in.
nav = st.navigation(pages, position="sidebar" if actor else "hidden")
if actor is None:
    sign_in_form()
    st.stop()

with st.sidebar:
    st.caption(f"Database: {md_code(get_store().label)}")
    last = read(queries.last_import)
    if last:
        when = f"{last['finished_at']:%Y-%m-%d %H:%M} UTC" if last.get("finished_at") else "in progress"
        st.caption(f"Last import: {when} · {md_escape(last['file_name'])}")
    else:
        st.caption("Last import: none yet")
    account_sidebar(actor)

nav.run()
