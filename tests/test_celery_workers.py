"""The celery mode's worker plan: queues, one card per gpu worker, names Airflow records."""

from __future__ import annotations

import pytest
from wagglebot_stack.celery_workers import argv, env, plan
from wagglebot_stack.procs import ServiceError, StackPaths

from wagglebot.orchestration.routing import gpu_slots
from wagglebot.orchestration.worker_node import hostname


def test_without_gpus_the_gpu_workers_see_no_card_setting() -> None:
    workers = plan(2, 4, gpus=0)
    assert [(w.name, w.queue, w.concurrency) for w in workers] == [
        ("airflow-worker", "default", 4),
        ("airflow-worker-gpu-1", "gpu", 1),
        ("airflow-worker-gpu-2", "gpu", 1),
    ]
    assert all("CUDA_VISIBLE_DEVICES" not in env({}, w) for w in workers)


def test_each_gpu_worker_is_bound_to_its_own_card() -> None:
    workers = plan(2, 4, gpus=2)
    assert [w.cuda_device for w in workers] == [None, 0, 1]
    assert [env({"X": "1"}, w).get("CUDA_VISIBLE_DEVICES") for w in workers] == [None, "0", "1"]
    with pytest.raises(ServiceError, match=r"3 gpu workers asked for, but this machine has 2"):
        plan(3, 4, gpus=2)


def test_a_worker_names_itself_and_its_tasks_by_its_node(tmp_path, monkeypatch) -> None:
    [_, gpu] = plan(1, 4, gpus=0)
    command = argv("airflow", gpu, StackPaths(tmp_path))
    assert command[:3] == ["airflow", "celery", "worker"]
    assert command[command.index("--queues") + 1] == "gpu"
    assert command[command.index("--concurrency") + 1] == "1"
    assert command[command.index("--celery-hostname") + 1] == gpu.node
    assert gpu.node.startswith("gpu-1@")
    # One pid file per worker: Airflow's default is one per AIRFLOW_HOME.
    assert command[command.index("--pid") + 1].endswith("airflow-worker-gpu-1.celery.pid")
    monkeypatch.setenv("WAGGLE_WORKER_NODE", env({}, gpu)["WAGGLE_WORKER_NODE"])
    assert hostname() == gpu.node  # what the task instance records as its host
    monkeypatch.delenv("WAGGLE_WORKER_NODE")
    assert "@" not in hostname()  # a worker on a host of its own: the machine's name


def test_the_gpu_pool_is_one_slot_locally_and_one_per_worker_distributed() -> None:
    assert gpu_slots("local", 4) == 1
    assert gpu_slots("celery", 2) == 2
    assert gpu_slots("celery", 2, remote_gpu_workers=3) == 5
