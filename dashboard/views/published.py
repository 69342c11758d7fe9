"""Published: the Shorts on at least one platform, with every platform's link and state
(published on one, failed or waiting on another), and their YouTube views and retention as
last read back (collect_stats)."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import ui
from wagglebot.analytics.history import PublishedShort, published_shorts
from wagglebot.core.statuses import UploadState
from wagglebot.review.queries import Video, published_page

PER_PAGE = 20
PAGE_KEY = "published-page"


def _figures(body: DeltaGenerator, shown: PublishedShort) -> None:
    retention = "-" if shown.retention is None else f"{shown.retention:.0f} %"
    body.caption(
        f"YouTube: **{ui.count(shown.views)}** views · {ui.count(shown.likes)} likes · "
        f"average view {retention} · first 24 h: {ui.count(shown.views_24h)}"
    )


def _video(video: Video, shown: PublishedShort | None) -> None:
    with st.container(border=True):
        body, action = st.columns([6, 1.4], vertical_alignment="center")
        body.markdown(f"**{ui.md(video.title)}**")
        body.caption(f"{ui.md(video.site_code)} · #{video.id}")
        for upload in video.platforms.values():
            body.caption(ui.upload_line(upload))
            published = upload.state is UploadState.PUBLISHED
            if published and (link := ui.web_url(upload.video_url or "")):
                action.link_button(f"Watch on {ui.platform_name(upload.platform)}", link)
        if shown:
            _figures(body, shown)


st.title("Published")
st.caption(
    "Shorts on at least one platform, most recent first, with every platform they were "
    "asked for on. Privacy is what each platform answered."
)
with ui.db() as session:
    videos, total = published_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
    figures = {s.post_id: s for s in published_shorts(session, [v.id for v in videos])}
if not videos:
    st.info("Nothing has been published yet. Publish Shorts from the Gallery.")
for video in videos:
    _video(video, figures.get(video.id))
ui.pager(PAGE_KEY, total, PER_PAGE)
