"""Bookkeeping for the production sweep: stage attempts, failures, the finished row, recovery.

Every stage attempt is a stage_runs row (when, how it ended, the error, the
Airflow task it ran in), so a person can see what happened to a post and a
dashboard can link to the log. Each function is one short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.db.models import Content, Post, Stage, StageOutcome, StageRun
from wagglebot.states import PostStatus, transition

MAX_ERROR = 10_000


@dataclass(frozen=True)
class TaskRef:
    """Where a stage ran in Airflow (all optional: stages also run outside Airflow)."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None


ABANDONED = "abandoned: the task running it stopped without reporting"


def stage_started(session: Session, post_id: int, stage: Stage, task: TaskRef = TaskRef()) -> int:
    """Record a new attempt of ``stage`` on the post; returns the stage run's id.

    An earlier attempt of the same stage still marked running belongs to a task
    that was killed (or timed out) before it could report: it is closed as abandoned.
    """
    session.execute(
        update(StageRun)
        .where(
            StageRun.post_id == post_id,
            StageRun.stage == stage,
            StageRun.outcome == StageOutcome.RUNNING,
        )
        .values(outcome=StageOutcome.FAILED, finished_at=func.now(6), error=ABANDONED)
    )
    attempt = (
        session.scalar(
            select(func.max(StageRun.attempt)).where(
                StageRun.post_id == post_id, StageRun.stage == stage
            )
        )
        or 0
    ) + 1
    run = StageRun(
        post_id=post_id,
        stage=stage,
        attempt=attempt,
        dag_id=task.dag_id,
        run_id=task.run_id,
        task_id=task.task_id,
        map_index=task.map_index,
        try_number=task.try_number,
    )
    session.add(run)
    session.commit()
    return run.id


def stage_succeeded(session: Session, stage_run_id: int, engine: str | None = None) -> None:
    session.execute(
        update(StageRun)
        .where(StageRun.id == stage_run_id)
        .values(outcome=StageOutcome.SUCCEEDED, finished_at=func.now(6), engine=engine)
    )
    session.commit()


def stage_failed(session: Session, stage_run_id: int, error: str, *, final: bool = True) -> None:
    """End the attempt with its real error. ``final``: the post's production ends too
    (FAILED, with the error kept); otherwise the post stays PROCESSING for a retry.
    """
    run = session.get(StageRun, stage_run_id)
    if run is None:
        raise LookupError(f"stage run {stage_run_id} does not exist")
    error = (error.strip() or "failed without a message")[-MAX_ERROR:]
    run.outcome, run.error, run.finished_at = StageOutcome.FAILED, error, func.now(6)
    if not final:
        session.commit()
        return
    transition(
        session,
        run.post_id,
        PostStatus.FAILED,
        error=f"{run.stage.value} (attempt {run.attempt}): {error}",
    )
    session.commit()


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

    The post leaves the sweep here; approving the script (wagglebot.review) queues it
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
