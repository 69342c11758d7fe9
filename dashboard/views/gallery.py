"""Gallery: the Shorts made so far, playable here, with the script they speak."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from wagglebot.dashboard_data import Video, gallery_page

import ui

PER_PAGE = 6
THUMB_WIDTH = 200  # a 9:16 still that leaves room for the next row on a laptop screen
PAGE_KEY = "gallery-page"


@st.fragment
def _player(video: Video) -> None:
    # A fragment per card: playing one video loads that file only, not the whole page.
    path = Path(video.video_path)
    if not path.is_file():
        st.error(f"The video file is missing: {video.video_path}")
        return
    if st.toggle("▶ Play", key=f"play-{video.id}"):
        st.video(str(path))
    elif video.thumbnail_path and Path(video.thumbnail_path).is_file():
        st.image(video.thumbnail_path, width=THUMB_WIDTH)


def _card(video: Video) -> None:
    with st.container(border=True):
        st.markdown(f"**{ui.md(video.title)}**")
        seconds = f"{video.video_seconds:.1f} s" if video.video_seconds else "?"
        reviewed = (
            f" · script {'edited' if video.script_edited else 'approved'} by "
            f"{ui.md(video.script_reviewed_by)}"
            if video.script_reviewed_by
            else ""
        )
        st.caption(
            f"{ui.md(video.site_code)} · #{video.id} · {video.status.title()} · {seconds} · "
            f"made {ui.local(video.made_at)}{reviewed}"
        )
        _player(video)
        with st.expander("Script"):
            st.text(video.script)
            st.caption(
                f"Written by {ui.md(video.script_engine or '?')} · file {ui.md(video.video_path)}"
            )
        if link := ui.web_url(video.url):
            st.link_button("Original post", link)


st.title("Gallery")
st.caption("Rendered Shorts, newest first. Uploading to YouTube comes with the upload feature.")
with ui.db() as session:
    videos, total = gallery_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
if not videos:
    st.info("No Short has been made yet.")
for row in range(0, len(videos), 3):
    for column, video in zip(st.columns(3), videos[row : row + 3], strict=False):
        with column:
            _card(video)
ui.pager(PAGE_KEY, total, PER_PAGE)
