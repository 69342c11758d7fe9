"""The Prometheus endpoint (wagglebot.ops.metrics) as a service of the local stack."""

from __future__ import annotations

import sys

import requests

from wagglebot.core.config import Settings
from wagglebot_stack.procs import Service, StackPaths


class MetricsService(Service):
    name = "metrics"
    priority = 600  # after the database it reads; before nothing that needs it

    def __init__(self, paths: StackPaths, settings: Settings) -> None:
        super().__init__(paths, settings.metrics_port)
        self.url = f"http://127.0.0.1:{self.port}/metrics"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "wagglebot.ops.metrics", "--port", str(self.port)]

    def answers(self) -> bool:
        try:
            return requests.get(self.url, timeout=5).ok
        except requests.RequestException:
            return False

    def describe(self) -> str:
        return f"Prometheus metrics at {self.url}"
