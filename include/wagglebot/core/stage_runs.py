"""Stage attempts: the Airflow task try a stage runs in, and its stage_runs row.

Every stage attempt is a stage_runs row (when, how it ended, the error, the
Airflow task it ran in), so a person can see what happened to a post and the
dashboard can link to the task's log. Each function is one short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wagglebot.core.db.models import StageRun
from wagglebot.core.states import transition
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome

MAX_ERROR = 10_000


@dataclass(frozen=True)
class TaskAttempt:
    """The Airflow task try a stage runs in (all optional: stages also run outside
    Airflow); ``final``: no retry of the task will follow."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    final: bool = True

    @classmethod
    def of(cls, ti: Any) -> TaskAttempt:
        """The attempt an Airflow task instance is running: try N of max_tries + 1."""
        return cls(
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            ti.map_index,
            ti.try_number,
            final=ti.try_number > ti.max_tries,
        )


def attempt_in_task(ti: Any) -> TaskAttempt:
    """The attempt of the running task, whose process now also ends if its supervisor is
    killed (a dead Celery worker) rather than work on as an orphan while Airflow retries
    the task elsewhere."""
    from wagglebot.orchestration.lifeline import die_with_parent

    die_with_parent()
    return TaskAttempt.of(ti)


class StageRetry(RuntimeError):
    """Some posts failed in a way another try may fix: Airflow retries the task."""


ABANDONED = "abandoned: the task running it stopped without reporting"


def stage_started(
    session: Session, post_id: int, stage: Stage, attempt: TaskAttempt = TaskAttempt()
) -> int:
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
    number = (
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
        attempt=number,
        dag_id=attempt.dag_id,
        run_id=attempt.run_id,
        task_id=attempt.task_id,
        map_index=attempt.map_index,
        try_number=attempt.try_number,
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
