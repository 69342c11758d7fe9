"""Approved posts become Shorts: claim a batch, script it, voice it, render it, finish.

Started by a REST trigger when a person approves posts (the dashboard does it),
and every 20 minutes as a safety net. The three stages run
in pool `gpu` (one slot per GPU) and Celery queue `gpu`, each over the whole batch,
so the LLM loads once per sweep and no two GPU stages ever share a card; the rest
goes to queue `default` (wagglebot.orchestration.routing). As many sweeps run at once as there
are GPU slots. XCom carries file paths only, relative to the media folder.
A post that fails a stage goes to FAILED with its error; the rest go on. With
script review on, new scripts wait (SCRIPTED) for a person before they are voiced.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from wagglebot.orchestration.dag_ids import PRODUCE_DAG
from wagglebot.orchestration.notify import TaskFailureNotifier
from wagglebot.orchestration.routing import DEFAULT_TASK, GPU_TASK, gpu_slots_from_env

RETRIES = {"retries": 2, "retry_exponential_backoff": 2.0, "max_retry_delay": timedelta(minutes=5)}


def _attempt():  # -> wagglebot.core.stage_runs.TaskAttempt
    from wagglebot.core.stage_runs import attempt_in_task

    return attempt_in_task(get_current_context()["ti"])


@dag(
    dag_id=PRODUCE_DAG,
    schedule="*/20 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # One sweep per GPU: each claims its own posts (SKIP LOCKED), the pool shares the cards.
    max_active_runs=gpu_slots_from_env(),
    dagrun_timeout=timedelta(hours=6),
    tags=["wagglebot", "produce"],
    params={
        "batch": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=100,
            title="Batch size",
            description="Posts to claim this run; empty means WAGGLE_SWEEP_BATCH.",
        ),
        "review_scripts": Param(
            None,
            type=["null", "boolean"],
            title="Review scripts",
            description=(
                "Stop new scripts for a person's review before they are voiced; "
                "empty means WAGGLE_SCRIPT_REVIEW."
            ),
        ),
    },
    default_args={"retries": 0, **DEFAULT_TASK, "on_failure_callback": TaskFailureNotifier()},
)
def produce_shorts() -> None:
    @task
    def claim() -> list[int]:
        from wagglebot.produce.batch import claim_batch

        return claim_batch(batch=get_current_context()["params"]["batch"], attempt=_attempt())

    @task(
        **GPU_TASK,
        **RETRIES,
        retry_delay=timedelta(seconds=30),
        execution_timeout=timedelta(hours=1),
    )
    def write_scripts(post_ids: list[int]) -> dict[str, str]:
        from wagglebot.produce.runner import to_xcom
        from wagglebot.produce.tasks import write_scripts

        review = get_current_context()["params"]["review_scripts"]
        return to_xcom(write_scripts(post_ids, _attempt(), review=review))

    @task(retries=1, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=30))
    def gather_pictures(post_ids: list[int]) -> dict[str, list[str]]:
        from wagglebot.produce.runner import to_xcom
        from wagglebot.produce.tasks import gather_pictures

        return to_xcom(gather_pictures(post_ids))

    @task(
        **GPU_TASK,
        **RETRIES,
        retry_delay=timedelta(seconds=20),
        execution_timeout=timedelta(hours=1),
    )
    def speak(scripts: dict[str, str]) -> dict[str, str]:
        from wagglebot.produce.runner import from_xcom, to_xcom
        from wagglebot.produce.tasks import speak

        return to_xcom(speak(from_xcom(scripts), _attempt()))

    @task(
        **GPU_TASK,
        **RETRIES,
        retry_delay=timedelta(seconds=20),
        execution_timeout=timedelta(hours=2),
    )
    def render(voices: dict[str, str], pictures: dict[str, list[str]]) -> dict[str, str]:
        from wagglebot.produce.runner import from_xcom, to_xcom
        from wagglebot.produce.tasks import render

        return to_xcom(render(from_xcom(voices), from_xcom(pictures), _attempt()))

    # all_done: also when a stage task gave up, so its posts fail with a pointer to its log
    # instead of waiting in PROCESSING for the stuck-post recovery.
    @task(trigger_rule="all_done")
    def finish(
        claimed: list[int] | None,
        scripts: dict[str, str] | None,
        voices: dict[str, str] | None,
        videos: dict[str, str] | None,
    ) -> dict[str, list[int]]:
        from wagglebot.produce.batch import finish
        from wagglebot.produce.runner import from_xcom

        outputs = (from_xcom(scripts), from_xcom(voices), from_xcom(videos))
        return finish(claimed or [], *outputs, attempt=_attempt())

    # Post ids are ints throughout; XCom carries the stages' {post id: file} maps as JSON,
    # whose keys are strings: to_xcom / from_xcom convert at this edge only.
    claimed = claim()
    scripts = write_scripts(claimed)
    voices = speak(scripts)
    videos = render(voices, gather_pictures(claimed))
    finish(claimed, scripts, voices, videos)


produce_shorts()
