"""exq dashboard entry point: navigation, sign-in gate and the shared sidebar."""
import streamlit as st

from exq_core.models import Actor, Role
from ui.common import db_path, get_store

st.set_page_config(page_title="exq — exception queue", page_icon="🧭", layout="wide")

# Sign-in lands in its own issue; until then everyone is the local demo manager.
if "actor" not in st.session_state:
    st.session_state["actor"] = Actor(username="demo", role=Role.MANAGER)

pages = {
    "Work": [
        st.Page("pages/overview.py", title="Overview", icon="📊", url_path="overview", default=True),
        st.Page("pages/queue.py", title="Queue", icon="📋", url_path="queue"),
        st.Page("pages/review.py", title="Review", icon="🔎", url_path="review"),
    ],
    "Manage": [
        st.Page("pages/insights.py", title="Insights", icon="📈", url_path="insights"),
        st.Page("pages/import.py", title="Import", icon="📥", url_path="import"),
        st.Page("pages/rules.py", title="Rules", icon="⚙️", url_path="rules"),
    ],
}
nav = st.navigation(pages)

with st.sidebar:
    store = get_store()
    st.caption(f"Database: `{db_path()}`")
    actor = st.session_state["actor"]
    st.caption(f"Signed in as **{actor.username}** ({actor.role})")

nav.run()
