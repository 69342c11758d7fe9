"""Rendered Shorts go to YouTube: the posts a person marked "publish", or those given here.

Triggered by the dashboard's Publish button (with the post ids) or by hand with
params; on its own schedule only when WAGGLE_PUBLISH_SCHEDULE gives one (a cron,
off by default). Uploads are network work: they run outside the `gpu` pool. One
run at a time; a run stops cleanly when the day's quota is spent, and the posts
it did not get to wait (RENDERED) for the next day's run. An upload cut off by a
dead worker or a failed try is resumed by the next try or run, never started again.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from wagglebot.orchestration.dag_ids import PUBLISH_DAG
from wagglebot.orchestration.notify import TaskFailureNotifier
from wagglebot.orchestration.routing import DEFAULT_TASK


def _attempt():  # -> wagglebot.core.stage_runs.TaskAttempt
    from wagglebot.core.stage_runs import TaskAttempt

    return TaskAttempt.of(get_current_context()["ti"])


@dag(
    dag_id=PUBLISH_DAG,
    schedule=os.environ.get("WAGGLE_PUBLISH_SCHEDULE") or None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    tags=["wagglebot", "publish"],
    default_args={**DEFAULT_TASK, "on_failure_callback": TaskFailureNotifier()},
    params={
        "post_ids": Param(
            [],
            type=["null", "array"],
            items={"type": "integer"},
            title="Posts",
            description="Rendered posts to publish now; empty: those people marked to publish.",
        ),
        "privacy": Param(
            None,
            type=["null", "string"],
            enum=[None, "private", "unlisted", "public"],
            title="Privacy",
            description="For these posts; empty: the reviewer's choice, else "
            "WAGGLE_YOUTUBE_PRIVACY (private).",
        ),
    },
)
def publish_shorts() -> None:
    @task(
        retries=2,
        retry_delay=timedelta(seconds=30),
        retry_exponential_backoff=2.0,
        execution_timeout=timedelta(hours=2),
    )
    def upload() -> dict:
        from wagglebot.publish.run import publish_posts

        params = get_current_context()["params"]
        return publish_posts(params["post_ids"] or None, _attempt(), privacy=params["privacy"])

    upload()


publish_shorts()
