"""Rendered Shorts go to YouTube, TikTok and Instagram: the posts a person marked
"publish" on each, or those given here, on the platforms given (by default
WAGGLE_PUBLISH_PLATFORMS). One upload task per platform, side by side: a platform
without credentials is skipped with the reason ("off"), and one platform's failure
leaves the others alone.

Triggered by the dashboard's Publish button (with the post ids) or by hand with
params; on its own schedule only when WAGGLE_PUBLISH_SCHEDULE gives one (off by
default): a cron, or "auto": every hour, publishing only at the channel's best
hours by its Shorts' first-day views (wagglebot.analytics.schedule); the other
scheduled runs are skipped, saying when the next publishing hour is. Uploads are
network work: they run outside the `gpu` pool. One run at a time; a run stops cleanly
when the day's quota is spent, and the posts it did not get to wait (RENDERED) for the
next day's run. An upload cut off by a dead worker or a failed try is resumed by the
next try or run, never started again.
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


SCHEDULE = os.environ.get("WAGGLE_PUBLISH_SCHEDULE", "").strip()
AUTO = SCHEDULE == "auto"


@dag(
    dag_id=PUBLISH_DAG,
    schedule="0 * * * *" if AUTO else SCHEDULE or None,
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
        "platforms": Param(
            None,
            type=["null", "array"],
            items={"type": "string", "enum": ["youtube", "tiktok", "instagram"]},
            title="Platforms",
            description="Where to publish; empty: WAGGLE_PUBLISH_PLATFORMS (youtube).",
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
    @task
    def platforms() -> list[str]:
        from wagglebot.core.config import get_settings
        from wagglebot.publish.platforms import chosen_platforms

        context = get_current_context()
        if AUTO and context["dag_run"].run_type == "scheduled":
            from airflow.exceptions import AirflowSkipException

            from wagglebot.analytics.schedule import publishing_now

            now, why = publishing_now()
            if not now:
                raise AirflowSkipException(why)
        return chosen_platforms(context["params"]["platforms"], get_settings())

    @task(
        retries=2,
        retry_delay=timedelta(seconds=30),
        retry_exponential_backoff=2.0,
        execution_timeout=timedelta(hours=2),
        map_index_template="{{ platform }}",
    )
    def upload(platform: str) -> dict:
        from wagglebot.publish.run import publish_posts

        params = get_current_context()["params"]
        report = publish_posts(
            params["post_ids"] or None, _attempt(), privacy=params["privacy"], platform=platform
        )
        if report["off"]:  # no credentials: said, and never a failure
            from airflow.exceptions import AirflowSkipException

            raise AirflowSkipException(report["off"])
        return report

    upload.expand(platform=platforms())


publish_shorts()
