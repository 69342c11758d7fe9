"""Published: the Shorts on YouTube, with their link, privacy, when they went up, and their
views and retention as last read back (collect_stats)."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from wagglebot.analytics.history import published_shorts
from wagglebot.review.queries import published_page

PER_PAGE = 20
PAGE_KEY = "published-page"

st.title("Published")
st.caption("Shorts on YouTube, most recent first. Privacy is what YouTube answered.")
with ui.db() as session:
    videos, total = published_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
    figures = {s.post_id: s for s in published_shorts(session, [v.id for v in videos])}
if not videos:
    st.info("Nothing has been published yet. Publish Shorts from the Gallery.")
for video in videos:
    pub = video.publication
    with st.container(border=True):
        body, action = st.columns([6, 1.4], vertical_alignment="center")
        body.markdown(f"**{ui.md(video.title)}**")
        asked = f" · asked by {ui.md(pub.requested_by)}" if pub and pub.requested_by else ""
        body.caption(
            f"{ui.md(video.site_code)} · #{video.id} · {ui.md((pub and pub.privacy) or '?')} · "
            f"published {ui.local(pub and pub.uploaded_at)}{asked}"
        )
        if shown := figures.get(video.id):
            retention = "-" if shown.retention is None else f"{shown.retention:.0f} %"
            body.caption(
                f"**{ui.count(shown.views)}** views · {ui.count(shown.likes)} likes · "
                f"average view {retention} · first 24 h: {ui.count(shown.views_24h)}"
            )
        if pub and (link := ui.web_url(pub.video_url or "")):
            body.caption(ui.md(link))
            action.link_button("Watch", link)
ui.pager(PAGE_KEY, total, PER_PAGE)
