"""Where tasks run, declared once: the pool and Celery queue of GPU and other tasks.

GPU stages (script, voice, render) take a slot of pool ``gpu`` and go to queue
``gpu``, which only GPU hosts' workers read; everything else (crawl, claim,
pictures, finish, publish) goes to queue ``default``. LocalExecutor ignores
queues, so the same DAGs run unchanged on one machine. Imported by DAG files at
parse time: no imports beyond the standard library.
"""

from __future__ import annotations

import os

GPU_POOL = "gpu"
GPU_QUEUE = "gpu"
DEFAULT_QUEUE = "default"

# Spread into a DAG's default_args, and into each GPU task's decorator.
DEFAULT_TASK: dict[str, object] = {"queue": DEFAULT_QUEUE}
GPU_TASK: dict[str, object] = {"pool": GPU_POOL, "pool_slots": 1, "queue": GPU_QUEUE}


def gpu_slots(executor: str, gpu_workers: int, remote_gpu_workers: int = 0) -> int:
    """How many GPU tasks may run at once across the cluster (pool gpu's size): the gpu
    workers this machine starts and those on other hosts."""
    return max(1, gpu_workers + remote_gpu_workers) if executor == "celery" else 1


def gpu_slots_from_env() -> int:
    """The same from WAGGLE_EXECUTOR / WAGGLE_GPU_WORKERS / WAGGLE_REMOTE_GPU_WORKERS
    alone: DAG files must not fail on the rest of the settings (the database URL, say)."""
    counts = []
    for name, default in (("WAGGLE_GPU_WORKERS", 1), ("WAGGLE_REMOTE_GPU_WORKERS", 0)):
        try:
            counts.append(int(os.environ.get(name, default)))
        except ValueError:
            counts.append(default)
    return gpu_slots(os.environ.get("WAGGLE_EXECUTOR", "local"), *counts)
