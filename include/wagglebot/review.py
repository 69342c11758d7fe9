"""What a person's decisions do: approve or decline posts, and ask Airflow for a sweep.

Used by the dashboard and by the main job. Approval only moves posts through the
state machine; the work itself is Airflow's, asked for through its REST API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from wagglebot.airflow_api import AirflowClient
from wagglebot.states import PostStatus, TransitionError, transition_many

SWEEP_DAG = "produce_shorts"


def approve(session: Session, post_ids: Iterable[int]) -> tuple[list[int], list[TransitionError]]:
    """Approve COLLECTED posts; a post someone else already moved is refused, not redone."""
    moved, refused = transition_many(
        session, post_ids, PostStatus.APPROVED, expected=PostStatus.COLLECTED
    )
    session.commit()
    return moved, refused


def decline(session: Session, post_ids: Iterable[int]) -> tuple[list[int], list[TransitionError]]:
    moved, refused = transition_many(session, post_ids, PostStatus.DECLINED)
    session.commit()
    return moved, refused


def request_sweep(client: AirflowClient, note: str) -> dict[str, Any]:
    """Start a produce_shorts run, unless one is already waiting to start: a queued run
    will claim every approval made before it starts, so another would find nothing.
    """
    for run in client.active_runs(SWEEP_DAG):
        if run["state"] == "queued":
            return run
    return client.trigger(SWEEP_DAG, note=note)
