"""The local stack without Docker: MariaDB, Airflow and the dashboard under supervisord.

``python -m wagglebot_stack up|down|status`` (through ./wagglebot) is the one
way to start and stop them; the test suite uses the same classes with its own
home directory and ports. supervisord (wagglebot_stack.supervisor) keeps every
service running; each program is started by wagglebot_stack.launch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from wagglebot.core.config import ENV_FILE, ENV_PREFIX, Settings, load_settings
from wagglebot.ops.supervision import log_tail
from wagglebot_stack import leftovers
from wagglebot_stack.airflow import Airflow, mode_file, recorded_mode
from wagglebot_stack.dashboard_service import DashboardService
from wagglebot_stack.fake_services import (
    FakeInstagramService,
    FakeTikTokService,
    FakeYouTubeService,
)
from wagglebot_stack.mariadb import MariaDB
from wagglebot_stack.metrics_service import MetricsService
from wagglebot_stack.procs import Service, ServiceError, StackPaths
from wagglebot_stack.sample_site_service import SampleSiteService
from wagglebot_stack.supervisor import LogPolicy, ProgramState, Supervisor

__all__ = ["ServiceError", "Stack", "ensure_env_file", "set_dashboard_user", "stack_settings"]
USERS_VAR = f"{ENV_PREFIX}DASHBOARD_USERS"
FIRST_REVIEWER = "reviewer"
START_TIMEOUT = 300.0  # a first start migrates Airflow's metadata DB


def stack_settings(*, for_up: bool = False, **chosen: object) -> Settings:
    """The stack's settings. ``up`` takes the executor from its flags (``chosen``) or the
    settings; every other command, and every program supervisord starts, acts on the
    stack as its last ``up`` started it."""
    if not for_up:
        chosen = recorded_mode(load_settings().stack_home)
    chosen = {k: v for k, v in chosen.items() if v is not None}
    return load_settings(**chosen)


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = StackPaths(settings.stack_home)
        self.mariadb = MariaDB(self.paths, settings.db_url.get_secret_value())
        self.airflow = Airflow(self.paths, settings)
        self.dashboard = DashboardService(self.paths, settings)
        self.metrics = MetricsService(self.paths, settings)
        self.sample_site = SampleSiteService(self.paths, settings)
        self.fake_youtube = FakeYouTubeService(self.paths, settings)
        self.fake_tiktok = FakeTikTokService(self.paths, settings)
        self.fake_instagram = FakeInstagramService(self.paths, settings)
        self.supervisor = Supervisor(
            self.paths,
            LogPolicy(settings.service_log_max_bytes, settings.service_log_backups),
            settings.service_start_retries,
        )

    # -- what runs -----------------------------------------------------------------------

    def services(self) -> list[Service]:
        """Every service this stack runs, in start order."""
        out: list[Service] = [self.mariadb]
        if self.airflow.celery:
            out += [self.airflow.postgres, self.airflow.redis]
        if self.settings.crawl_target == "sample":
            out.append(self.sample_site)
        fakes = (self.fake_youtube, self.fake_tiktok, self.fake_instagram)
        out += [fake for fake in fakes if fake.wanted]  # sample mode, no account connected
        return [*out, *self.airflow.services(), self.dashboard, self.metrics]

    def service(self, name: str) -> Service:
        for service in self.services():
            if service.name == name:
                return service
        raise ServiceError(f"no service {name!r} in this stack")

    # -- readiness -----------------------------------------------------------------------

    @contextmanager
    def _prepare_lock(self) -> Iterator[None]:
        self.paths.make()
        with (self.paths.run_dir / "prepare.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # several launchers may ask at once
            yield

    def _marker(self, part: str) -> Path:
        return self.paths.run_dir / f"prepared-{part}.json"

    def _prepared_as(self, part: str) -> dict[str, object]:
        if part == "airflow-db":
            return self.airflow.prepared_as()
        url = self.settings.db_url.get_secret_value()
        return {"db": hashlib.sha256(url.encode()).hexdigest()}

    def prepare(self, parts: Sequence[str], timeout: float = 120.0) -> None:
        """Make each part ready once (marked in run/; ``up`` clears the marks): "app-db"
        provisions and migrates MariaDB, "airflow-db" migrates Airflow's metadata DB."""
        if not parts:
            return
        with self._prepare_lock():
            for part in parts:
                wanted = self._prepared_as(part)
                marker = self._marker(part)
                try:
                    if json.loads(marker.read_text()) == wanted:
                        continue
                except (FileNotFoundError, ValueError):
                    pass
                if part == "app-db":
                    _wait_for(self.mariadb, timeout)
                    self.mariadb.provision()
                elif part == "airflow-db":
                    if self.airflow.celery:
                        _wait_for(self.airflow.postgres, timeout)
                        self.airflow.postgres.provision()
                    self.airflow.prepare()
                else:
                    raise ValueError(f"unknown part {part!r}")
                marker.write_text(json.dumps(wanted))

    # -- up, down ------------------------------------------------------------------------

    def up(self, say: Callable[[str], None] = lambda _msg: None,
           only: Sequence[str] | None = None) -> None:  # fmt: skip
        """Start every service (or ``only`` these) under supervisord and wait until each
        answers. Running services are left alone; stopped and FATAL ones start again."""
        services = self.services() if only is None else [self.service(n) for n in only]
        running = self.supervisor.pid() is not None
        if running and only is None:
            was = recorded_mode(self.paths.home).get("executor", "local")
            if was != self.settings.executor:
                raise ServiceError(
                    f"Airflow is running with the {was} executor; stop it with ./wagglebot "
                    f"down before starting it with the {self.settings.executor} executor"
                )
        self.settings.media_root.mkdir(parents=True, exist_ok=True)
        self.paths.make()
        if only is None:
            mode_file(self.paths.home).write_text(json.dumps(
                {"executor": self.settings.executor, "gpu_workers": self.settings.gpu_workers}
            ))  # fmt: skip
        self.supervisor.write_config(services)
        if running:
            self.supervisor.apply()
        else:
            ended = leftovers.end_leftovers(self.paths, None)
            if ended:
                say(f"ended {ended} processes left running by a supervisord that died")
            for part in ("app-db", "airflow-db"):  # prepare again: the code may be newer
                self._marker(part).unlink(missing_ok=True)
            if only is None and self.airflow.celery:
                n = self.settings.gpu_workers
                say(
                    "Airflow runs with CeleryExecutor: PostgreSQL (its metadata DB), Redis "
                    "(the broker), api-server, scheduler, dag-processor, triggerer, a "
                    f"default-queue worker and {n} gpu-queue worker{'s' if n > 1 else ''}"
                )
            say(f"starting supervisord, which starts and watches {_names(services)} ...")
            self.supervisor.start({**os.environ, **self.supervisor_environment()})
        for service in services:
            self.wait_answering(service, START_TIMEOUT)
            if service is self.mariadb:
                self.prepare(["app-db"])

    def supervisor_environment(self) -> dict[str, str]:
        """The settings supervisord runs the stack with, as WAGGLE_* variables, for every
        program's launcher: those ``up`` was given (its environment, its flags), not those
        in .env, which each launcher reads afresh (an account added later counts at the
        next restart). Also kept in ``supervisor.env`` (0600), which a supervisord started
        at boot (wagglebot_stack.systemd) reads, so it runs the stack as the last ``up``."""
        in_dotenv = dotenv_values(ENV_FILE) if ENV_FILE.exists() else {}
        given = {
            k: v for k, v in self.settings.as_env().items() if k in os.environ or k not in in_dotenv
        }
        env = {**given, f"{ENV_PREFIX}ENV_FILE": str(ENV_FILE)}
        lines = [f'{k}="{_systemd_escape(v)}"' for k, v in sorted(env.items())]
        path = self.supervisor.environment_file
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# Written by ./wagglebot up: the settings the stack runs with.\n")
            fh.write("\n".join(lines) + "\n")
        tmp.replace(path)
        return env

    def wait_answering(self, service: Service, timeout: float) -> None:
        """Wait until supervisord runs the service and it answers; fail with its log tail
        if it ends FATAL (its start retries spent) or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = (self.supervisor.states() or {}).get(service.name)
            if state and state.running and service.answers():
                return
            if state and state.state == "FATAL":
                raise ServiceError(_down_message(state))
            time.sleep(0.5)
        raise ServiceError(
            f"{service.name} did not answer within {timeout:.0f}s; last lines of "
            f"{self.paths.logfile(service.name)}:\n{log_tail(self.paths.logfile(service.name))}"
        )

    def stop_seconds(self) -> int:
        """How long a whole stop may take: supervisord stops the programs one at a time."""
        return sum(s.stop_wait for s in self.services()) + 60

    def down(self) -> int:
        """Stop everything (supervisord stops the programs in reverse start order, each
        one's whole process group), then end anything a hard death left behind; returns
        how many such leftovers there were."""
        self.supervisor.shutdown(timeout=self.stop_seconds())
        # The mode file stays: a supervisord started at boot runs the stack as last started.
        return leftovers.sweep(self.paths)

    # -- state ---------------------------------------------------------------------------

    def report(self) -> list[ServiceReport]:
        """Each service's state as supervisord sees it, its uptime and restarts, and
        whether it answers."""
        states = self.supervisor.states() or {}
        out = []
        for service in self.services():
            state = states.get(service.name)
            out.append(
                ServiceReport(
                    service=service,
                    program=state,
                    restarts=leftovers.restarts(self.paths, service.name) if state else 0,
                    answering=(state is None or state.running) and service.answers(),
                )
            )
        return out


@dataclass(frozen=True)
class ServiceReport:
    service: Service
    program: ProgramState | None  # None: supervisord does not run it (or is not running)
    restarts: int
    answering: bool

    @property
    def name(self) -> str:
        return self.service.name

    def line(self) -> str:
        p = self.program
        answer = self.service.describe() if self.answering else "NOT ANSWERING"
        if p is None:
            return f"NOT SUPERVISED  {answer if self.answering else 'not running'}"
        if not p.running:
            said = p.description or _STATE_SAYS.get(p.state, "not running")
            return f"{p.state}  {said}; {self.restarts} restarts"
        days, rest = divmod(int(p.uptime_s), 86400)
        uptime = (f"{days}d " if days else "") + time.strftime("%H:%M:%S", time.gmtime(rest))
        return f"RUNNING  pid {p.pid}, up {uptime}, {self.restarts} restarts; {answer}"


# What a state means when supervisord gives no description of its own.
_STATE_SAYS = {
    "STARTING": "being started again by supervisord",
    "BACKOFF": "failed to start; supervisord tries again",
    "STOPPING": "stopping",
    "STOPPED": "stopped",
    "EXITED": "exited; supervisord starts it again",
}


def _down_message(state: ProgramState) -> str:
    return (
        f"{state.name} is {state.state} ({state.description}); last lines of "
        f"{state.logfile}:\n{log_tail(state.logfile, 15)}"
    )


def _systemd_escape(value: str) -> str:
    """A value inside double quotes, as systemd's EnvironmentFile reads it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _names(services: Sequence[Service]) -> str:
    return ", ".join(s.name for s in services)


def _wait_for(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not service.answers():
        if time.monotonic() > deadline:
            raise ServiceError(f"{service.name} did not answer within {timeout:.0f}s")
        time.sleep(1)


def ensure_env_file(path: Path = ENV_FILE) -> list[str]:
    """On first run, write generated secrets to .env (mode 0600); returns the names added.

    Values already set in the environment or in the file are kept.
    """
    existing = path.read_text() if path.exists() else ""
    have = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    generated = {
        "DB_URL": lambda: (
            f"mysql+mysqldb://wagglebot:{secrets.token_urlsafe(18)}@127.0.0.1:3307/wagglebot"
            "?charset=utf8mb4"
        ),
        "AIRFLOW_PASSWORD": lambda: secrets.token_urlsafe(12),
        # A fresh install crawls the bundled sample site; set "live" for the real ones.
        "CRAWL_TARGET": lambda: "sample",
    }
    added = []
    lines = []
    for key, make in generated.items():
        name = ENV_PREFIX + key
        if name not in have and name not in os.environ:
            lines.append(f"{name}={make()}")
            added.append(name)
    if lines:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            if existing and not existing.endswith("\n"):
                fh.write("\n")
            fh.write("# Generated by ./wagglebot up on first run; keep private.\n")
            fh.write("\n".join(lines) + "\n")
        path.chmod(0o600)  # a .env the user made earlier may be world-readable
    return added


def set_dashboard_user(name: str, password: str, path: Path = ENV_FILE) -> None:
    """Add a dashboard account, or give an existing one a new password, in .env (0600).

    Only the scrypt hash is written; the password itself is kept nowhere.
    """
    from wagglebot.review.auth import USER_NAME, hash_password

    if not USER_NAME.match(name):
        raise ValueError(f"user name {name!r}: letters, digits, '.', '_', '-' only")
    current = dotenv_values(path).get(USERS_VAR) if path.exists() else None
    users = json.loads(current) if current else {}
    users[name] = hash_password(password)
    line = f"{USERS_VAR}='{json.dumps(users, sort_keys=True)}'"
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [ln for ln in lines if not ln.startswith(f"{USERS_VAR}=")]
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join([*kept, line]) + "\n")
    path.with_suffix(".tmp").replace(path)


def ensure_dashboard_user(path: Path = ENV_FILE) -> str | None:
    """On first run, create the dashboard account ``reviewer`` with a generated password;
    returns the password (to show once), or None when accounts exist already."""
    if USERS_VAR in os.environ or (path.exists() and dotenv_values(path).get(USERS_VAR)):
        return None
    password = secrets.token_urlsafe(12)
    set_dashboard_user(FIRST_REVIEWER, password, path)
    return password
