"""Read every published Short's figures back from YouTube, hourly, and learn from them.

``collect``: the Shorts that are due (hourly for their first WAGGLE_STATS_HOURLY_HOURS,
then daily for WAGGLE_STATS_DAYS): running totals from the Data API, daily figures
from YouTube Analytics (wagglebot.analytics.collect). A scope the token lacks turns
that part off, said in the log and on the dashboard's Analytics page, not a failure.

``learn``: retrains the expected-views model once a day from the channel's own
history and scores the posts waiting for review (wagglebot.analytics.learn). The two
tasks are independent: a failed read-back leaves the model to learn from what is there.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from wagglebot.orchestration.dag_ids import STATS_DAG
from wagglebot.orchestration.notify import TaskFailureNotifier
from wagglebot.orchestration.routing import DEFAULT_TASK


@dag(
    dag_id=STATS_DAG,
    schedule=timedelta(hours=1),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    tags=["wagglebot", "analytics"],
    default_args={
        **DEFAULT_TASK,
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": TaskFailureNotifier(),
    },
)
def collect_stats() -> None:
    @task(execution_timeout=timedelta(minutes=30))
    def collect() -> dict:
        from wagglebot.analytics.collect import collect_stats

        return collect_stats()

    @task(execution_timeout=timedelta(minutes=20))
    def learn() -> dict:
        from wagglebot.analytics.learn import learn

        return learn()

    collect()
    learn()


collect_stats()
