"""supervisord's config, and what it leaves to us: processes that outlive a hard death.

The leftover rules are checked here on small process trees of the test's own: a
session leader stands in for supervisord, a child of it for a program.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from wagglebot_stack.leftovers import end_leftovers, leftovers, start_ticks
from wagglebot_stack.procs import Service, StackPaths
from wagglebot_stack.supervisor import LogPolicy, Supervisor

# A program: one child in its own group (the scheduler's log server), one in a group of
# its own (a task process); on SIGTERM it notes a clean stop and leaves.
PROGRAM = """
import pathlib, signal, subprocess, sys, time
same = subprocess.Popen(["sleep", "600"])
own = subprocess.Popen(["sleep", "600"], process_group=0)
print(same.pid, own.pid, flush=True)
def stop(*_):
    pathlib.Path(sys.argv[1]).write_text("clean")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(600)
"""
# Stands in for supervisord: a session leader that starts the program in a group of its own.
SUPERVISOR = """
import subprocess, sys, time
program = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], process_group=0)
print(program.pid, flush=True)
time.sleep(600)
"""


class Tree:
    def __init__(self, tmp_path: Path) -> None:
        self.stopped = tmp_path / "stopped"
        self.supervisor = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR, PROGRAM, str(self.stopped)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.program = int(self.supervisor.stdout.readline())
        self.same_group, self.own_group = map(int, self.supervisor.stdout.readline().split())

    def record(self, paths: StackPaths) -> None:
        """What the launcher writes before it execs the program."""
        paths.make()
        record = {
            "pid": self.program,
            "ticks": start_ticks(self.program),
            "session": self.supervisor.pid,
            "session_ticks": start_ticks(self.supervisor.pid),
            "starts": 1,
        }
        (paths.run_dir / "program.launch.json").write_text(json.dumps(record))

    def alive(self, pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def end(self) -> None:
        for pid in (self.own_group, self.same_group, self.program, self.supervisor.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.supervisor.wait()


@pytest.fixture
def tree(tmp_path: Path):
    running = Tree(tmp_path)
    yield running
    running.end()


def test_a_program_killed_leaves_orphans_that_are_found_and_ended(
    tree: Tree, tmp_path: Path
) -> None:
    paths = StackPaths(tmp_path / "home")
    assert leftovers(paths, tree.supervisor.pid) == []  # all descend from the supervisor
    os.kill(tree.program, signal.SIGKILL)  # kill -9 of the program's main pid
    time.sleep(0.3)
    found = {p.pid for p in leftovers(paths, tree.supervisor.pid)}
    assert found == {tree.same_group, tree.own_group}  # its group and the one of its own
    assert end_leftovers(paths, tree.supervisor.pid) == 2
    assert not tree.alive(tree.same_group)
    assert not tree.alive(tree.own_group)
    assert tree.alive(tree.supervisor.pid)  # the supervisor itself is left alone


def test_programs_of_a_dead_supervisor_stop_cleanly_then_the_rest_is_killed(
    tree: Tree, tmp_path: Path
) -> None:
    paths = StackPaths(tmp_path / "home")
    tree.record(paths)
    os.kill(tree.supervisor.pid, signal.SIGKILL)  # kill -9 of supervisord
    tree.supervisor.wait()
    assert tree.alive(tree.program)
    assert end_leftovers(paths, None, grace=10) == 3
    assert tree.stopped.read_text() == "clean"  # SIGTERM first: a database shuts down
    assert not any(map(tree.alive, (tree.program, tree.same_group, tree.own_group)))


def test_a_session_that_is_not_ours_is_never_touched(tree: Tree, tmp_path: Path) -> None:
    paths = StackPaths(tmp_path / "home")
    tree.record(paths)  # the session's leader is alive: its programs are its business
    assert leftovers(paths, None) == []
    # A supervisor that leads no session of its own (run in a shell's foreground): the
    # "not its descendant" rule would reach the shell's other processes, so it is off.
    shell_child = subprocess.Popen(["sleep", "30"])
    try:
        assert leftovers(paths, shell_child.pid) == []
    finally:
        shell_child.kill()
        shell_child.wait()


class _Demo(Service):
    name = "demo"
    stop_as_group = False
    stop_wait = 42


def test_each_program_restarts_backs_off_stops_as_a_group_and_rotates_its_log(
    tmp_path: Path,
) -> None:
    home = tmp_path / "100% home"  # '%' is supervisord's interpolation sign
    paths = StackPaths(home)
    supervisor = Supervisor(paths, LogPolicy(max_bytes=4096, backups=2), start_retries=7)
    config_file = supervisor.write_config([_Demo(paths, 9999)])
    assert config_file.stat().st_mode & 0o777 == 0o600
    config = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    config.read(config_file)
    program = config["program:demo"]
    assert program["command"].endswith("-m wagglebot_stack.launch demo")
    assert program["directory"] == str(home)  # '%%' reads back as '%'
    assert (program["autostart"], program["autorestart"]) == ("true", "true")
    assert program["startretries"] == "7"
    assert (program["stopasgroup"], program["killasgroup"]) == ("false", "true")
    assert program["stopwaitsecs"] == "42"
    assert program["stdout_logfile"] == str(home / "log" / "demo.log")
    assert (program["stdout_logfile_maxbytes"], program["stdout_logfile_backups"]) == ("4096", "2")
    assert program["redirect_stderr"] == "true"
    assert config["unix_http_server"]["chmod"] == "0700"  # owner only
    assert config["supervisord"]["environment"] == f"WAGGLEBOT_STACK='{home}'"
