"""A sweep's batch: claiming it (after giving back what a dead sweep left), holding a new
script for a person, and finishing each post: its contents row and the move to RENDERED,
or FAILED with the stage that dropped it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Content, Post, StageRun
from wagglebot.core.post_files import THUMBNAIL, media_path, media_ref, post_file, read_json
from wagglebot.core.stage_runs import ABANDONED, TaskAttempt
from wagglebot.core.states import IllegalTransition, claim_approved, transition
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome
from wagglebot.produce.runner import Outputs, in_status

log = logging.getLogger(__name__)


def claim_batch(
    settings: Settings | None = None,
    batch: int | None = None,
    attempt: TaskAttempt = TaskAttempt(),
) -> list[int]:
    """Put posts stuck by a dead sweep back (or fail them), then claim a batch for this
    sweep (the attempt's run)."""
    settings = settings or get_settings()
    with settings_session(settings) as session:
        recovered = recover_stuck(
            session,
            stale_after=timedelta(minutes=settings.sweep_stale_minutes),
            max_attempts=settings.sweep_max_attempts,
        )
        if recovered.requeued or recovered.failed:
            log.warning(
                "recovered posts left in PROCESSING: requeued %s, failed %s",
                recovered.requeued,
                recovered.failed,
            )
        claimed = list(claim_approved(session, batch or settings.sweep_batch, attempt.run_id))
    log.info("claimed %d posts: %s", len(claimed), claimed)
    return claimed


def finish(
    claimed: list[int],
    scripts: Outputs | None,
    voices: Outputs | None,
    videos: Outputs | None,
    settings: Settings | None = None,
    attempt: TaskAttempt = TaskAttempt(),
) -> dict[str, list[int]]:
    """Write each rendered post's contents row and move it to RENDERED. A claimed post
    that this sweep still holds in PROCESSING without a video was dropped by a stage
    task that ended without reporting it (killed, or timed out on its last try): it
    fails, saying so. A post another sweep holds now (its script was approved and it
    was claimed again meanwhile) is that sweep's to finish.
    """
    settings = settings or get_settings()
    scripts, voices, videos = scripts or {}, voices or {}, videos or {}
    rendered, failed = [], []
    with settings_session(settings) as session:
        awaiting_review = sorted(in_status(session, claimed, PostStatus.SCRIPTED))
        for post_id in in_status(session, claimed, owner=attempt.run_id):
            try:
                if post_id not in videos:
                    missing = next(
                        name
                        for name, outputs in (
                            (Stage.LLM, scripts),
                            (Stage.TTS, voices),
                            (Stage.RENDER, videos),
                        )
                        if post_id not in outputs
                    )
                    transition(
                        session,
                        post_id,
                        PostStatus.FAILED,
                        error=(
                            f"{missing.value}: the stage task ended without finishing this post "
                            "(killed or timed out on its last try); see the task log"
                        ),
                    )
                    session.commit()
                    failed.append(post_id)
                    continue
                script = read_json(settings, scripts[post_id])
                voice = read_json(settings, voices[post_id])
                video = media_path(settings, videos[post_id])
                finish_post(
                    session,
                    post_id,
                    summary_text=script["text"],
                    audio_path=voice["audio"],
                    video_path=media_ref(settings, video),
                    script_raw=script["raw"],
                    script_engine=script["engine"][:128],
                    thumbnail_path=media_ref(settings, post_file(settings, post_id, THUMBNAIL)),
                    video_seconds=voice["duration"],
                )
                rendered.append(post_id)
            except IllegalTransition as exc:  # someone else moved it meanwhile: theirs stands
                session.rollback()
                log.warning("post %d not finished: %s", post_id, exc)
    log.info(
        "sweep finished: rendered %s, failed %s, scripts awaiting review %s",
        rendered,
        failed,
        awaiting_review,
    )
    return {"rendered": rendered, "failed": failed, "awaiting_review": awaiting_review}


def finish_post(
    session: Session,
    post_id: int,
    *,
    summary_text: str,
    audio_path: str,
    video_path: str,
    **details: str | float | None,
) -> None:
    """Write what production made and move the post to RENDERED, together.

    ``details``: more contents columns (script_raw, script_engine, thumbnail_path,
    video_seconds). Safe to repeat: the contents row is keyed by the post and overwritten.
    """
    values = {
        "summary_text": summary_text,
        "audio_path": audio_path,
        "video_path": video_path,
        **details,
    }
    _upsert_content(session, post_id, values)
    transition(session, post_id, PostStatus.RENDERED, expected=PostStatus.PROCESSING)
    session.commit()


def hold_for_review(session: Session, post_id: int, *, text: str, raw: str, engine: str) -> None:
    """Keep the LLM's script for a person to read and move the post to SCRIPTED, together.

    The post leaves the sweep here; approving the script (wagglebot.review.decisions) queues it
    again, and the next sweep voices the script the person approved.
    """
    _upsert_content(
        session,
        post_id,
        {
            "summary_text": text,
            "script_raw": raw,
            "script_engine": engine[:128],
            "script_reviewed_by": None,
            "script_reviewed_at": None,
            "script_edited": False,
        },
    )
    transition(session, post_id, PostStatus.SCRIPTED, expected=PostStatus.PROCESSING)
    session.commit()


def _upsert_content(session: Session, post_id: int, values: dict[str, object]) -> None:
    # Keyed by the post: repeating a step overwrites its columns and leaves the others.
    stmt = insert(Content).values(post_id=post_id, **values)
    session.execute(stmt.on_duplicate_key_update({k: stmt.inserted[k] for k in values}))


@dataclass(frozen=True)
class Recovery:
    requeued: list[int]
    failed: list[int]


def recover_stuck(session: Session, stale_after: timedelta, max_attempts: int) -> Recovery:
    """Posts left in PROCESSING by a sweep that died go back to APPROVED, or to FAILED once
    they have been tried ``max_attempts`` times. A post counts as stuck when neither its
    status nor any of its stage attempts has moved for ``stale_after``.
    """
    cutoff = session.scalar(select(func.now(6))) - stale_after
    recent_stage = exists().where(
        StageRun.post_id == Post.id,
        or_(StageRun.started_at >= cutoff, StageRun.finished_at >= cutoff),
    )
    stuck = session.execute(
        select(Post.id, Post.attempts)
        .where(Post.status == PostStatus.PROCESSING, Post.status_changed_at < cutoff, ~recent_stage)
        .with_for_update(skip_locked=True)
    ).all()
    requeued, failed = [], []
    for post_id, attempts in stuck:
        session.execute(
            update(StageRun)
            .where(StageRun.post_id == post_id, StageRun.outcome == StageOutcome.RUNNING)
            .values(
                outcome=StageOutcome.FAILED,
                finished_at=func.now(6),
                error=ABANDONED,
            )
        )
        if attempts >= max_attempts:
            transition(
                session,
                post_id,
                PostStatus.FAILED,
                error=(
                    f"gave up after {attempts} attempts: each sweep that took this post died "
                    f"before finishing it (stuck in PROCESSING over {stale_after})"
                ),
            )
            failed.append(post_id)
        else:
            transition(session, post_id, PostStatus.APPROVED, expected=PostStatus.PROCESSING)
            requeued.append(post_id)
    session.commit()
    return Recovery(requeued, failed)
