"""What a person's decisions do: approve or decline posts, review scripts, retry failures,
and ask Airflow for a sweep.

Used by the dashboard and by the main job. Decisions only move posts through the
state machine (and keep the reviewed script); the work itself is Airflow's, asked
for through its REST API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Content, StageRun
from wagglebot.core.states import (
    TransitionError,
    reopen_failed_uploads,
    transition,
    transition_many,
)
from wagglebot.core.statuses import PostStatus, Stage
from wagglebot.orchestration.api import AirflowClient
from wagglebot.orchestration.dag_ids import PRODUCE_DAG, PUBLISH_DAG
from wagglebot.produce.stages.script import InvalidScript, too_thin, validate

Outcome = tuple[list[int], list[TransitionError]]


def approve(session: Session, post_ids: Iterable[int], by: str | None = None) -> Outcome:
    """Approve COLLECTED posts; a post someone else already moved is refused, not redone."""
    moved, refused = transition_many(
        session, post_ids, PostStatus.APPROVED, expected=PostStatus.COLLECTED, by=by
    )
    session.commit()
    return moved, refused


def decline(session: Session, post_ids: Iterable[int], by: str | None = None) -> Outcome:
    """Decline collected posts, or posts whose script a person read and does not want."""
    moved, refused = transition_many(session, post_ids, PostStatus.DECLINED, by=by)
    session.commit()
    return moved, refused


def retry(session: Session, post_ids: Iterable[int], by: str | None = None) -> Outcome:
    """FAILED posts back to where their failed stage starts: a failed upload to RENDERED
    (its Short is kept and it is published again), anything else to the queue. Their
    error stays in stage_runs for the record."""
    post_ids = list(post_ids)
    latest = (
        select(func.max(StageRun.id))
        .where(StageRun.post_id.in_(post_ids))
        .group_by(StageRun.post_id)
    )
    rows = session.execute(select(StageRun.post_id, StageRun.stage).where(StageRun.id.in_(latest)))
    last_stage = {post_id: stage for post_id, stage in rows}
    moved: list[int] = []
    refused: list[TransitionError] = []
    for post_id in post_ids:
        published = last_stage.get(post_id) is Stage.UPLOAD
        target = PostStatus.RENDERED if published else PostStatus.APPROVED
        done, not_done = transition_many(
            session, [post_id], target, expected=PostStatus.FAILED, by=by
        )
        if done:  # its failed platforms are asked for again, once it is made again
            reopen_failed_uploads(session, post_id)
        moved += done
        refused += not_done
    session.commit()
    return moved, refused


class ScriptMissing(TransitionError):
    def __init__(self, post_id: int) -> None:
        super().__init__(f"post {post_id} has no script to approve")


def approve_script(session: Session, post_id: int, text: str, by: str) -> str:
    """Approve a SCRIPTED post's script as ``text`` (the person's edit, or the original).

    The text passes the same checks as any engine's (InvalidScript says why not);
    then the post is queued again and the next sweep voices exactly this text.
    Returns the text as stored.
    """
    written = session.scalar(select(Content.summary_text).where(Content.post_id == post_id))
    text = validate(text)
    if thin := too_thin(text):  # it would be a clip, not a story
        raise InvalidScript("too_thin", thin)
    transition(session, post_id, PostStatus.APPROVED, expected=PostStatus.SCRIPTED, by=by)
    if written is None:
        session.rollback()
        raise ScriptMissing(post_id)
    session.execute(
        update(Content)
        .where(Content.post_id == post_id)
        .values(
            summary_text=text,
            script_edited=text != written,
            script_reviewed_by=by,
            script_reviewed_at=func.now(6),
        )
    )
    session.commit()
    return text


def rewrite_script(session: Session, post_id: int, by: str) -> None:
    """Send a SCRIPTED post back for a new script: the next sweep runs the LLM again."""
    transition(session, post_id, PostStatus.APPROVED, expected=PostStatus.SCRIPTED, by=by)
    session.execute(
        update(Content)
        .where(Content.post_id == post_id)
        .values(
            summary_text=None,
            script_edited=False,
            script_reviewed_by=None,
            script_reviewed_at=None,
        )
    )
    session.commit()


def request_sweep(client: AirflowClient, note: str) -> dict[str, Any]:
    """Start a produce_shorts run, unless one is already waiting to start: a queued run
    will claim every approval made before it starts, so another would find nothing.
    """
    for run in client.active_runs(PRODUCE_DAG):
        if run["state"] == "queued":
            return run
    return client.trigger(PRODUCE_DAG, note=note)


def request_publishing(
    client: AirflowClient, post_ids: list[int], note: str, platforms: list[str] | None = None
) -> dict[str, Any]:
    """Start a publish_shorts run for these posts (already marked with request_publish) on
    ``platforms`` (None: WAGGLE_PUBLISH_PLATFORMS); runs queue one behind another, each
    with its own posts."""
    conf = {"post_ids": post_ids, "platforms": platforms}
    return client.trigger(PUBLISH_DAG, conf=conf, note=note)
