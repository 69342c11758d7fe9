"""Gallery: the Shorts made so far, playable here, and published from here to YouTube,
TikTok and Instagram (the platforms ticked at the top), each card saying how far its Short
got on each platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import ui
from wagglebot.core.post_files import media_path
from wagglebot.core.states import TransitionError
from wagglebot.core.statuses import UploadState
from wagglebot.crawl.sites import all_sites
from wagglebot.publish.metadata import PRIVACIES, InvalidMetadata, clean_title, describe
from wagglebot.publish.platforms import PLATFORMS, endpoint, platform_off
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
SELF_ONLY = (
    "TikTok: an app TikTok has not audited can post only as SELF_ONLY (visible to the "
    "account owner only), so these Shorts go up on TikTok where only the account sees "
    "them. After TikTok's audit, set WAGGLE_TIKTOK_PRIVACY (e.g. PUBLIC_TO_EVERYONE)."
)
# On a platform already, or on its way: asking for it again is refused (AlreadyThere).
TAKEN = (UploadState.UPLOADING, UploadState.PUBLISHED)


@dataclass(frozen=True)
class Target:
    """A platform as this install can publish to it now."""

    platform: str
    off: str | None  # why it cannot (no credentials, and the command that connects it)
    sample: bool  # the stack's loopback fake (sample mode), not the platform itself

    @property
    def name(self) -> str:
        return ui.platform_name(self.platform)

    @property
    def label(self) -> str:
        if self.off:
            return f"{self.name} (off)"
        return f"{self.name} (loopback fake, sample mode)" if self.sample else self.name


def _targets() -> dict[str, Target]:
    settings = ui.settings()
    return {
        p: Target(p, platform_off(settings, p), endpoint(settings, p).sample) for p in PLATFORMS
    }


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


def _request(
    asked: dict[int, list[str]], user: str, metadata: dict[str, object]
) -> tuple[list[int], list[TransitionError]]:
    """Ask for each post on its platforms: one request_publish per set of platforms (a call
    asks for all its posts on the same ones)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for pid, platforms in asked.items():
        groups.setdefault(tuple(platforms), []).append(pid)
    moved: list[int] = []
    refused: list[TransitionError] = []
    with ui.db() as session:
        for platforms, post_ids in groups.items():
            done, said = request_publish(
                session, post_ids, by=user, platforms=platforms, **metadata
            )
            moved += done
            refused += said
    return moved, refused


def _publish(asked: dict[int, list[str]], **metadata: object) -> None:
    """A person asks for these Shorts to be published, each on its platforms (with their
    edits), then Airflow for one run of them all (each platform's task takes only the
    posts waiting there)."""
    user = ui.current_user()
    asked = {pid: platforms for pid, platforms in asked.items() if platforms}
    if not asked or user is None:
        return
    try:
        moved, refused = _request(asked, user, metadata)
    except InvalidMetadata as exc:
        ui.flash("error", f"Not published: {exc}.")
        return
    for post_id in asked:
        st.session_state.pop(f"pub-pick-{post_id}", None)
    ui.report_refusals(refused, "published")
    if moved:
        wanted = {p for pid in moved for p in asked[pid]}
        platforms = [p for p in PLATFORMS if p in wanted]
        names = ", ".join(map(ui.platform_name, platforms))
        ids = ", ".join(map(str, moved))
        ui.flash("success", f"Publishing {len(moved)} Short(s) to {names}: {ids}.")
        note = f"{len(moved)} Short(s) published to {names} by {user} in the dashboard"
        ui.ask_to_publish(moved, note, platforms)


def _open(video: Video, chosen: list[str]) -> list[str]:
    """The chosen platforms this Short can be asked for on: not there, nor on its way."""
    return [p for p in chosen if video.state(p) not in TAKEN]


def _publish_form(video: Video, platforms: list[str]) -> None:
    site = all_sites().get(video.site_code)
    key = f"pub-{video.id}"
    names = ", ".join(map(ui.platform_name, platforms))
    with (
        st.popover(
            f"Publish to {names}…" if platforms else "Publish…",
            disabled=not platforms,
            help=None if platforms else "On every platform ticked above already, or on its way.",
            width="stretch",
        ),
        st.form(key, border=False),
    ):
        title = st.text_input("Title", clean_title(video.title), max_chars=100)
        description = st.text_area(
            "Description",
            describe(video.script, site.name if site else video.site_code, video.url),
            height=180,
        )
        privacy = st.selectbox(
            "Privacy (YouTube)", PRIVACIES, index=PRIVACIES.index(ui.settings().youtube_privacy)
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
                {video.id: platforms},
                title=title,
                description=description,
                privacy=privacy,
                publish_at=when,
            )
            st.rerun()


