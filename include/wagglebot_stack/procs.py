"""What every service of the local stack shares: its folders, its program, its checks.

supervisord runs each service (wagglebot_stack.supervisor); a service here says
what to run (``argv``, ``env``), what to make ready first (``before_start``, run
by the launcher just before it execs the program), how supervisord should stop
it, and how to tell it is answering.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

import psutil

from wagglebot.ops.supervision import service_log


class ServiceError(RuntimeError):
    """A service failed to start or answer; the message carries its log tail."""


class StackPaths:
    """Where the stack keeps its state: ``run/`` (sockets, records), ``log/`` (service logs)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.run_dir = home / "run"
        self.log_dir = home / "log"

    def logfile(self, name: str) -> Path:
        return service_log(self.home, name)

    def make(self) -> None:
        for folder in (self.run_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)


def debian_binary(name: str, package: str) -> str:
    """A server's binary from a Debian package (some live in /usr/sbin, off a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise ServiceError(f"{name} not found: install Debian's {package} (./wagglebot install)")
    return found


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as ``user`` (its own group, no others)."""
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def port_owner(port: int) -> str:
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                proc = psutil.Process(conn.pid) if conn.pid else None
                return f"pid {conn.pid}: {' '.join(proc.cmdline())[:120]}" if proc else "unknown"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return "owner unknown"


def refuse_busy_ports(ports: list[int]) -> None:
    """Fail with the owner's name rather than start a server that fails later, vaguer."""
    for port in ports:
        if port_in_use(port):
            raise ServiceError(
                f"127.0.0.1:{port} is already in use ({port_owner(port)}); stop that process "
                "or choose another port in .env"
            )


class Service:
    """One service of the stack: a supervised program on a port, up once ``answers()``."""

    name: str
    priority = 500  # supervisord's start order (lower first); it stops in reverse
    stop_signal = "TERM"
    stop_wait = 20  # seconds from the stop signal to SIGKILL of the whole group
    stop_as_group = True  # False: only the main process gets the stop signal (it drains)
    # What the launcher makes ready first: "app-db" (MariaDB provisioned and migrated),
    # "airflow-db" (Airflow's metadata DB migrated, its pools set).
    requires: tuple[str, ...] = ()

    def __init__(self, paths: StackPaths, port: int | None, cwd: Path | None = None) -> None:
        self.paths, self.port = paths, port
        self.cwd = cwd or paths.home

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def run_as(self) -> str | None:
        """The OS user the program runs as (None: the supervisor's own)."""
        return None

    def ports(self) -> list[int]:
        return [self.port] if self.port else []

    def before_start(self) -> None:
        """Make the service ready to start (data folders, config files); idempotent."""

    def answers(self) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        """What a running, answering service offers, for ``status``."""
        return f"on 127.0.0.1:{self.port}"
