"""The bundled sample site as a service of the local stack (one port per community)."""

from __future__ import annotations

import sys

import requests

from wagglebot.core.config import Settings
from wagglebot.crawl.sites import sample_base_urls as base_urls
from wagglebot_stack.procs import Service, StackPaths


class SampleSiteService(Service):
    name = "sample-site"
    priority = 200

    def __init__(self, paths: StackPaths, settings: Settings) -> None:
        super().__init__(paths, settings.sample_site_port)
        self.urls = base_urls(self.port)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "wagglebot_stack.sample_site", "--port-base", str(self.port)]

    def answers(self) -> bool:
        try:
            return all(requests.get(f"{u}/robots.txt", timeout=3).ok for u in self.urls.values())
        except requests.RequestException:
            return False

    def describe(self) -> str:
        last = self.port + len(self.urls) - 1
        return f"serving {len(self.urls)} sites on 127.0.0.1:{self.port}-{last}"
