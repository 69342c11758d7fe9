"""Scripts: read and edit each narration script before it is voiced."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from wagglebot.produce.stages.script import (
    MAX_CHARS,
    MIN_CHARS,
    InvalidScript,
    spoken_seconds,
    too_thin,
)
from wagglebot.review.decisions import approve_script, decline, rewrite_script
from wagglebot.review.queries import ScriptCard, scripts_page

PER_PAGE = 5
PAGE_KEY = "scripts-page"


def _approve(post_id: int) -> None:
    text = st.session_state.get(f"script-{post_id}", "")
    try:
        moved = ui.decide_one(
            lambda session, user: approve_script(session, post_id, text, by=user),
            "approved",
            f"Post {post_id}: script approved; it will be voiced and rendered.",
            sweep=f"script of post {post_id} approved by {{user}} in the dashboard",
        )
    except InvalidScript as exc:
        # The edit stays in its box; nothing is saved until it passes.
        ui.flash("error", f"Post {post_id}: the script cannot be voiced as it is ({exc}).")
        return
    if moved:
        st.session_state.pop(f"script-{post_id}", None)


def _rewrite(post_id: int) -> None:
    if ui.decide_one(
        lambda session, user: rewrite_script(session, post_id, by=user),
        "sent back",
        f"Post {post_id}: sent back for a new script.",
        sweep=f"new script for post {post_id} asked by {{user}} in the dashboard",
    ):
        st.session_state.pop(f"script-{post_id}", None)


def _decline(post_id: int) -> None:
    ui.decide(decline, [post_id], "declined")


def _card(card: ScriptCard) -> None:
    post = card.post
    with st.container(border=True):
        st.markdown(f"**{ui.md(post.title)}**")
        st.caption(
            f"{ui.md(post.site_code)} · #{post.id} · written by {ui.md(card.engine or '?')} · "
            f"waiting since {ui.local(post.status_changed_at)} ({ui.ago(post.status_changed_at)})"
        )
        edit, source = st.columns([3, 2])
        key = f"script-{post.id}"
        text = edit.text_area(
            "Narration script", value=card.script, key=key, height=180, max_chars=MAX_CHARS
        )
        edit.caption(
            f"{len(text.strip())} characters ({MIN_CHARS}-{MAX_CHARS} allowed), about "
            f"{spoken_seconds(text):.0f} s of speech (aim for 30-55) · spoken as written: "
            "numbers are read out, emoji and links dropped"
        )
        if thin := too_thin(text):
            edit.warning(f"Too thin for a Short: {thin}.")
        a, r, d = edit.columns(3)
        a.button(
            "Approve script",
            key=f"ok-{post.id}",
            type="primary",
            on_click=_approve,
            args=(post.id,),
        )
        r.button("Write it again", key=f"again-{post.id}", on_click=_rewrite, args=(post.id,))
        d.button("Decline post", key=f"drop-{post.id}", on_click=_decline, args=(post.id,))
        with source.expander("The post"):
            st.text(post.preview or "(no text)")
            for comment in post.comments:
                st.caption(f"Comment by {ui.md(comment.author or 'someone')}:")
                st.text(comment.content)
        if card.raw and card.raw.strip() != card.script.strip():
            with source.expander("What the engine wrote"):
                st.text(card.raw)


st.title("Scripts")
if ui.settings().script_review:
    st.caption(
        "New scripts wait here before they are voiced. Edit what you like, then approve; "
        "the next sweep voices exactly your text."
    )
else:
    st.info(
        "Script review is off (WAGGLE_SCRIPT_REVIEW=false): scripts go straight to the voice, "
        "except those too thin for a Short (under 15 s of speech), which wait here."
    )
ui.show_flashes()
with ui.db() as session:
    cards, total = scripts_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
if not cards:
    st.info("No script is waiting for review.")
for card in cards:
    _card(card)
ui.pager(PAGE_KEY, total, PER_PAGE)
