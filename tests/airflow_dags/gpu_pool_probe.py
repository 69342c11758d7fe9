"""Test DAG: two tasks in pool `gpu` that must take turns, and a control task outside it."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task

HOLD_SECONDS = 6


@dag(
    schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False, tags=["test"]
)
def gpu_pool_probe() -> None:
    @task(pool="gpu")
    def gpu_a() -> None:
        time.sleep(HOLD_SECONDS)

    @task(pool="gpu")
    def gpu_b() -> None:
        time.sleep(HOLD_SECONDS)

    @task
    def control() -> None:
        time.sleep(HOLD_SECONDS)

    gpu_a()
    gpu_b()
    control()


gpu_pool_probe()
