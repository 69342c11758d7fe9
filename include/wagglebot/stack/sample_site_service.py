"""The bundled sample site as a service of the local stack (one port per community)."""

from __future__ import annotations

import sys

import requests

from wagglebot.config import REPO_ROOT, Settings
from wagglebot.crawl.sample_site import base_urls
from wagglebot.stack.procs import ProcessManager, Service


class SampleSiteService(Service):
    name = "sample-site"

    def __init__(self, procs: ProcessManager, settings: Settings) -> None:
        super().__init__(procs, settings.sample_site_port, cwd=REPO_ROOT)
        self.urls = base_urls(self.port)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "wagglebot.crawl.sample_site", "--port-base", str(self.port)]

    def answers(self) -> bool:
        try:
            return all(requests.get(f"{u}/robots.txt", timeout=3).ok for u in self.urls.values())
        except requests.RequestException:
            return False

    def status(self) -> str:
        if not self.running():
            return "stopped"
        last = self.port + len(self.urls) - 1
        return f"serving {len(self.urls)} sites on 127.0.0.1:{self.port}-{last}"
