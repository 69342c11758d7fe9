"""The launcher's help is its own text and names every command it dispatches."""

from __future__ import annotations

import re
import subprocess

from conftest import REPO


def test_help_lists_every_command_the_launcher_runs() -> None:
    done = subprocess.run(
        ["bash", str(REPO / "wagglebot"), "help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    script = (REPO / "wagglebot").read_text()
    dispatched = set()
    for pattern in re.findall(r"^  ([a-z|-]+)\)", script, flags=re.M):
        dispatched |= {c for c in pattern.split("|") if not c.startswith("-")}
    assert dispatched >= {"up", "down", "status", "backup", "restore", "test", "help"}
    for command in dispatched:
        assert f"./wagglebot {command}" in done.stdout, command
    unknown = subprocess.run(
        ["bash", str(REPO / "wagglebot"), "no-such-command"], capture_output=True, text=True
    )
    assert unknown.returncode == 2
    assert unknown.stdout == done.stdout
