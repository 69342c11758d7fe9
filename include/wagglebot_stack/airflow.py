"""Airflow 3.3 as supervised programs: api-server, scheduler, dag-processor, triggerer.

Local mode: SQLite metadata DB at an absolute path and LocalExecutor. Celery mode
(``executor = celery``): PostgreSQL as the metadata DB, Redis as the broker,
CeleryExecutor, and Celery workers on queues ``default`` and ``gpu`` (the pool
``gpu`` sized to the gpu workers). Both: SimpleAuthManager with
an admin and a user-role account for the dashboard, an explicit JWT secret,
DAGs unpaused at creation, and the pool ``gpu`` imported from
deploy/airflow-pools.json (a task in a pool that does not exist never runs).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wagglebot.core.config import REPO_ROOT, Settings
from wagglebot.ops.alerts import apprise_connection
from wagglebot.orchestration import api as airflow_api
from wagglebot_stack import celery_workers
from wagglebot_stack.postgres import PostgreSQL
from wagglebot_stack.procs import Service, ServiceError, StackPaths
from wagglebot_stack.redis import Redis

POOLS_FILE = REPO_ROOT / "deploy" / "airflow-pools.json"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN = "admin"


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _secret_file(path: Path, make: str) -> str:
    """Read a generated secret, creating it (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make)
    return path.read_text().strip()


