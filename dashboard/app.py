"""WaggleBot's review dashboard: the person in the loop works here.

Run by the stack (`./wagglebot up`) as its own Streamlit server. It reads and
writes the app database through the domain package and starts pipeline work
only by asking Airflow for a run; nothing heavy runs inside Streamlit.
"""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from wagglebot.core.db.queries import status_counts
from wagglebot.core.statuses import PostStatus

st.set_page_config(page_title="WaggleBot review", page_icon=":material/hive:", layout="wide")

user = ui.current_user()
if user is None:
    ui.login_form()
    st.stop()

with ui.db() as session:
    counts = status_counts(session)
S = PostStatus
in_work = counts[S.APPROVED] + counts[S.PROCESSING] + counts[S.PUBLISHING]
made = counts[S.RENDERED] + counts[S.PUBLISHING] + counts[S.UPLOADED]
pages = [
    st.Page(
        "views/inbox.py",
        title=f"Inbox ({counts[S.COLLECTED]:,})",
        icon=":material/inbox:",
        default=True,
    ),
    st.Page(
        "views/scripts.py", title=f"Scripts ({counts[S.SCRIPTED]:,})", icon=":material/edit_note:"
    ),
    st.Page(
        "views/progress.py",
        title=f"Progress ({in_work:,} in work, {counts[S.FAILED]:,} failed)",
        icon=":material/pending_actions:",
    ),
    st.Page("views/gallery.py", title=f"Gallery ({made:,})", icon=":material/movie:"),
    st.Page(
        "views/published.py",
        title=f"Published ({counts[S.UPLOADED]:,})",
        icon=":material/smart_display:",
    ),
    st.Page("views/analytics.py", title="Analytics", icon=":material/insights:"),
    st.Page(
        "views/health.py",
        title=f"Health ({ui.health_summary(ui.health_checks())})",
        icon=":material/monitor_heart:",
    ),
]
page = st.navigation(pages)
with st.sidebar:
    st.caption(f"Signed in as **{ui.md(user)}**")
    st.button("Log out", on_click=ui.log_out)
ui.service_banner()
ui.health_banner()
page.run()
