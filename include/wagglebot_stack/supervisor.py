"""supervisord runs every service of the local stack; this writes its config and asks it.

Each service is a ``[program]`` whose command is the launcher
(``python -m wagglebot_stack.launch NAME``): it makes the service ready, ends what
is left of its last run, and execs the real server, so supervisord's pid is the
server's. Every program restarts by itself (``autorestart``), is retried with
supervisord's growing back-off when it fails to start and ends FATAL after
``startretries`` tries; stopping it signals its whole process group, and its log
rotates by size. supervisord listens on a Unix socket in ``run/`` (owner only);
``supervisorctl`` and the state readers here talk to it there.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from wagglebot.ops.supervision import (
    ALERT_EVENTS,
    ALERT_LISTENER,
    ProgramState,
    log_tail,
    read_states,
    rpc,
    supervisor_socket,
)
from wagglebot_stack.leftovers import MARKER
from wagglebot_stack.procs import Service, ServiceError, StackPaths


@dataclass(frozen=True)
class LogPolicy:
    max_bytes: int
    backups: int


def _quote(value: str) -> str:
    """A command word or environment value: shell-quoted, '%' doubled (interpolation)."""
    return shlex.quote(value).replace("%", "%%")


def _path(value: Path) -> str:
    """A path option: taken as it is (not shell-split), '%' doubled."""
    return str(value).replace("%", "%%")


class Supervisor:
    def __init__(self, paths: StackPaths, log_policy: LogPolicy, start_retries: int) -> None:
        self.paths = paths
        self.log_policy = log_policy
        self.start_retries = start_retries
        self.config = paths.home / "supervisord.conf"
        self.environment_file = paths.home / "supervisor.env"  # its settings (0600)
        self.socket = supervisor_socket(paths.home)
        self.pidfile = paths.run_dir / "supervisord.pid"
        self.logfile = paths.log_dir / "supervisord.log"
        bin_dir = Path(sys.executable).parent
        self.supervisord = str(bin_dir / "supervisord")
        self.supervisorctl = str(bin_dir / "supervisorctl")

    # -- the config ----------------------------------------------------------------------

    def _program(self, service: Service) -> str:
        log = self.paths.logfile(service.name)
        launcher = [sys.executable, "-m", "wagglebot_stack.launch", service.name]
        lines = [
            f"[program:{service.name}]",
            f"command={' '.join(_quote(a) for a in launcher)}",
            f"directory={_path(self.paths.home)}",
            f"priority={service.priority}",
            "autostart=true",
            "autorestart=true",
            "startsecs=5",
            f"startretries={self.start_retries}",  # back-off 1, 2, 3 ... s, then FATAL
            f"stopsignal={service.stop_signal}",
            f"stopwaitsecs={service.stop_wait}",
            f"stopasgroup={str(service.stop_as_group).lower()}",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_path(log)}",
            f"stdout_logfile_maxbytes={self.log_policy.max_bytes}",
            f"stdout_logfile_backups={self.log_policy.backups}",
        ]
        return "\n".join(lines)

    def _alert_listener(self) -> str:
        """supervisord's own alerts (wagglebot_stack.alert_listener): its stdout is the
        event protocol, so only stderr is logged."""
        log = self.paths.logfile(ALERT_LISTENER)
        command = [sys.executable, "-m", "wagglebot_stack.alert_listener"]
        return "\n".join(
            [
                f"[eventlistener:{ALERT_LISTENER}]",
                f"command={' '.join(_quote(a) for a in command)}",
                f"directory={_path(self.paths.home)}",
                f"events={ALERT_EVENTS}",
                "buffer_size=50",
                "autostart=true",
                "autorestart=true",
                "startsecs=1",
                "stdout_logfile=NONE",  # the event protocol, not output to keep
                f"stderr_logfile={_path(log)}",
                f"stderr_logfile_maxbytes={self.log_policy.max_bytes}",
                f"stderr_logfile_backups={self.log_policy.backups}",
            ]
        )

    def write_config(self, services: Sequence[Service]) -> Path:
        """The config for these services (0600: it names the stack's folders, no secrets)."""
        self.paths.make()
        head = [
            "[unix_http_server]",
            f"file={_path(self.socket)}",
            "chmod=0700",
            "",
            "[supervisord]",
            f"logfile={_path(self.logfile)}",
            f"logfile_maxbytes={self.log_policy.max_bytes}",
            f"logfile_backups={self.log_policy.backups}",
            f"pidfile={_path(self.pidfile)}",
            f"directory={_path(self.paths.home)}",
            f"childlogdir={_path(self.paths.log_dir)}",
            f"environment={MARKER}={_quote(str(self.paths.home))}",
            *(["user=root"] if _is_root() else []),  # said so, else it warns on every start
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{_path(self.socket)}",
            "",
        ]
        sections = [*(self._program(s) for s in services), self._alert_listener()]
        text = "\n".join(head) + "\n" + "\n\n".join(sections) + "\n"
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(self.config)
        return self.config

    # -- control -------------------------------------------------------------------------

    def pid(self) -> int | None:
        """supervisord's pid while it runs and answers on its socket."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not psutil.pid_exists(pid):
            return None
        try:
            return int(rpc(self.socket).supervisor.getPID())
        except (OSError, xmlrpc.client.Error):
            return None

    def start(self, env: dict[str, str]) -> None:
        """Start supervisord (it daemonizes); it starts every program in priority order."""
        self.socket.unlink(missing_ok=True)  # a dead supervisord's socket refuses the bind
        done = subprocess.run(
            [self.supervisord, "-c", str(self.config)],
            env=env,
            cwd=self.paths.home,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        deadline = time.monotonic() + 30
        while self.pid() is None:
            if done.returncode != 0 or time.monotonic() > deadline:
                raise ServiceError(
                    f"supervisord did not start ({done.returncode}): {done.stderr.strip()}\n"
                    f"last lines of {self.logfile}:\n{log_tail(self.logfile)}"
                )
            time.sleep(0.2)

    def ctl(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [self.supervisorctl, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        # status answers 3 when a program is not running: that is an answer, not a failure.
        if done.returncode not in (0, 3):
            raise ServiceError(f"supervisorctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def apply(self) -> None:
        """Take in a rewritten config (programs added or removed), then start whatever is
        not running, FATAL ones included: ``up`` is how a person says "try again"."""
        self.ctl("update")
        self.ctl("start", "all")

    def shutdown(self, timeout: float = 600) -> None:
        """Stop every program (highest priority first, each waited for), then supervisord."""
        pid = self.pid()
        if pid is None:
            return
        self.ctl("shutdown")  # returns at once; supervisord stops the programs in order
        try:
            psutil.Process(pid).wait(timeout)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            raise ServiceError(
                f"supervisord (pid {pid}) did not stop within {timeout:.0f}s; see {self.logfile}"
            ) from None

    # -- state ---------------------------------------------------------------------------

    def states(self) -> dict[str, ProgramState] | None:
        """Every program by name, or None when supervisord is not answering."""
        return read_states(self.socket)


def _is_root() -> bool:
    return os.geteuid() == 0
