"""The Streamlit review dashboard as a service of the local stack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

from wagglebot.config import REPO_ROOT, Settings
from wagglebot.stack.procs import ProcessManager

NAME = "dashboard"
APP = REPO_ROOT / "dashboard" / "app.py"


class Dashboard:
    def __init__(self, procs: ProcessManager, settings: Settings) -> None:
        self.procs = procs
        self.settings = settings
        self.port = settings.dashboard_port
        self.url = f"http://127.0.0.1:{self.port}"

    def _argv(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("streamlit")),
            "run",
            str(APP),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "minimal",
        ]

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/_stcore/health", timeout=3).text.strip() == "ok"
        except requests.RequestException:
            return False

    def start(self, timeout: float = 60.0) -> bool:
        env = {**os.environ, **self.settings.as_env()}
        _, started = self.procs.start(NAME, self._argv(), env, port=self.port, cwd=REPO_ROOT)
        self.procs.wait_until(NAME, self.answers, timeout, "answering")
        return started

    def stop(self) -> bool:
        return bool(self.procs.stop(NAME, timeout=10))

    def status(self) -> str:
        if self.procs.pid(NAME) is None:
            return "stopped"
        return f"running at {self.url}" if self.answers() else "not answering"
