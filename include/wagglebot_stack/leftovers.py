"""What supervisord does not clean up: processes that outlive a hard death.

supervisord signals a program's process group only when it stops it. When the
main process dies by SIGKILL (or OOM, or a segfault), the rest lives on: the
Airflow scheduler's log server keeps its port, its LocalExecutor workers ignore
SIGTERM, and the task processes they forked sit in groups of their own. When
supervisord itself is killed, every program lives on without it.

Everything supervisord starts is in its session (it is a session leader, as a
daemon and under systemd alike), so the rule is simple: a process in the current
supervisord's session that does not descend from it is an orphan, and every
process in the session of a supervisord that is gone is a leftover. The launcher
ends both before it starts a program; ``down`` ends them after supervisord stops.
Linux never reuses a process id while a session or group still uses it, so a
session whose leader is gone is still ours.

The launcher also records each program's start (``run/<name>.launch.json``):
its session and group, and how often the current supervisord has started it,
which supervisord itself does not count.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import psutil

from wagglebot_stack.procs import StackPaths

MARKER = "WAGGLEBOT_STACK"  # in supervisord's environment, so every program inherits it


def start_ticks(pid: int) -> int:
    """When the process started, in clock ticks since boot (/proc/PID/stat, field 22).

    Not the wall-clock start time: the kernel derives that from the boot time, which
    moves when the clock is adjusted, and a live process would then look new."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        raise psutil.NoSuchProcess(pid) from None
    return int(stat.rsplit(")", 1)[1].split()[19])  # the fields after "(comm)" start at 3


def _ticks_or_none(pid: int) -> int | None:
    try:
        return start_ticks(pid)
    except psutil.NoSuchProcess:
        return None


def _record_path(paths: StackPaths, name: str) -> Path:
    return paths.run_dir / f"{name}.launch.json"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def records(paths: StackPaths) -> dict[str, dict]:
    return {
        p.name.removesuffix(".launch.json"): rec
        for p in paths.run_dir.glob("*.launch.json")
        if (rec := _read(p)) is not None
    }


def record_launch(paths: StackPaths, name: str) -> None:
    """Note this process (about to exec the program) and its supervisord's session (none
    when supervisord does not lead one: run in the foreground of a shell, say)."""
    session = os.getsid(0) if os.getsid(0) == os.getppid() else None
    session_ticks = _ticks_or_none(session) if session else None
    last = _read(_record_path(paths, name)) or {}
    same = (last.get("session"), last.get("session_ticks")) == (session, session_ticks)
    record = {
        "pid": os.getpid(),
        "ticks": start_ticks(os.getpid()),
        "session": session,
        "session_ticks": session_ticks,
        "starts": last.get("starts", 0) + 1 if same else 1,
    }
    tmp = _record_path(paths, name).with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(_record_path(paths, name))


def restarts(paths: StackPaths, name: str) -> int:
    """How often the running supervisord has started the program again."""
    record = _read(_record_path(paths, name))
    return max(0, record.get("starts", 1) - 1) if record else 0


def _dead_sessions(paths: StackPaths, current: int | None) -> set[int]:
    """Sessions of earlier supervisords that are gone (their leader dead, its id unused)."""
    out = set()
    for rec in records(paths).values():
        session = rec.get("session")
        if session is None or session == current:
            continue
        if _ticks_or_none(session) is None:
            out.add(session)
    return out


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def leftovers(paths: StackPaths, supervisor: int | None) -> list[psutil.Process]:
    """Processes to end: those of dead supervisords' sessions, and those in the running
    supervisord's session (``supervisor``: its pid) that no longer descend from it."""
    if supervisor is not None and _sid(supervisor) != supervisor:
        supervisor = None  # it leads no session of its own: the rule would reach others
    dead = _dead_sessions(paths, supervisor)
    me = os.getpid()
    out = []
    for proc in psutil.process_iter():
        sid = _sid(proc.pid)
        if proc.pid == me or sid is None:
            continue
        try:
            if sid in dead or (
                sid == supervisor
                and proc.pid != supervisor
                and supervisor not in {p.pid for p in proc.parents()}
            ):
                out.append(proc)
        except psutil.NoSuchProcess:
            continue
    return out


def end_leftovers(paths: StackPaths, supervisor: int | None, grace: float = 30.0) -> int:
    """End the leftovers; returns how many. A program that outlived its supervisord
    (still the recorded process) gets SIGTERM first, to shut down cleanly (MariaDB,
    PostgreSQL), and ``grace`` seconds; the rest get SIGKILL, the only signal orphaned
    Airflow workers obey."""
    procs = leftovers(paths, supervisor)
    if not procs:
        return 0
    programs = {(r["pid"], r["ticks"]) for r in records(paths).values()}
    main = [p for p in procs if (p.pid, _ticks_or_none(p.pid)) in programs]
    for proc in main:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGTERM)
    psutil.wait_procs(main, timeout=grace)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)
    return len(procs)


def marked(home: Path) -> list[psutil.Process]:
    """Processes that carry this stack's marker (not this one, nor its parents)."""
    me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    out = []
    for proc in psutil.process_iter():
        if proc.pid in me:
            continue
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            if proc.environ().get(MARKER) == str(home):
                out.append(proc)
    return out


def sweep(paths: StackPaths, timeout: float = 10.0) -> int:
    """After supervisord is gone: end every leftover of its sessions and anything else
    that carries the stack's marker (a process that started a session of its own)."""
    count = end_leftovers(paths, None, grace=timeout)
    procs = marked(paths.home)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return count + len(procs)
