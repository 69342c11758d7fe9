"""Watch the system's health every 10 minutes and tell the owner what changed: a check that
turned red, or is green again (wagglebot.ops.alerts), plus a daily digest when
WAGGLE_ALERT_DIGEST_HOUR is set. Without WAGGLE_ALERT_URLS it only keeps the health
states fresh and logs what it would have said.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from wagglebot.orchestration.dag_ids import WATCH_DAG
from wagglebot.orchestration.notify import TaskFailureNotifier
from wagglebot.orchestration.routing import DEFAULT_TASK


@dag(
    dag_id=WATCH_DAG,
    schedule=timedelta(minutes=10),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=9),
    tags=["wagglebot", "health"],
    default_args={
        **DEFAULT_TASK,
        "retries": 1,  # a message the alert service refused goes again a minute later
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": TaskFailureNotifier(),
    },
)
def watch_health() -> None:
    @task(execution_timeout=timedelta(minutes=5))
    def watch() -> dict:
        from wagglebot.core.config import get_settings
        from wagglebot.ops.alerts import alert_urls, watch_health
        from wagglebot.orchestration.notify import deliver

        settings = get_settings()
        return watch_health(settings, deliver if alert_urls(settings) else None)

    watch()


watch_health()
