"""Running one stage over a sweep's batch: each post still in production, an attempt row
each, its error kept with it; a retry skips what this sweep already got through.

Per post: an error that retrying cannot fix (the engine refused the post's script,
nothing to say) fails the post at once; any other error keeps the post for a retry of
the task, and fails it with its real error only on the task's last try.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Post, StageRun
from wagglebot.core.post_files import discard_leftovers, media_ref
from wagglebot.core.stage_runs import (
    StageRetry,
    TaskAttempt,
    stage_failed,
    stage_started,
    stage_succeeded,
)
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome
from wagglebot.produce.stages.script import InvalidScript
from wagglebot.produce.stages.tts import NothingToSay

log = logging.getLogger(__name__)

# Errors that another try of the task cannot fix: the post fails at once.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (InvalidScript, NothingToSay)
Outputs = dict[int, str]  # post id -> a file, relative to the media root
T = TypeVar("T")


def to_xcom(outputs: Mapping[int, T] | None) -> dict[str, T]:
    """Outputs as XCom carries them: JSON object keys are strings (the DAG's edge only)."""
    return {str(post_id): value for post_id, value in (outputs or {}).items()}


def from_xcom(carried: Mapping[str, T] | None) -> dict[int, T]:
    """XCom's string keys back to post ids (the DAG's edge only)."""
    return {int(key): value for key, value in (carried or {}).items()}


def _succeeded_in_this_sweep(
    session: Session, post_id: int, stage: Stage, attempt: TaskAttempt
) -> bool:
    if attempt.run_id is None:
        return False
    return (
        session.scalar(
            select(StageRun.id).where(
                StageRun.post_id == post_id,
                StageRun.stage == stage,
                StageRun.outcome == StageOutcome.SUCCEEDED,
                StageRun.dag_id == attempt.dag_id,
                StageRun.run_id == attempt.run_id,
            )
        )
        is not None
    )


def in_status(
    session: Session,
    post_ids: list[int],
    status: PostStatus = PostStatus.PROCESSING,
    owner: str | None = None,
) -> list[int]:
    """Those of ``post_ids`` that are in ``status`` now, in their given order; in
    PROCESSING, held by the sweep ``owner`` (when given), not by another sweep since."""
    if not post_ids:
        return []
    query = select(Post.id).where(Post.id.in_(post_ids), Post.status == status)
    if owner is not None and status is PostStatus.PROCESSING:
        query = query.where(Post.claimed_by == owner)
    rows = session.scalars(query).all()
    found = set(rows)
    return [p for p in post_ids if p in found]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# A worker does one post's work for a stage, writing the stage's output file, and returns
# the engine that did it (recorded on the stage run).
Worker = Callable[[int], str]


def run_stage(
    stage: Stage,
    post_ids: list[int],
    output: Callable[[int], Path],
    open_worker: Callable[[], contextlib.AbstractContextManager[Worker]],
    attempt: TaskAttempt,
    settings: Settings,
) -> Outputs:
    """Run ``stage`` on every post still in production; returns post id -> output path."""
    results: Outputs = {}
    retry: list[str] = []
    with settings_session(settings) as session:
        todo = []
        for post_id in in_status(session, post_ids, owner=attempt.run_id):
            if (
                _succeeded_in_this_sweep(session, post_id, stage, attempt)
                and output(post_id).exists()
            ):
                results[post_id] = media_ref(settings, output(post_id))  # an earlier try
            else:
                todo.append(post_id)
        if not todo:
            return results

        def fail(post_id: int, run_id: int, exc: BaseException) -> None:
            final = attempt.final or isinstance(exc, PERMANENT_ERRORS)
            log.error("post %d: %s failed: %s", post_id, stage.value, _describe(exc), exc_info=exc)
            stage_failed(session, run_id, _describe(exc), final=final)
            if not final:
                retry.append(f"post {post_id}: {_describe(exc)}")

        handled: set[int] = set()
        try:
            with open_worker() as work:
                for post_id in todo:
                    run_id = stage_started(session, post_id, stage, attempt)
                    handled.add(post_id)
                    try:
                        discard_leftovers(output(post_id).parent)
                        engine = work(post_id)
                    except Exception as exc:
                        fail(post_id, run_id, exc)
                        continue
                    stage_succeeded(session, run_id, engine=engine[:64])
                    results[post_id] = media_ref(settings, output(post_id))
        except Exception as exc:  # the engine could not start: every waiting post learns why
            log.error("%s: the engine failed: %s", stage.value, _describe(exc), exc_info=exc)
            session.rollback()
            for post_id in todo:
                if post_id not in handled:
                    fail(post_id, stage_started(session, post_id, stage, attempt), exc)
    if retry:
        raise StageRetry(
            f"{stage.value}: {len(retry)} of {len(todo)} posts will be retried: " + "; ".join(retry)
        )
    return results
