import streamlit as st

from ui.common import cached_stats, data_stamp, now_minute

st.title("Overview")
stats = cached_stats(data_stamp(), now_minute())
cols = st.columns(5)
cols[0].metric("Open exceptions", f"{stats['open']:,}")
cols[1].metric("SLA breached", f"{stats['breached']:,}")
cols[2].metric("Oldest open", f"{(stats['oldest_open_hours'] or 0):.1f} h")
cols[3].metric("Exception rate", f"{stats['exception_rate']:.2f} %")
cols[4].metric("Resolved today", f"{stats['resolved_today']:,}")
