"""Back the installation up every night: the app database (one consistent snapshot, safe
while a sweep runs), the media folder (only what changed since the last backup takes
space) and the secrets, into WAGGLE_BACKUP_DIR; backups older than
WAGGLE_BACKUP_KEEP_DAYS go. `./wagglebot restore BACKUP` brings one back.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from wagglebot.orchestration.dag_ids import BACKUP_DAG
from wagglebot.orchestration.notify import TaskFailureNotifier
from wagglebot.orchestration.routing import DEFAULT_TASK


@dag(
    dag_id=BACKUP_DAG,
    schedule="0 3 * * *",  # 03:00 in Seoul, when the communities are quietest
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    tags=["wagglebot", "operations"],
    default_args={
        **DEFAULT_TASK,
        "retries": 2,
        "retry_delay": timedelta(minutes=10),
        "on_failure_callback": TaskFailureNotifier(),
    },
)
def backup() -> None:
    @task(execution_timeout=timedelta(hours=2))
    def take_backup() -> str:
        from wagglebot.core.config import get_settings
        from wagglebot.ops.backup import backup

        return str(backup(get_settings()).path)

    take_backup()


backup()
