"""Start at boot: a systemd unit that runs the stack's supervisord in the foreground.

``./wagglebot install-service`` writes the unit and enables it; the stack then
starts with the machine and stops cleanly with it: systemd sends SIGTERM to
supervisord alone (``KillMode=mixed``), which stops every program in reverse
start order with each one's own stop signal, and only then kills what is left.
``TimeoutStopSec`` covers every program's stop time in a row, since supervisord
stops them one after another.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path

from wagglebot.core.config import REPO_ROOT
from wagglebot_stack.procs import ServiceError
from wagglebot_stack.supervisor import Supervisor

UNIT = "wagglebot.service"
UNIT_DIR = Path("etc/systemd/system")  # under the root folder, "/" on a real machine


def unit_text(supervisor: Supervisor, stop_seconds: int) -> str:
    user = getpass.getuser()
    home = os.path.expanduser("~")
    return "\n".join(
        [
            "[Unit]",
            "Description=WaggleBot stack (supervisord: MariaDB, Airflow, the dashboard)",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            f"User={user}",
            f"Environment=HOME={home}",
            f"EnvironmentFile={supervisor.environment_file}",  # the settings of the last up
            f"WorkingDirectory={REPO_ROOT}",
            f"ExecStart={supervisor.supervisord} -n -c {supervisor.config}",
            f"ExecReload={supervisor.supervisorctl} -c {supervisor.config} update",
            "KillMode=mixed",
            f"TimeoutStopSec={stop_seconds}",
            "Restart=on-failure",
            "RestartSec=10",
            "LimitNOFILE=32768",  # MariaDB asks for many files; Debian's own unit allows this
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def _systemctl(root: Path, *args: str) -> None:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        raise ServiceError("systemctl not found: install Debian's systemd")
    where = [] if root == Path("/") else [f"--root={root}"]
    done = subprocess.run(
        [systemctl, *where, *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise ServiceError(f"systemctl {' '.join(args)}: {done.stderr.strip()}")


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def install(supervisor: Supervisor, stop_seconds: int, root: Path = Path("/")) -> Path:
    """Write the unit under ``root`` and enable it; start it now if systemd runs here."""
    path = root / UNIT_DIR / UNIT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(supervisor, stop_seconds))
    path.chmod(0o644)
    live = root == Path("/") and systemd_running()
    if live:
        _systemctl(root, "daemon-reload")
    _systemctl(root, "enable", UNIT)
    return path


def uninstall(root: Path = Path("/")) -> bool:
    """Disable and remove the unit; False if it was not installed. The stack keeps
    running until ``./wagglebot down``."""
    path = root / UNIT_DIR / UNIT
    if not path.exists():
        return False
    _systemctl(root, "disable", UNIT)
    path.unlink()
    if root == Path("/") and systemd_running():
        _systemctl(root, "daemon-reload")
    return True
