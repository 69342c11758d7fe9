"""A whole local stack started through its command line, as a user starts it, for tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from wagglebot.core.config import Settings
from wagglebot.ops.supervision import ProgramState, read_states, supervisor_socket
from wagglebot.orchestration.api import AirflowClient

from conftest import REPO


@dataclass
class RunningStack:
    settings: Settings
    env: dict[str, str]
    up_output: str

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.settings.airflow_port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.settings.dashboard_port}"

    def cli(self, *args: str, timeout: float = 400, stdin: str | None = None):
        return subprocess.run(
            [sys.executable, "-m", "wagglebot_stack", *args],
            env=self.env,
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def token(self, user: str, password: str) -> str:
        resp = requests.post(
            f"{self.api}/auth/token", json={"username": user, "password": password}, timeout=10
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["access_token"]

    def client(self) -> AirflowClient:
        return AirflowClient(self.api, "dashboard", "dash-pw")

    def programs(self) -> dict[str, ProgramState]:
        """The stack's programs as its supervisord reports them ({} when it is down)."""
        return read_states(supervisor_socket(self.settings.stack_home)) or {}

    def pid(self, name: str) -> int:
        state = self.programs()[name]
        assert state.running, state
        return state.pid

    def ctl(self, *args: str) -> str:
        """supervisorctl on the stack's supervisord (its answer; a failed start is one)."""
        config = self.settings.stack_home / "supervisord.conf"
        supervisorctl = str(Path(sys.executable).with_name("supervisorctl"))
        done = subprocess.run(
            [supervisorctl, "-c", str(config), *args], capture_output=True, text=True, timeout=120
        )
        return done.stdout + done.stderr

    def admin_token(self) -> str:
        passwords = self.settings.stack_home / "airflow" / "simple_auth_manager_passwords.json"
        return self.token("admin", json.loads(passwords.read_text())["admin"])


def succeeded(client: AirflowClient, dag_id: str, run_id: str, timeout: float = 600) -> dict:
    """The run once finished, which must have succeeded: else the failed tasks' log tails."""
    run = client.wait(dag_id, run_id, timeout=timeout)
    assert run["state"] == "success", client.why_failed(dag_id, run_id)
    return run


def stack_env(settings: Settings, home: Path, dag_folders: list[Path]) -> dict[str, str]:
    """The environment a user's shell would have: the stack's settings and nothing of ours."""
    dags = home / "dags"
    dags.mkdir(exist_ok=True)
    for folder in dag_folders:
        for dag_file in folder.glob("*.py"):
            shutil.copy(dag_file, dags)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WAGGLE_", "AIRFLOW"))},
        **settings.as_env(),
        "WAGGLE_AIRFLOW_DAGS_FOLDER": str(dags),
        "WAGGLE_ENV_FILE": str(home / ".env"),
    }


def under(proc: psutil.Process, home: Path) -> bool:
    """A process of the stack: its working directory or command line is under its home."""
    try:
        return proc.cwd().startswith(str(home)) or str(home) in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def stack_processes(home: Path) -> list[psutil.Process]:
    """Every process in the whole table that belongs to the stack at ``home``."""
    return [p for p in psutil.process_iter() if p.pid != os.getpid() and under(p, home)]


@contextlib.contextmanager
def brought_up(
    settings: Settings, env: dict[str, str], *up_args: str, returncode: int = 0
) -> Iterator[RunningStack]:
    """``up`` run as a user runs it, exiting with ``returncode``; ``down`` however it ends."""
    running = RunningStack(settings, env, "")
    done = running.cli("up", *up_args)
    running.up_output = done.stdout + done.stderr
    try:
        assert done.returncode == returncode, running.up_output
        yield running
    finally:
        running.cli("down", timeout=180)