class Airflow:
    def __init__(self, paths: StackPaths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self.home = paths.home / "airflow"
        self.port = settings.airflow_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.passwords_file = self.home / "simple_auth_manager_passwords.json"
        self.celery = settings.executor == "celery"
        self._answers: dict[str, tuple[float, Any]] = {}  # see _recent

    # Celery mode's metadata DB and broker: made on first use, so local mode keeps no
    # secrets for servers it never starts.
    @functools.cached_property
    def postgres(self) -> PostgreSQL:
        password = _secret_file(self.home / "postgres_password", secrets.token_urlsafe(24))
        return PostgreSQL(self.paths, self.settings.postgres_port, password)

    @functools.cached_property
    def redis(self) -> Redis:
        password = _secret_file(self.home / "redis_password", secrets.token_urlsafe(24))
        return Redis(self.paths, self.settings.redis_port, password)

    def workers(self) -> list[celery_workers.Worker]:
        if not self.celery:
            return []
        return celery_workers.plan(
            self.settings.gpu_workers,
            self.settings.airflow_parallelism,
            celery_workers.cuda_devices(),
        )

    # -- configuration -------------------------------------------------------------------

    def _passwords(self) -> dict[str, str]:
        """The admin's generated password and the dashboard's (from WAGGLE_AIRFLOW_PASSWORD)."""
        self.home.mkdir(parents=True, exist_ok=True)
        current = (
            json.loads(self.passwords_file.read_text()) if self.passwords_file.exists() else {}
        )
        wanted = dict(current)
        wanted.setdefault(ADMIN, secrets.token_urlsafe(12))
        dash = self.settings.airflow_password
        wanted[self.settings.airflow_username] = (
            dash.get_secret_value()
            if dash
            else current.get(self.settings.airflow_username) or secrets.token_urlsafe(12)
        )
        if wanted != current:
            tmp = self.passwords_file.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(wanted, fh)
            tmp.replace(self.passwords_file)
        return wanted

    def admin_password(self) -> str:
        return self._passwords()[ADMIN]

    def env(self) -> dict[str, str]:
        """The environment every Airflow process (and so every task) runs with."""
        self._passwords()
        log_dir = self.paths.log_dir / "airflow"
        venv_bin = str(Path(sys.executable).parent)
        users = f"{ADMIN}:admin,{self.settings.airflow_username}:user"
        return {
            **os.environ,
            **self.settings.as_env(),
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": str(self.home),
            **(self._celery_env() if self.celery else self._local_env()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "wagglebot.orchestration.worker_node.hostname",
            "AIRFLOW__CORE__PARALLELISM": str(self.settings.airflow_parallelism),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.settings.airflow_dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": _secret_file(self.home / "fernet_key", _fernet_key()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__API_AUTH__JWT_SECRET": _secret_file(
                self.home / "jwt_secret",
                secrets.token_urlsafe(64),  # HS512: 64 bytes
            ),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(log_dir),
            "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(
                log_dir / "dag_processor"
            ),
            # The scheduler's and triggerer's log servers sit just above the API port,
            # so a second stack (the test suite's) never collides with this one.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.port + 1),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.port + 2),
            # New DAG files show up within seconds rather than minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            # A scheduler that died (and was started again) leaves its running tasks to
            # nobody: the new one resets them for a retry at its next orphan check. Every
            # minute, not Airflow's 5, so a crash costs a task about a minute and a half.
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "60",
            **self._alerts_env(),
        }

    def _alerts_env(self) -> dict[str, str]:
        """Airflow's apprise connection for the alert URLs (in memory only: never written
        to a file or a log)."""
        conn = apprise_connection(self.settings)
        return {"AIRFLOW_CONN_APPRISE_DEFAULT": conn} if conn else {}

    def _local_env(self) -> dict[str, str]:
        return {
            # SQLite lets one writer in at a time; the scheduler, the API server and the task
            # processes all write. Its default 5 s wait for the lock ran out on a busy
            # 2-core machine (an HTTP 500 "Database error" on a trigger): wait up to 60 s.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db?timeout=60",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        }

    def _celery_env(self) -> dict[str, str]:
        pg = self.postgres.url
        return {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{pg}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.settings.airflow_parallelism),
        }

    # -- lifecycle -----------------------------------------------------------------------

    def _cli(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [airflow_bin(), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ServiceError(
                f"airflow {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def prepared_as(self) -> dict[str, object]:
        """What ``prepare`` depends on: a change in any of these prepares again."""
        return {
            "airflow": importlib.metadata.version("apache-airflow"),
            "executor": self.settings.executor,
            "gpu_slots": self.settings.gpu_slots,
            "pools": POOLS_FILE.read_text(),
        }

    def prepare(self) -> None:
        """Migrate the metadata DB and set the pools (both idempotent)."""
        self._cli("db", "migrate")
        self._cli("pools", "import", str(POOLS_FILE))
        if self.celery:  # one slot per gpu worker, cluster-wide
            self.set_gpu_slots(self.settings.gpu_slots)

    def set_gpu_slots(self, slots: int) -> None:
        """Size pool gpu: how many GPU tasks run at once across the cluster."""
        description = json.loads(POOLS_FILE.read_text())["gpu"]["description"]
        self._cli("pools", "set", "gpu", str(slots), description)

    def _recent(self, key: str, ask: Callable[[], Any]) -> Any:
        """One answer serves every component or worker asking within a second: a status
        asks each in turn, and one health query or broker ping answers for all."""
        now = time.monotonic()
        at, value = self._answers.get(key, (float("-inf"), None))
        if now - at > 1.0:
            value = ask()
            self._answers[key] = (now, value)
        return value

    def health(self) -> dict:
        return self._recent("health", lambda: airflow_api.health(self.url))

    def healthy(self) -> bool:
        health = self.health()
        parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        return all(health.get(p, {}).get("status") == "healthy" for p in parts)

    def services(self) -> list[Service]:
        """The components, then (celery mode) the workers, as supervised programs."""
        components: list[Service] = [AirflowComponent(self, c) for c in COMPONENTS]
        return components + [CeleryWorker(self, w) for w in self.workers()]

    def worker_answers(self, node: str) -> bool:
        """A Celery worker is up once it answers a control ping through the broker."""
        return node in self._recent("ping", lambda: celery_workers.answering(self.redis.url))


class AirflowComponent(Service):
    """One Airflow process: api-server, scheduler, dag-processor or triggerer."""

    priority = 300
    requires = ("app-db", "airflow-db")

    def __init__(self, airflow: Airflow, component: str) -> None:
        super().__init__(airflow.paths, None, cwd=airflow.home)
        self.airflow, self.component = airflow, component
        self.name = f"airflow-{component}"
        if component == "scheduler":
            # SIGTERM lets the scheduler drain its own executor workers and log server;
            # what is still there after stop_wait is killed with the group.
            self.stop_as_group = False
            self.stop_wait = 30

    def ports(self) -> list[int]:
        port = self.airflow.port
        if self.component == "api-server":
            return [port]
        if self.component == "scheduler" and not self.airflow.celery:
            return [port + 1]  # its log server; in celery mode it runs no task
        return [port + 2] if self.component == "triggerer" else []

    def argv(self) -> list[str]:
        return [airflow_bin(), self.component]

    def env(self) -> dict[str, str]:
        return self.airflow.env()

    def answers(self) -> bool:
        health = self.airflow.health()
        if self.component == "api-server":  # it answers at all
            return bool(health)
        part = self.component.replace("-", "_")  # its part of the health JSON
        return health.get(part, {}).get("status") == "healthy"

    def describe(self) -> str:
        return f"at {self.airflow.url}" if self.component == "api-server" else "heartbeating"


class CeleryWorker(Service):
    """A Celery worker (celery mode): TERM is its warm shutdown, running tasks finish."""

    priority = 400
    stop_wait = 60
    requires = ("app-db", "airflow-db")

    def __init__(self, airflow: Airflow, worker: celery_workers.Worker) -> None:
        super().__init__(airflow.paths, None, cwd=airflow.home)
        self.airflow, self.worker = airflow, worker
        self.name = worker.name

    def argv(self) -> list[str]:
        return celery_workers.argv(airflow_bin(), self.worker, self.paths)

    def env(self) -> dict[str, str]:
        return celery_workers.env(self.airflow.env(), self.worker)

    def answers(self) -> bool:
        return self.airflow.worker_answers(self.worker.node)

    def describe(self) -> str:
        w = self.worker
        cuda = f", CUDA device {w.cuda_device}" if w.cuda_device is not None else ""
        return f"queue {w.queue}, concurrency {w.concurrency}{cuda}"


def mode_file(stack_home: Path) -> Path:
    return stack_home / "run" / "airflow-executor.json"


def recorded_mode(stack_home: Path) -> dict[str, object]:
    """What the last ``up`` started Airflow with (executor, gpu_workers); {} if unknown.
    Commands other than ``up`` act on the stack as it was started."""
    try:
        return json.loads(mode_file(stack_home).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
