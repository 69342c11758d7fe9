"""A task process ends when its supervisor is killed, instead of running on as an orphan."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil

PARENT = """
import os, sys, time
pid = os.fork()
if pid == 0:
    from wagglebot.orchestration.lifeline import die_with_parent
    {call}
    time.sleep(120)
    os._exit(0)
print(pid, flush=True)
time.sleep(120)
"""


def _orphan_survives(call: str) -> bool:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(call=call)], stdout=subprocess.PIPE, text=True
    )
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(0.5)  # the child has made its call
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        child.wait(timeout=5)
    except psutil.TimeoutExpired:
        child.kill()
        return True
    return False


def test_a_tied_process_dies_with_its_parent() -> None:
    assert _orphan_survives("assert die_with_parent()") is False


def test_an_untied_process_would_run_on() -> None:
    assert _orphan_survives("pass") is True  # what a killed Celery worker used to leave
