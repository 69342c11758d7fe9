"""The Streamlit review dashboard as a service of the local stack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

from wagglebot.core.config import REPO_ROOT, Settings
from wagglebot_stack.procs import Service, StackPaths

APP = REPO_ROOT / "dashboard" / "app.py"


class DashboardService(Service):
    name = "dashboard"
    priority = 500
    requires = ("app-db",)  # it reads the app database from its first page

    def __init__(self, paths: StackPaths, settings: Settings) -> None:
        super().__init__(paths, settings.dashboard_port)
        self.settings = settings
        self.url = f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        streamlit = str(Path(sys.executable).with_name("streamlit"))
        options = {
            "server.address": "127.0.0.1",
            "server.port": self.port,
            "server.headless": "true",
            "browser.gatherUsageStats": "false",
            "client.toolbarMode": "minimal",
        }
        return [streamlit, "run", str(APP), *(f"--{k}={v}" for k, v in options.items())]

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.settings.as_env()}

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/_stcore/health", timeout=3).text.strip() == "ok"
        except requests.RequestException:
            return False

    def describe(self) -> str:
        return f"at {self.url}"