def _platform_states(video: Video, targets: dict[str, Target]) -> None:
    """How far the Short got on each platform it was asked for on."""
    for upload in video.platforms.values():
        target = targets.get(upload.platform)
        line = ui.upload_line(upload, target.off if target else None)
        if upload.state is UploadState.UPLOADING:
            st.progress(ui.upload_fraction(upload.bytes_sent, upload.total_bytes), text=line)
        else:
            st.caption(line)
        if upload.state is UploadState.PUBLISHED and (link := ui.web_url(upload.video_url or "")):
            st.link_button(f"Watch on {ui.platform_name(upload.platform)}", link)


def _publication(video: Video, targets: dict[str, Target], chosen: list[str]) -> None:
    _platform_states(video, targets)
    platforms = _open(video, chosen)
    pick, form = st.columns([1, 3], vertical_alignment="center")
    pick.checkbox("Select", key=f"pub-pick-{video.id}", disabled=not platforms)
    with form:
        _publish_form(video, platforms)


def _card(video: Video, targets: dict[str, Target], chosen: list[str]) -> None:
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
        _publication(video, targets, chosen)
        if link := ui.web_url(video.url):
            st.link_button("Original post", link)


def _allowance(target: Target) -> str:
    """Today's allowance on an on platform, as the platform counts its days."""
    with ui.db() as session:
        day = today(session, ui.settings(), target.platform)
    zone = "Pacific time" if target.platform == "youtube" else "UTC"
    units = f", {day.units:,} of {day.unit_limit:,} units" if day.unit_limit else ""
    spent = f"; {target.name} said: {ui.md(day.exhausted)}" if day.exhausted else ""
    where = f"Sample mode: nothing reaches {target.name}. " if target.sample else ""
    return (
        f"{where}Today ({zone}, {day.day}): {day.uploads} of {day.upload_limit} "
        f"uploads{units} used; {day.uploads_left} upload(s) left{spent}."
    )


def _choose(targets: dict[str, Target]) -> list[str]:
    """The platforms ticked (default: WAGGLE_PUBLISH_PLATFORMS); an off one cannot be."""
    default = ui.settings().publish_platforms
    st.markdown("**Publish to**")
    for column, target in zip(st.columns(len(targets)), targets.values(), strict=True):
        with column:
            st.checkbox(
                target.label,
                key=f"pub-to-{target.platform}",
                value=target.platform in default and not target.off,
                disabled=target.off is not None,
            )
            if target.off:
                st.caption(f":material/block: {ui.md(target.off[:1].upper() + target.off[1:])}")
            else:
                st.caption(_allowance(target))
    # An off platform is never asked for, whatever its box says (it may have turned off
    # since it was ticked).
    chosen = [p for p, t in targets.items() if not t.off and st.session_state.get(f"pub-to-{p}")]
    if all(t.off for t in targets.values()):
        st.warning("Publishing is off on every platform: connect one (each says how above).")
    elif "tiktok" in chosen and ui.settings().tiktok_privacy == "SELF_ONLY":
        st.info(SELF_ONLY, icon=":material/visibility_off:")
    return chosen


st.title("Gallery")
st.caption(
    "Rendered Shorts, newest first. Tick the platforms, then publish one (title and "
    "description editable) or many."
)
ui.show_flashes()
targets = _targets()
chosen = _choose(targets)
with ui.db() as session:
    videos, total = gallery_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
if not videos:
    st.info("No Short has been made yet.")
openings = {v.id: _open(v, chosen) for v in videos}
picked = {
    v.id: openings[v.id]
    for v in videos
    if openings[v.id] and st.session_state.get(f"pub-pick-{v.id}")
}
if any(openings.values()):
    st.button(
        f"Publish selected ({len(picked)})",
        type="primary",
        disabled=not picked,
        on_click=_publish,
        args=(picked,),
    )
for row in range(0, len(videos), 3):
    for column, video in zip(st.columns(3), videos[row : row + 3], strict=False):
        with column:
            _card(video, targets, chosen)
ui.pager(PAGE_KEY, total, PER_PAGE)
