"""Celery workers of the local celery mode: one on queue ``default``, N on queue ``gpu``.

Each gpu worker takes one task at a time (``--concurrency 1``) and, on a machine
with NVIDIA GPUs, sees only its own card (``CUDA_VISIBLE_DEVICES``). All of them
share this machine's log folder, so none serves logs over HTTP; a worker on
another host would (docs/scale-out.md). A worker is up once it answers a Celery
control ping through the broker under its node name.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from wagglebot.orchestration.routing import DEFAULT_QUEUE, GPU_QUEUE
from wagglebot.orchestration.worker_node import NODE_VAR
from wagglebot_stack.procs import ServiceError, StackPaths

PREFIX = "airflow-worker"


@dataclass(frozen=True)
class Worker:
    name: str  # the service name: its program and log
    queue: str
    concurrency: int
    cuda_device: int | None = None

    @property
    def node(self) -> str:
        """Celery's node name, also what Airflow records as the task instance's host."""
        short = self.name.removeprefix(f"{PREFIX}-") if self.name != PREFIX else "default"
        return f"{short}@{socket.getfqdn()}"


def cuda_devices() -> int:
    """How many NVIDIA GPUs this machine has (0 without a driver)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return 0
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))


def plan(gpu_workers: int, default_concurrency: int, gpus: int) -> list[Worker]:
    """The workers to run: with GPUs, one per card and never more workers than cards."""
    if gpus and gpu_workers > gpus:
        raise ServiceError(
            f"{gpu_workers} gpu workers asked for, but this machine has {gpus} GPU(s): "
            f"use --gpu-workers {gpus}, or add a GPU host (docs/scale-out.md)"
        )
    workers = [Worker(PREFIX, DEFAULT_QUEUE, default_concurrency)]
    for n in range(1, gpu_workers + 1):
        workers.append(Worker(f"{PREFIX}-gpu-{n}", GPU_QUEUE, 1, n - 1 if gpus else None))
    return workers


def argv(airflow: str, worker: Worker, paths: StackPaths) -> list[str]:
    return [
        airflow,
        "celery",
        "worker",
        *("--queues", worker.queue),
        *("--concurrency", str(worker.concurrency)),
        *("--celery-hostname", worker.node),
        # Airflow's own pid file defaults to one per AIRFLOW_HOME: one per worker here.
        *("--pid", str(paths.run_dir / f"{worker.name}.celery.pid")),
        "--skip-serve-logs",
        "--without-mingle",
        "--without-gossip",
    ]


def env(base: Mapping[str, str], worker: Worker) -> dict[str, str]:
    out = {**base, NODE_VAR: worker.node}
    if worker.cuda_device is not None:
        out["CUDA_VISIBLE_DEVICES"] = str(worker.cuda_device)
    return out


def answering(broker_url: str, timeout: float = 2.0) -> set[str]:
    """The node names of the workers that answer a control ping now."""
    from celery import Celery

    app = Celery(broker=broker_url)
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception:  # the broker itself is down: nobody answers
        return set()
    finally:
        app.close()
    return {name for reply in replies for name in reply}
