"""Inbox: collected posts waiting for a person's yes or no."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import ui
from wagglebot.review.decisions import approve, decline
from wagglebot.review.queries import InboxFilter, PostCard, full_text, inbox_page, inbox_sites

PER_PAGE = 20
PAGE_KEY = "inbox-page"
SORT_LABELS = {
    "newest": "Newest",
    "score": "Score (normalised per site)",
    "likes": "Most liked",
    "views": "Most viewed",
}
IMAGE_LABELS = {
    "any": "Any",
    "with": "With images",
    "without": "Without images",
    "video": "With a video",
}


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _filters(sites: list[str]) -> InboxFilter:
    cols = st.columns([2, 1.2, 2, 2, 1.6])
    chosen = cols[0].multiselect("Sites", sites, key="f-sites", on_change=_first_page)
    images = cols[1].selectbox(
        "Media",
        list(IMAGE_LABELS),
        format_func=IMAGE_LABELS.get,
        key="f-images",
        on_change=_first_page,
    )
    text = cols[2].text_input(
        "Search title and text", key="f-text", on_change=_first_page, max_chars=100
    )
    dates = cols[3].date_input(
        "Posted between", value=(), key="f-dates", on_change=_first_page, format="YYYY-MM-DD"
    )
    sort = cols[4].selectbox(
        "Sort",
        list(SORT_LABELS),
        format_func=SORT_LABELS.get,
        key="f-sort",
        on_change=_first_page,
    )
    since = dates[0] if len(dates) > 0 else None
    until = dates[1] if len(dates) > 1 else since
    return InboxFilter(
        tuple(chosen), images, text, since, until, sort, timezone=ui.settings().timezone
    )


def _picked(cards: list[PostCard]) -> list[int]:
    return [c.id for c in cards if st.session_state.get(f"pick-{c.id}")]


def _set_picks(ids: list[int], value: bool) -> None:
    for post_id in ids:
        st.session_state[f"pick-{post_id}"] = value


def _act(post_ids: list[int], verb: str) -> None:
    if verb == "approved":
        sweep = "{n} post(s) approved by {user} in the dashboard"
        ui.decide(approve, post_ids, verb, picks="pick", sweep=sweep)
    else:
        ui.decide(decline, post_ids, verb, picks="pick")
    st.session_state["inbox-acted"] = True  # the list's next run becomes a whole-page run


def _whole_text(post_id: int, chars: int) -> None:
    if st.toggle(f"Show all {chars:,} characters", key=f"whole-{post_id}"):
        with ui.db() as session:
            st.text(full_text(session, post_id))


def _card(card: PostCard) -> None:
    with st.container(border=True):
        pick, body, actions = st.columns([0.35, 8, 2.2], vertical_alignment="top")
        pick.checkbox(f"Select post {card.id}", key=f"pick-{card.id}", label_visibility="collapsed")
        body.markdown(f"**{ui.md(card.title)}**")
        score = "-" if card.score is None else f"{card.score:+.2f}"
        body.caption(
            f"{ui.md(card.site_code)} · {ui.local(card.dated_at)} · views {ui.count(card.views)}"
            f" · likes {ui.count(card.likes)} · comments {ui.count(card.comment_count)}"
            f" · score {score} · {_media(card)} · #{card.id}"
        )
        if card.youtube_only:
            body.warning(
                "Only a YouTube video: the Short cannot show it, so it would be narrated "
                "over its title card alone.",
                icon=":material/smart_display:",
            )
        a, d = actions.columns(2)
        a.button(
            "Approve",
            key=f"approve-{card.id}",
            type="primary",
            on_click=_act,
            args=([card.id], "approved"),
        )
        d.button("Decline", key=f"decline-{card.id}", on_click=_act, args=([card.id], "declined"))
        # Lazy: the preview's text and pictures are read only while it is open.
        preview = body.expander("Preview", key=f"preview-{card.id}", on_change="rerun")
        if preview.open:
            with preview:
                _preview(card)


def _media(card: PostCard) -> str:
    shown = [f"{len(card.images)} image(s)"]
    if files := card.video_files:
        shown.append(f"{len(files)} video(s)")
    if youtube := card.youtube_videos:
        shown.append(f"{len(youtube)} YouTube video(s)")
    return " · ".join(shown)


def _videos(where: DeltaGenerator, card: PostCard) -> None:
    """Each video's poster, fetched like the pictures; YouTube players as links."""
    for video in card.video_files:
        if poster := video.get("poster"):
            where.caption(":material/movie: A video; the Short shows its first seconds:")
            ui.pictures(where, card.site_code, [poster], card.url)
        elif video["kind"] == "player":
            where.caption(":material/movie: A video in the site's player; the Short plays it")
            if link := ui.web_url(video["url"]):
                where.link_button("Open the video", link)
        else:
            where.caption(":material/movie: A video with no poster; the Short shows its start")
    for url in card.youtube_videos:
        where.caption(":material/smart_display: A YouTube video (the Short cannot show it)")
        if link := ui.web_url(url):
            where.link_button("Watch on YouTube", link)


def _preview(card: PostCard) -> None:
    text_col, media_col = st.columns([3, 2])
    text_col.text(card.preview or "(no text: a picture or video post)")
    if card.content_chars > len(card.preview):
        with text_col:
            _whole_text(card.id, card.content_chars)
    if card.comments:
        best = card.comments[0]
        likes = f" ({best.likes:,} likes)" if best.likes is not None else ""
        text_col.caption(f"Best comment{likes}, by {ui.md(best.author or 'someone')}:")
        text_col.text(best.content)
    _videos(media_col, card)
    ui.pictures(media_col, card.site_code, card.images[:4], card.url)
    if link := ui.web_url(card.url):
        media_col.link_button("Open the original", link)


st.title("Inbox")
st.caption("Collected posts waiting for review. Approved posts are made into Shorts by Airflow.")
st.session_state.pop("inbox-acted", None)  # this whole-page run shows what the action did
ui.show_flashes()
with ui.db() as session:
    flt = _filters(inbox_sites(session))
    cards, total = inbox_page(session, flt, ui.page_of(PAGE_KEY), PER_PAGE)


@st.fragment
def post_list() -> None:
    # A fragment: ticking boxes reruns this list, not the filters and counts above it.
    if st.session_state.get("inbox-acted"):
        st.rerun(scope="app")  # posts left the inbox: the counts and pages change
    if not cards:
        st.info("Nothing waiting here." if total == 0 else "No post on this page.")
        return
    ids = [c.id for c in cards]
    picked = _picked(cards)
    bar = st.columns([1.3, 1, 1.6, 1.6, 3], vertical_alignment="center")
    bar[0].button("Select page", on_click=_set_picks, args=(ids, True))
    bar[1].button("Clear", on_click=_set_picks, args=(ids, False), disabled=not picked)
    bar[2].button(
        f"Approve selected ({len(picked)})",
        type="primary",
        disabled=not picked,
        on_click=_act,
        args=(picked, "approved"),
    )
    bar[3].button(
        f"Decline selected ({len(picked)})",
        disabled=not picked,
        on_click=_act,
        args=(picked, "declined"),
    )
    bar[4].caption(f"{total:,} post(s) match · sorted by {SORT_LABELS[flt.sort].lower()}")
    for card in cards:
        _card(card)
    ui.pager(PAGE_KEY, total, PER_PAGE)


post_list()
