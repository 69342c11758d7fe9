"""Background services as process groups, with pid files and a marker that finds stragglers.

Each service starts in a new session (its own process group) with its output
appended to a log file; its pid file holds the pid and the process start time in
clock ticks since boot, so a reused pid is never mistaken for the service. (Not
the wall-clock start time: the kernel derives that from the boot time, which
moves by a second or more when the clock is adjusted, and a live service would
then look dead.) ``stop`` gathers the whole
process tree before signalling (children that started their own session are
still in it), and every process also inherits ``WAGGLEBOT_STACK=<stack home>``
so ``sweep`` can find stragglers. The variable alone is not enough: Airflow's
setproctitle overwrites /proc/PID/environ.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

MARKER = "WAGGLEBOT_STACK"


class ServiceError(RuntimeError):
    """A service failed to start or answer; the message carries its log tail."""


def debian_binary(name: str, package: str) -> str:
    """A server's binary from a Debian package (some live in /usr/sbin, off a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise ServiceError(f"{name} not found: install Debian's {package} (./wagglebot install)")
    return found


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as ``user`` (its own group, no others)."""
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def start_ticks(pid: int) -> int:
    """When the process started, in clock ticks since boot (/proc/PID/stat, field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        raise psutil.NoSuchProcess(pid) from None
    return int(stat.rsplit(")", 1)[1].split()[19])  # the fields after "(comm)" start at 3


class ProcessManager:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.run_dir = home / "run"
        self.log_dir = home / "log"
        self.marker = str(home)

    def pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _ours(self, proc: psutil.Process) -> bool:
        try:
            return proc.environ().get(MARKER) == self.marker
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def pid(self, name: str) -> int | None:
        """The running service's pid, or None (a stale pid file is removed)."""
        path = self.pidfile(name)
        try:
            pid_text, started = path.read_text().split()
            pid = int(pid_text)
            if "." in started:  # written by an older version: wall-clock seconds
                alive = abs(psutil.Process(pid).create_time() - float(started)) < 2
            else:
                alive = start_ticks(pid) == int(started)
            if alive and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return pid
        except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
            pass
        path.unlink(missing_ok=True)
        return None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        port: int | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> tuple[int, bool]:
        """Start ``name`` unless it already runs; returns (pid, started_now).

        ``port`` is the one it will listen on: if something else holds it, refuse
        rather than start a second server that fails later with a vaguer error.
        ``user``: run as this OS user (a server that refuses root, started by root).
        """
        running = self.pid(name)
        if running:
            return running, False
        if port is not None and port_in_use(port):
            raise ServiceError(
                f"cannot start {name}: 127.0.0.1:{port} is already in use ({port_owner(port)}); "
                "stop that process or choose another port in .env"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.logfile(name).open("ab") as log:
            log.write(f"\n==== {time.strftime('%F %T')} starting {name} ====\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(argv),
                env={**env, MARKER: self.marker},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_user(user),
            )
        self.pidfile(name).write_text(f"{proc.pid} {start_ticks(proc.pid)}")
        return proc.pid, True

    def wait_until(self, name: str, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check`` until true; fail with the log tail if the process dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.pid(name) is None:
                raise ServiceError(
                    f"{name} exited before {what}; last lines of {self.logfile(name)}:\n"
                    + log_tail(self.logfile(name))
                )
            time.sleep(0.5)
        raise ServiceError(
            f"{name} did not become {what} within {timeout:.0f}s; last lines of "
            f"{self.logfile(name)}:\n{log_tail(self.logfile(name))}"
        )

    def stop(self, *names: str, timeout: float = 20.0) -> list[str]:
        """SIGTERM each service's process tree and group together, SIGKILL what is left after
        ``timeout``; returns the names that were running. Stopping several at once lets their
        graceful shutdowns overlap.
        """
        running = {name: pid for name in names if (pid := self.pid(name)) is not None}
        trees = {pid: _tree(pid) for pid in running.values()}
        for pid, tree in trees.items():
            _signal_group(pid, signal.SIGTERM)
            for proc in tree[1:]:
                _signal(proc, signal.SIGTERM)
        everything = [proc for tree in trees.values() for proc in tree]
        _, alive = psutil.wait_procs(everything, timeout=timeout)
        for pid in trees:
            _signal_group(pid, signal.SIGKILL)
        for proc in alive:
            _signal(proc, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        for name in running:
            self.pidfile(name).unlink(missing_ok=True)
        return list(running)

    def stragglers(self) -> list[psutil.Process]:
        me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
        return [p for p in psutil.process_iter() if p.pid not in me and self._ours(p)]

    def sweep(self, timeout: float = 10.0) -> int:
        """End every process still carrying this stack's marker; returns how many there were."""
        procs = self.stragglers()
        for proc in procs:
            proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=timeout)
        for proc in alive:
            proc.kill()
        return len(procs)


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


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(sig)


def _tree(pid: int) -> list[psutil.Process]:
    """The process, its descendants, and anything else in its process group."""
    try:
        root = psutil.Process(pid)
        procs = {p.pid: p for p in [root, *root.children(recursive=True)]}
    except psutil.NoSuchProcess:
        return []
    for proc in psutil.process_iter():
        try:
            if proc.pid not in procs and os.getpgid(proc.pid) == pid:
                procs[proc.pid] = proc
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return list(procs.values())


class Service:
    """One service of the stack: a process (group) on a port, up once ``answers()`` says so."""

    name: str
    stop_timeout = 10.0

    def __init__(self, procs: ProcessManager, port: int, cwd: Path | None = None) -> None:
        self.procs, self.port, self.cwd = procs, port, cwd

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def answers(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> bool:
        """Start unless running, then wait until it answers; True if it started now."""
        _, started = self.procs.start(
            self.name, self.argv(), self.env(), port=self.port, cwd=self.cwd
        )
        self.procs.wait_until(self.name, self.answers, timeout, "answering")
        return started

    def stop(self) -> bool:
        return bool(self.procs.stop(self.name, timeout=self.stop_timeout))

    def running(self) -> bool:
        return self.procs.pid(self.name) is not None

    def status(self) -> str:
        if not self.running():
            return "stopped"
        return f"running on 127.0.0.1:{self.port}" if self.answers() else "not answering"
