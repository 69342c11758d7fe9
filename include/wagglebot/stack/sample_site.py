"""The bundled sample site as a service of the local stack (one port per community)."""

from __future__ import annotations

import os
import sys

import requests

from wagglebot.config import REPO_ROOT, Settings
from wagglebot.crawl.sample_site import base_urls
from wagglebot.stack.procs import ProcessManager

NAME = "sample-site"


class SampleSiteService:
    def __init__(self, procs: ProcessManager, settings: Settings) -> None:
        self.procs = procs
        self.port = settings.sample_site_port
        self.urls = base_urls(self.port)

    def answers(self) -> bool:
        try:
            return all(requests.get(f"{u}/robots.txt", timeout=3).ok for u in self.urls.values())
        except requests.RequestException:
            return False

    def start(self, timeout: float = 30.0) -> bool:
        argv = [sys.executable, "-m", "wagglebot.crawl.sample_site", "--port-base", str(self.port)]
        _, started = self.procs.start(NAME, argv, dict(os.environ), port=self.port, cwd=REPO_ROOT)
        self.procs.wait_until(NAME, self.answers, timeout, "serving")
        return started

    def stop(self) -> bool:
        return bool(self.procs.stop(NAME, timeout=10))

    def status(self) -> str:
        if self.procs.pid(NAME) is None:
            return "stopped"
        first, last = self.port, self.port + len(self.urls) - 1
        return f"serving {len(self.urls)} sites on 127.0.0.1:{first}-{last}"
