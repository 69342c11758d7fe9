"""Start at boot: the systemd unit ``install-service`` writes, checked by systemd itself.

No systemd runs on these machines, so the unit is written under a root folder of
the test's own (as ``systemctl --root`` does) and checked with ``systemd-analyze
verify``, Debian's own checker.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from wagglebot_stack import Stack

from conftest import REPO, make_settings


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wagglebot_stack", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_install_service_writes_a_unit_systemd_accepts_and_uninstall_removes_it(
    tmp_path: Path,
) -> None:
    home, root = tmp_path / "home", tmp_path / "root"
    settings = make_settings(home).model_copy(update={"crawl_target": "sample"})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WAGGLE_", "AIRFLOW"))},
        **settings.as_env(),
        "WAGGLE_ENV_FILE": str(tmp_path / ".env"),
    }
    done = _cli(env, "install-service", "--root", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    unit = root / "etc/systemd/system/wagglebot.service"
    text = unit.read_text()
    bin_dir = Path(sys.executable).parent
    config = home / "supervisord.conf"
    assert f"ExecStart={bin_dir / 'supervisord'} -n -c {config}\n" in text  # foreground
    assert "KillMode=mixed\n" in text  # SIGTERM to supervisord alone: it stops each in turn
    assert "Restart=on-failure\n" in text
    assert "WantedBy=multi-user.target\n" in text
    stack = Stack(settings)
    stops = sum(s.stop_wait for s in stack.services())
    assert int(re.search(r"TimeoutStopSec=(\d+)", text)[1]) > stops  # one after another
    # The settings the stack runs with, for a supervisord started at boot (owner only).
    environment = home / "supervisor.env"
    assert f"EnvironmentFile={environment}\n" in text
    assert environment.stat().st_mode & 0o777 == 0o600
    assert f'WAGGLE_SAMPLE_SITE_PORT="{settings.sample_site_port}"' in environment.read_text()
    assert config.is_file()
    verify = subprocess.run(
        [shutil.which("systemd-analyze") or "systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert "wagglebot.service" not in verify.stderr, verify.stderr  # no warning about it
    enabled = root / "etc/systemd/system/multi-user.target.wants/wagglebot.service"
    assert enabled.is_symlink()
    assert os.readlink(enabled) == "/etc/systemd/system/wagglebot.service"
    assert not (home / "run" / "supervisord.pid").exists()  # installing starts nothing here

    done = _cli(env, "uninstall-service", "--root", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not unit.exists()
    assert not enabled.is_symlink()
    again = _cli(env, "uninstall-service", "--root", str(root))
    assert "was not installed" in again.stdout
