"""Airflow 3.3 as separate processes: api-server, scheduler, dag-processor, triggerer.

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
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import requests

from wagglebot.config import REPO_ROOT, Settings
from wagglebot.stack import celery_workers
from wagglebot.stack.postgres import PostgreSQL
from wagglebot.stack.procs import ProcessManager, ServiceError, log_tail
from wagglebot.stack.redis import Redis

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
    def __init__(self, procs: ProcessManager, settings: Settings) -> None:
        self.procs = procs
        self.settings = settings
        self.home = procs.home / "airflow"
        self.port = settings.airflow_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.passwords_file = self.home / "simple_auth_manager_passwords.json"
        self.celery = settings.executor == "celery"
        self.mode_file = mode_file(procs.home)

    # Celery mode's metadata DB and broker: made on first use, so local mode keeps no
    # secrets for servers it never starts.
    @functools.cached_property
    def postgres(self) -> PostgreSQL:
        password = _secret_file(self.home / "postgres_password", secrets.token_urlsafe(24))
        return PostgreSQL(self.procs, self.settings.postgres_port, password)

    @functools.cached_property
    def redis(self) -> Redis:
        password = _secret_file(self.home / "redis_password", secrets.token_urlsafe(24))
        return Redis(self.procs, self.settings.redis_port, password)

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
        log_dir = self.procs.log_dir / "airflow"
        venv_bin = str(Path(sys.executable).parent)
        users = f"{ADMIN}:admin,{self.settings.airflow_username}:user"
        return {
            **os.environ,
            **self.settings.as_env(),
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW_HOME": str(self.home),
            **(self._celery_env() if self.celery else self._local_env()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "wagglebot.worker_node.hostname",
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
        }

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

    def running_mode(self) -> str | None:
        """The executor the running Airflow was started with, or None when it is stopped."""
        if not any(self.procs.pid(f"airflow-{c}") for c in COMPONENTS):
            return None
        return str(recorded_mode(self.procs.home).get("executor", "local"))

    def healthy(self) -> bool:
        try:
            health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=3).json()
        except (requests.RequestException, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
        return all(health.get(p, {}).get("status") == "healthy" for p in parts)

    def start(self, timeout: float = 180.0) -> bool:
        """Start every component (and worker) that is not running; True if any started now."""
        mode = self.settings.executor
        running = self.running_mode()
        if running and running != mode:
            raise ServiceError(
                f"Airflow is running with the {running} executor; stop it with "
                f"./wagglebot down before starting it with the {mode} executor"
            )
        workers = self.workers()
        if (
            all(self.procs.pid(f"airflow-{c}") for c in COMPONENTS)
            and all(self.procs.pid(w.name) for w in workers)
            and self.healthy()
        ):
            return False
        if self.celery:
            self.postgres.start()
            self.redis.start()
        self.prepare()
        self.procs.run_dir.mkdir(parents=True, exist_ok=True)
        self.mode_file.write_text(
            json.dumps({"executor": mode, "gpu_workers": self.settings.gpu_workers})
        )
        env = self.env()
        ports = {"api-server": self.port, "scheduler": self.port + 1, "triggerer": self.port + 2}
        if self.celery:  # the scheduler runs no task here, so it serves no task logs
            del ports["scheduler"]
        for component in COMPONENTS:
            argv = [airflow_bin(), component]
            self.procs.start(
                f"airflow-{component}", argv, env, port=ports.get(component), cwd=self.home
            )
        for worker in workers:
            self.procs.start(
                worker.name,
                celery_workers.argv(airflow_bin(), worker, self.procs),
                celery_workers.env(env, worker),
                cwd=self.home,
            )
        self.procs.wait_until("airflow-api-server", self._up_and_healthy, timeout, "healthy")
        for worker in workers:
            answers = functools.partial(self._worker_answers, worker.node)
            self.procs.wait_until(worker.name, answers, timeout, "answering")
        return True

    def _worker_answers(self, node: str) -> bool:
        """A Celery worker is up once it answers a control ping through the broker."""
        return node in celery_workers.answering(self.redis.url)

    def _up_and_healthy(self) -> bool:
        for component in COMPONENTS:
            name = f"airflow-{component}"
            if self.procs.pid(name) is None:
                log = self.procs.logfile(name)
                raise ServiceError(
                    f"{name} exited during start-up; last lines of {log}:\n" + log_tail(log)
                )
        return self.healthy()

    def stop(self) -> list[str]:
        # The scheduler first, so nothing new is queued; then the rest together (a Celery
        # worker's warm shutdown waits for its running tasks up to the timeout); the broker
        # and the metadata DB last.
        stopped = self.procs.stop("airflow-scheduler", timeout=20)
        others = [f"airflow-{c}" for c in COMPONENTS if c != "scheduler"]
        stopped += self.procs.stop(*others, *celery_workers.running_names(self.procs), timeout=30)
        stopped += self.procs.stop(Redis.name, timeout=10)
        stopped += self.procs.stop(PostgreSQL.name, timeout=30)
        self.mode_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, str]:
        """Each component, worker and backing server by name: running or stopped."""
        state = {
            c: ("running" if self.procs.pid(f"airflow-{c}") else "stopped") for c in COMPONENTS
        }
        if self.celery:
            answering = celery_workers.answering(self.redis.url) if self.redis.running() else set()
            for worker in self.workers():
                if not self.procs.pid(worker.name):
                    state[worker.name.removeprefix("airflow-")] = "stopped"
                    continue
                ok = "answering" if worker.node in answering else "not answering"
                cuda = (
                    f", CUDA device {worker.cuda_device}" if worker.cuda_device is not None else ""
                )
                state[worker.name.removeprefix("airflow-")] = (
                    f"running, queue {worker.queue}, concurrency {worker.concurrency}{cuda}, {ok}"
                )
        return state


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
