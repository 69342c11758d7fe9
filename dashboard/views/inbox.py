"""Inbox: collected posts waiting for a person's yes or no, one card per story.

A story reposted on several communities is one card: its main post leads, the others are
"also on" with their links. Approve makes one Short (of the main post, or the member the
reviewer picks); Decline declines every waiting member. Stories a member already took
(published, being made, declined) keep their later reposts out of the Inbox; the Stories
filter shows them.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import ui
from wagglebot.core.states import TransitionError
from wagglebot.core.statuses import PostStatus
from wagglebot.review.queries import (
    InboxFilter,
    PostCard,
    StoryCard,
    full_text,
    inbox_page,
    inbox_sites,
)
from wagglebot.review.stories import (
    approve_story,
    decline_story,
    merge_stories,
    split_out,
)

PER_PAGE = 20
PAGE_KEY = "inbox-page"
SORT_LABELS = {
    "popularity": "Popularity (the story, on every site)",
    "expected": "Expected views (this channel's history)",
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
STANDING_LABELS = {
    "waiting": "Waiting for review",
    "published": "Already published",
    "in_production": "Already being made",
    "declined": "Declined before",
}


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _choice(where: DeltaGenerator, label: str, labels: dict, key: str, **more) -> str:
    return where.selectbox(
        label, list(labels), format_func=labels.get, key=key, on_change=_first_page, **more
    )


def _filters(sites: list[str]) -> InboxFilter:
    cols = st.columns([2, 1.2, 1.8, 1.8, 1.6, 1.6])
    chosen = cols[0].multiselect("Sites", sites, key="f-sites", on_change=_first_page)
    images = _choice(cols[1], "Media", IMAGE_LABELS, "f-images")
    text = cols[2].text_input(
        "Search title and text", key="f-text", on_change=_first_page, max_chars=100
    )
    dates = cols[3].date_input(
        "Posted between", value=(), key="f-dates", on_change=_first_page, format="YYYY-MM-DD"
    )
    sort = _choice(cols[4], "Sort", SORT_LABELS, "f-sort")
    standing = _choice(
        cols[5],
        "Stories",
        STANDING_LABELS,
        "f-standing",
        help="A story a member already took keeps its later reposts out of the Inbox.",
    )
    since = dates[0] if len(dates) > 0 else None
    until = dates[1] if len(dates) > 1 else since
    return InboxFilter(
        tuple(chosen),
        images,
        text,
        since,
        until,
        sort,
        timezone=ui.settings().timezone,
        standing=standing,
    )


def _picked(cards: list[StoryCard]) -> list[StoryCard]:
    return [c for c in cards if st.session_state.get(f"pick-{c.id}")]


def _set_picks(ids: list[int], value: bool) -> None:
    for post_id in ids:
        st.session_state[f"pick-{post_id}"] = value


def _chosen(card: StoryCard) -> int:
    """The member a Short is made from: the reviewer's pick, else the main post."""
    return int(st.session_state.get(f"member-{card.id}") or card.id)


def _act(cards: list[StoryCard], verb: str) -> None:
    for card in cards:
        st.session_state.pop(f"pick-{card.id}", None)
    if verb == "approved":
        sweep = "{n} post(s) approved by {user} in the dashboard"
        ui.decide(approve_story, [_chosen(c) for c in cards], verb, sweep=sweep)
    else:
        ui.decide(decline_story, [c.id for c in cards], verb)
    st.session_state["inbox-acted"] = True  # the list's next run becomes a whole-page run


def _edit_story(edit, done: str) -> None:
    """A split or merge by the person logged in; what came of it is flashed."""
    user = ui.current_user()
    if user is None:
        return
    try:
        with ui.db() as session:
            edit(session, user)
    except (ValueError, TransitionError) as exc:  # StoryEditRefused, PostNotFound
        ui.flash("warning", str(exc))
        return
    ui.flash("success", done)
    st.session_state["inbox-acted"] = True


def _split(post_id: int) -> None:
    _edit_story(
        lambda session, user: split_out(session, ui.settings(), post_id, by=user),
        f"Post {post_id} is a story of its own now; later crawls keep it apart.",
    )


def _merge(card: StoryCard) -> None:
    other = st.session_state.get(f"merge-{card.id}")
    if not other:
        return
    _edit_story(
        lambda session, user: merge_stories(session, ui.settings(), card.id, int(other), by=user),
        f"Post {other}'s story is now part of post {card.id}'s story.",
    )


def _whole_text(post_id: int, chars: int) -> None:
    if st.toggle(f"Show all {chars:,} characters", key=f"whole-{post_id}"):
        with ui.db() as session:
            st.text(full_text(session, post_id))


def _popularity(post: PostCard) -> str:
    if post.likes is not None:
        return f"추천 {post.likes:,}"
    if post.views is not None:
        return f"조회 {post.views:,}"
    return "no counts"


def _member(post: PostCard) -> str:
    """A member as a link: "theqoo (추천 1,234)", and how it stands if not waiting."""
    state = "" if post.status is PostStatus.COLLECTED else f", {post.status.lower()}"
    return ui.md_link(f"{post.site_code} ({_popularity(post)}{state})", post.url)


