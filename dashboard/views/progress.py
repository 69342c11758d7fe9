"""Progress: what is queued, in production, stalled or failed, and retrying failures."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard import ui
from wagglebot.core.db.queries import status_counts
from wagglebot.publish.platforms import PLATFORMS
from wagglebot.publish.store import waiting_to_publish
from wagglebot.review.decisions import retry
from wagglebot.review.queries import (
    Failure,
    UploadInFlight,
    failures_page,
    in_flight,
    sweep_queue,
    uploads_in_flight,
)

PER_PAGE = 10
PAGE_KEY = "failures-page"
REFRESH = timedelta(seconds=10)


def _retry(post_ids: list[int]) -> None:
    sweep = "{n} failed post(s) retried by {user} in the dashboard"
    ui.decide(retry, post_ids, "retried", picks="retry-pick", sweep=sweep)
    # A failed upload waits on its platform again: publish it again there.
    with ui.db() as session:
        again = {p: waiting_to_publish(session, post_ids, p) for p in PLATFORMS}
    if posts := sorted({pid for ids in again.values() for pid in ids}):
        platforms = [p for p, ids in again.items() if ids]
        note = f"{len(posts)} failed upload(s) retried in the dashboard"
        ui.ask_to_publish(posts, note, platforms)


@st.fragment(run_every=REFRESH)
def live() -> None:
    """Counts and posts in work, refreshed every few seconds without rerunning the page."""
    stall = timedelta(minutes=ui.settings().stall_minutes)
    with ui.db() as session:
        counts = status_counts(session)
        queue = sweep_queue(session)
        working = in_flight(session, stall)
        uploads = uploads_in_flight(session)
    ui.scheduler_heartbeat()
    for column, (status, n) in zip(st.columns(len(counts)), counts.items(), strict=True):
        column.metric(status.value.title(), f"{n:,}")
    if queue.waiting:
        line = (
            f"{queue.waiting} approved post(s) wait for a sweep, "
            f"the oldest since {ui.ago(queue.oldest)}."
        )
        if not working and queue.oldest and ui.ago_seconds(queue.oldest) > stall.total_seconds():
            st.warning(line + " No sweep has taken them: is Airflow running?")
            st.button(
                "Ask Airflow for a sweep now",
                on_click=ui.ask_for_sweep,
                args=("asked from the dashboard's progress page",),
            )
        else:
            st.caption(line)
    _uploads(uploads)
    st.subheader(f"In production ({len(working)})")
    if not working:
        st.caption("Nothing is being made right now.")
        return
    stalled = sum(w.stalled for w in working)
    if stalled:
        st.warning(
            f"{stalled} post(s) made no progress for over {ui.settings().stall_minutes} min "
            "(marked ⚠). The sweep gives such posts back on its own after "
            f"{ui.settings().sweep_stale_minutes} min; the task logs say what happened."
        )
    st.dataframe(
        [
            {
                "": "⚠ stalled" if w.stalled else "",
                "post": w.id,
                "site": w.site_code,
                "title": w.title,
                "doing": w.doing,
                "claimed": ui.ago(w.claimed_at),
                "last activity": ui.ago(w.last_activity),
            }
            for w in working
        ],
        hide_index=True,
        width="stretch",
    )


def _uploads(uploads: list[UploadInFlight]) -> None:
    """Each platform's upload in flight: bytes sent, and how long since its last heartbeat
    (every chunk moves it; a stale one is resumed by the platform's next run)."""
    if not uploads:
        return
    st.subheader(f"Publishing ({len(uploads)})")
    for upload in uploads:
        done = ui.upload_done(upload.bytes_sent, upload.total_bytes)
        beat = (
            f"heartbeat {ui.ago_precise(upload.heartbeat_at)}"
            if upload.heartbeat_at
            else "no heartbeat yet"
        )
        note = f" · {ui.clip_note(upload.note)}" if upload.note else ""
        st.progress(
            ui.upload_fraction(upload.bytes_sent, upload.total_bytes),
            text=f"**{ui.platform_name(upload.platform)}** · #{upload.id} {ui.md(upload.title)}: "
            f"{done}, {beat}{ui.md(note)}",
        )


def _failure(failure: Failure) -> None:
    with st.container(border=True):
        pick, body, actions = st.columns([0.35, 8, 2.2])
        pick.checkbox(
            f"Select post {failure.id}",
            key=f"retry-pick-{failure.id}",
            label_visibility="collapsed",
        )
        body.markdown(f"**{ui.md(failure.title)}**")
        body.caption(
            f"{ui.md(failure.site_code)} · #{failure.id} · failed {ui.local(failure.failed_at)}"
            f" ({ui.ago(failure.failed_at)})"
        )
        body.code(failure.error, language=None, wrap_lines=True)
        actions.button(
            "Retry",
            key=f"retry-{failure.id}",
            type="primary",
            on_click=_retry,
            args=([failure.id],),
        )
        if failure.attempt and (url := ui.task_log_url(failure.attempt)):
            actions.link_button(f"Task log ({failure.attempt.task_id})", url)


st.title("Progress")
ui.show_flashes()
live()
with ui.db() as session:
    failures, total = failures_page(session, ui.page_of(PAGE_KEY), PER_PAGE)
st.subheader(f"Failed ({total:,})")
if not failures:
    st.caption("No failures.")
else:
    picked = [f.id for f in failures if st.session_state.get(f"retry-pick-{f.id}")]
    st.button(
        f"Retry selected ({len(picked)})", disabled=not picked, on_click=_retry, args=(picked,)
    )
    for failure in failures:
        _failure(failure)
    ui.pager(PAGE_KEY, total, PER_PAGE)
