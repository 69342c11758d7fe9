"""Tie a task process to the Airflow supervisor that started it.

A Celery worker killed with SIGKILL takes its pool process (the task's
supervisor) with it, but not the task process the supervisor forked: left an
orphan, it would render on, holding its GPU, while Airflow (hearing no more
heartbeats) retries the task elsewhere. With PR_SET_PDEATHSIG the kernel ends
it when its parent dies; its own children (ffmpeg) are tied to it the same way.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> bool:
    """Have this process get ``sig`` when its parent dies; False where Linux is not."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the call took effect
        os.kill(os.getpid(), sig)
    return True