def _taken(body: DeltaGenerator, card: StoryCard) -> None:
    """Why this story is out of the Inbox, with the member that took it."""
    taken = card.taken_by
    if taken is None:
        return
    if card.standing == "published":
        where = ui.md_link(taken.video_url, taken.video_url) if taken.video_url else "uploading"
        body.info(
            f"Already published: {where} (post {taken.id}, {ui.md(taken.site_code)}). "
            "Its reposts are never made again.",
            icon=":material/block:",
        )
    elif card.standing == "in_production":
        body.info(
            f"Already being made from post {taken.id} ({ui.md(taken.site_code)}, "
            f"{taken.status.lower()}).",
            icon=":material/movie_edit:",
        )
    else:
        body.info(
            f"Declined before (post {taken.id}, {ui.md(taken.site_code)}).",
            icon=":material/do_not_disturb_on:",
        )


def _card(card: StoryCard) -> None:
    main = card.main
    with st.container(border=True, key=f"story-{card.id}"):
        pick, body, actions = st.columns([0.35, 8, 2.2], vertical_alignment="top")
        pick.checkbox(f"Select post {card.id}", key=f"pick-{card.id}", label_visibility="collapsed")
        body.markdown(f"**{ui.md(main.title)}**")
        score = "-" if main.score is None else f"{main.score:+.2f}"
        body.caption(
            f"{ui.md(main.site_code)} · {ui.local(main.dated_at)} · views {ui.count(main.views)}"
            f" · likes {ui.count(main.likes)} · comments {ui.count(main.comment_count)}"
            f" · score {score} · {_media(main)} · #{main.id}"
        )
        if main.expected_views is not None:
            body.caption(f":material/insights: expected {main.expected_views:,.0f} views in 24 h")
        if card.others:
            popularity = "-" if card.popularity is None else f"{card.popularity:+.2f}"
            body.markdown(
                f":material/hub: **One story on {len(card.sites)} communities** · "
                f"popularity {popularity} · also on: " + ", ".join(_member(m) for m in card.others)
            )
        _taken(body, card)
        if main.youtube_only:
            body.warning(
                "Only a YouTube video: the Short cannot show it, so it would be narrated "
                "over its title card alone.",
                icon=":material/smart_display:",
            )
        waiting = card.waiting
        if card.standing == "waiting" and len(waiting) > 1:
            body.selectbox(
                "Make the Short from",
                [m.id for m in waiting],
                format_func=lambda pid: _label(card, pid),
                key=f"member-{card.id}",
            )
        a, d = actions.columns(2)
        a.button(
            "Approve",
            key=f"approve-{card.id}",
            type="primary",
            on_click=_act,
            args=([card], "approved"),
            disabled=card.standing != "waiting",
        )
        d.button(
            "Decline",
            key=f"decline-{card.id}",
            on_click=_act,
            args=([card], "declined"),
            help="Declines every waiting post of the story." if card.others else None,
        )
        # Lazy: the preview's text and pictures are read only while it is open.
        preview = body.expander("Preview", key=f"preview-{card.id}", on_change="rerun")
        if preview.open:
            with preview:
                _preview(main)
        tools = body.expander("Story: split or merge", key=f"tools-{card.id}", on_change="rerun")
        if tools.open:
            with tools:
                _story_tools(card)


def _label(card: StoryCard, post_id: int) -> str:
    post = next(m for m in card.members if m.id == post_id)
    main = " (main post)" if post_id == card.id else ""
    return f"{post.site_code} #{post.id}{main}: {post.title[:60]}"


def _story_tools(card: StoryCard) -> None:
    for member in card.members if len(card.members) > 1 else ():
        left, right = st.columns([6, 2], vertical_alignment="center")
        left.markdown(f"{_member(member)} #{member.id}: {ui.md(member.title[:80])}")
        right.button(
            "Split out",
            key=f"split-{member.id}",
            on_click=_split,
            args=(member.id,),
            help="Not this story: it becomes a story of its own, and later crawls keep it apart.",
        )
    left, right = st.columns([6, 2], vertical_alignment="bottom")
    left.number_input(
        "Merge another story into this one: one of its posts' #",
        min_value=1,
        step=1,
        value=None,
        key=f"merge-{card.id}",
    )
    right.button("Merge", key=f"merge-go-{card.id}", on_click=_merge, args=(card,))


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
st.caption(
    "Collected posts waiting for review, one card per story (a post reposted on other "
    "communities is one story). Approved posts are made into Shorts by Airflow."
)
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
    waiting = [c for c in picked if c.standing == "waiting"]
    bar = st.columns([1.3, 1, 1.6, 1.6, 3], vertical_alignment="center")
    bar[0].button("Select page", on_click=_set_picks, args=(ids, True))
    bar[1].button("Clear", on_click=_set_picks, args=(ids, False), disabled=not picked)
    bar[2].button(
        f"Approve selected ({len(waiting)})",
        type="primary",
        disabled=not waiting,
        on_click=_act,
        args=(waiting, "approved"),
    )
    bar[3].button(
        f"Decline selected ({len(picked)})",
        disabled=not picked,
        on_click=_act,
        args=(picked, "declined"),
    )
    bar[4].caption(f"{total:,} stories match · sorted by {SORT_LABELS[flt.sort].lower()}")
    for card in cards:
        _card(card)
    ui.pager(PAGE_KEY, total, PER_PAGE)


post_list()
