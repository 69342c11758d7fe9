"""Gallery: the Shorts made so far, playable here, and published from here to YouTube."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import ui
from wagglebot.core.post_files import media_path
from wagglebot.core.statuses import PostStatus
from wagglebot.crawl.sites import all_sites
from wagglebot.publish.credentials import publishing_off, youtube_endpoint
from wagglebot.publish.metadata import PRIVACIES, InvalidMetadata, clean_title, describe
from wagglebot.publish.quota import today
from wagglebot.publish.store import request_publish
from wagglebot.review.queries import Video, gallery_page

PER_PAGE = 6
THUMB_WIDTH = 200  # a 9:16 still that leaves room for the next row on a laptop screen
PAGE_KEY = "gallery-page"
UNAUDITED = (
    "Google may keep videos uploaded through an API project it has not audited private, "
    "whatever is chosen here; YouTube Studio shows what it did."
)


@st.fragment
def _player(video: Video) -> None:
    # A fragment per card: playing one video loads that file only, not the whole page.
    settings = ui.settings()
    path = media_path(settings, video.video_path)
    if not path.is_file():
        st.error(f"The video file is missing: {path}")
        return
    thumb = media_path(settings, video.thumbnail_path) if video.thumbnail_path else None
    if st.toggle("▶ Play", key=f"play-{video.id}"):
        st.video(str(path))
    elif thumb and thumb.is_file():
        st.image(str(thumb), width=THUMB_WIDTH)


def _publish(post_ids: list[int], **metadata: object) -> None:
    """A person asks for these Shorts to be published (with their edits), then Airflow."""
    user = ui.current_user()
    if not post_ids or user is None:
        return
    try:
        with ui.db() as session:
            moved, refused = request_publish(session, post_ids, by=user, **metadata)
    except InvalidMetadata as exc:
        ui.flash("error", f"Not published: {exc}.")
        return
    for post_id in post_ids:
        st.session_state.pop(f"pub-pick-{post_id}", None)
    ui.report_refusals(refused, "published")
    if moved:
        ui.flash("success", f"Publishing {len(moved)} Short(s): {', '.join(map(str, moved))}.")
        ui.ask_to_publish(moved, f"{len(moved)} Short(s) published by {user} in the dashboard")


def _publish_form(video: Video, off: str | None) -> None:
    site = all_sites().get(video.site_code)
    key = f"pub-{video.id}"
    with (
        st.popover("Publish…", disabled=off is not None, width="stretch"),
        st.form(key, border=False),
    ):
        title = st.text_input("Title", clean_title(video.title), max_chars=100)
        description = st.text_area(
            "Description",
            describe(video.script, site.name if site else video.site_code, video.url),
            height=180,
        )
        privacy = st.selectbox(
            "Privacy", PRIVACIES, index=PRIVACIES.index(ui.settings().youtube_privacy)
        )
        later = st.checkbox("Schedule the release (needs private)")
        day = st.date_input("Release day", datetime.now(UTC).date() + timedelta(days=1))
        hour = st.time_input("Release time", time(18, 0), step=timedelta(minutes=30))
        st.caption(UNAUDITED)
        if st.form_submit_button("Publish", type="primary"):
            when = (
                datetime.combine(day, hour, tzinfo=ZoneInfo(ui.settings().timezone))
                if later
                else None
            )
            _publish(
                [video.id],
                title=title,
                description=description,
                privacy=privacy,
                publish_at=when,
            )
            st.rerun()


def _publication(video: Video, off: str | None) -> None:
    pub = video.publication
    if video.status is PostStatus.UPLOADED and pub and pub.video_url:
        st.caption(
            f"On YouTube · {ui.md(pub.privacy or '?')} · published {ui.local(pub.uploaded_at)}"
        )
        if link := ui.web_url(pub.video_url):
            st.link_button("Watch on YouTube", link)
        return
    if video.status is PostStatus.PUBLISHING and pub:
        total = pub.total_bytes or 0
        st.progress(
            pub.bytes_sent / total if total else 0.0,
            text=f"Uploading: {pub.bytes_sent / 2**20:.1f} of {total / 2**20:.1f} MiB",
        )
        return
    if pub and pub.requested_at:
        note = f": {pub.note}" if pub.note else ""
        st.caption(f"Waiting to be published (asked {ui.ago(pub.requested_at)}){ui.md(note)}")
    pick, form = st.columns([1, 3], vertical_alignment="center")
    pick.checkbox("Select", key=f"pub-pick-{video.id}", disabled=off is not None)
    with form:
        _publish_form(video, off)


def _card(video: Video, off: str | None) -> None:
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
        _publication(video, off)
        if link := ui.web_url(video.url):
            st.link_button("Original post", link)


def _quota_line(off: str | None) -> None:
    settings = ui.settings()
    if off:
        st.warning(f"Publishing is off. {off[0].upper()}{off[1:]}")
        return
    with ui.db() as session:
        day = today(session, settings)
    where = (
        "the loopback fake YouTube (sample mode: nothing reaches YouTube)"
        if youtube_endpoint(settings).sample
        else "YouTube"
    )
    spent = f"; YouTube said: {day.exhausted}" if day.exhausted else ""
    st.caption(
        f"Publishing to {where}. Today (Pacific time, {day.day}): {day.uploads} of "
        f"{day.upload_limit} uploads, {day.units:,} of {day.unit_limit:,} units used; "
        f"{day.uploads_left} upload(s) left{ui.md(spent)}."
    )


st.title("Gallery")
st.caption("Rendered Shorts, newest first. Publish one (title and description editable) or many.")
ui.show_flashes()
off = publishing_off(ui.settings())
_quota_line(off)
with ui.db() as session:
    videos, total = gallery_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
if not videos:
    st.info("No Short has been made yet.")
picked = [v.id for v in videos if st.session_state.get(f"pub-pick-{v.id}")]
if any(v.status is PostStatus.RENDERED for v in videos):
    st.button(
        f"Publish selected ({len(picked)})",
        type="primary",
        disabled=not picked or off is not None,
        on_click=_publish,
        args=(picked,),
    )
for row in range(0, len(videos), 3):
    for column, video in zip(st.columns(3), videos[row : row + 3], strict=False):
        with column:
            _card(video, off)
ui.pager(PAGE_KEY, total, PER_PAGE)
