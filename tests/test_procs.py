"""The process manager the stack is built on: start once, refuse busy ports, stop everything."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest

from wagglebot.stack import ensure_env_file
from wagglebot.stack.procs import ProcessManager, ServiceError, start_ticks

from conftest import free_ports

# A service that forks a grandchild which leaves the process group (as executors do).
ESCAPING_SERVICE = r"""
import os, sys, time
if os.fork() == 0:
    os.setsid()
    open(sys.argv[1], "w").write(str(os.getpid()))
    time.sleep(600)
time.sleep(600)
"""


def _wait_for(path: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout  # a loaded CI machine may take seconds to fork
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def test_start_is_idempotent_and_stop_ends_the_whole_tree(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path)
    marker = tmp_path / "grandchild.pid"
    argv = [sys.executable, "-c", ESCAPING_SERVICE, str(marker)]
    pid, started = procs.start("svc", argv, dict(os.environ))
    assert started
    grandchild = _wait_for(marker)
    assert os.getpgid(grandchild) != os.getpgid(pid)  # it left the group
    assert procs.start("svc", argv, dict(os.environ)) == (pid, False)
    assert procs.pid("svc") == pid

    assert procs.stop("svc", timeout=5) == ["svc"]
    for gone in (pid, grandchild):
        assert not psutil.pid_exists(gone) or psutil.Process(gone).status() == "zombie"
    assert procs.pid("svc") is None
    assert procs.stop("svc") == []  # stopping twice is harmless


def test_a_stale_or_reused_pid_file_is_not_trusted(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path)
    procs.run_dir.mkdir(parents=True)
    # pid 1 exists but was not started by us at that time.
    procs.pidfile("svc").write_text("1 12345.000")
    assert procs.pid("svc") is None
    assert not procs.pidfile("svc").exists()


def test_a_busy_port_is_refused_with_its_owner(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path)
    port = free_ports()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        with pytest.raises(
            ServiceError, match=rf"127.0.0.1:{port} is already in use \(pid {os.getpid()}"
        ):
            procs.start("svc", [sys.executable, "-c", "pass"], dict(os.environ), port=port)


def test_a_service_that_dies_reports_its_log(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path)
    argv = [
        sys.executable,
        "-c",
        "import sys; print('config is broken: no such table'); sys.exit(3)",
    ]
    procs.start("svc", argv, dict(os.environ))
    with pytest.raises(ServiceError, match=r"svc exited before ready(.|\n)*no such table"):
        procs.wait_until("svc", lambda: False, 10, "ready")


def test_sweep_ends_stragglers_that_carry_the_marker(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path)
    marker = tmp_path / "grandchild.pid"
    procs.start("svc", [sys.executable, "-c", ESCAPING_SERVICE, str(marker)], dict(os.environ))
    grandchild = _wait_for(marker)
    procs.pidfile("svc").unlink()  # lose track of the service, as after a crash
    assert procs.sweep(timeout=5) == 2
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == "zombie"


def test_env_file_is_generated_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAGGLE_DB_URL", raising=False)
    monkeypatch.delenv("WAGGLE_AIRFLOW_PASSWORD", raising=False)
    monkeypatch.delenv("WAGGLE_CRAWL_TARGET", raising=False)
    env = tmp_path / ".env"
    env.write_text("WAGGLE_AIRFLOW_PORT=9000")
    assert ensure_env_file(env) == [
        "WAGGLE_DB_URL",
        "WAGGLE_AIRFLOW_PASSWORD",
        "WAGGLE_CRAWL_TARGET",
    ]
    first = env.read_text()
    assert first.startswith("WAGGLE_AIRFLOW_PORT=9000\n")
    assert "WAGGLE_DB_URL=mysql+mysqldb://wagglebot:" in first
    assert "WAGGLE_CRAWL_TARGET=sample\n" in first
    assert ensure_env_file(env) == []
    assert env.read_text() == first
    assert env.stat().st_mode & 0o777 == 0o600


def test_a_service_is_known_by_its_start_tick_whatever_the_clock_does(tmp_path: Path) -> None:
    procs = ProcessManager(tmp_path)
    pid, _ = procs.start("svc", ["sleep", "30"], dict(os.environ))
    try:
        pid_text, ticks = procs.pidfile("svc").read_text().split()
        assert (int(pid_text), int(ticks)) == (pid, start_ticks(pid))
        # Seconds since boot as the kernel counts them: what /proc/uptime says, at most.
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        assert 0 < int(ticks) / os.sysconf("SC_CLK_TCK") <= uptime
        assert procs.pid("svc") == pid
        procs.pidfile("svc").write_text(f"{pid} {int(ticks) + 1}")  # another process's start
        assert procs.pid("svc") is None
        # A pid file from an older version (wall-clock seconds) still finds its service.
        procs.pidfile("svc").write_text(f"{pid} {psutil.Process(pid).create_time() + 0.7:.3f}")
        assert procs.pid("svc") == pid
    finally:
        os.kill(pid, signal.SIGKILL)
