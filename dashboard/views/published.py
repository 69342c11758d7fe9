"""Published: the Shorts on YouTube, with their link, privacy and when they went up."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from wagglebot.review.queries import published_page

PER_PAGE = 20
PAGE_KEY = "published-page"

st.title("Published")
st.caption("Shorts on YouTube, most recent first. Privacy is what YouTube answered.")
with ui.db() as session:
    videos, total = published_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
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
        if pub and (link := ui.web_url(pub.video_url or "")):
            body.caption(ui.md(link))
            action.link_button("Watch", link)
ui.pager(PAGE_KEY, total, PER_PAGE)
