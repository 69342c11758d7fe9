"""The loopback fake YouTube as a service of the local stack, in sample mode only.

Sample mode is a fresh install crawling the bundled sample site with no channel
connected: the main job then publishes to this stand-in (clearly labelled as such
on every page it serves), so a new user sees the whole loop. Once
``./wagglebot youtube-auth`` has stored a real token, the stack no longer starts it
and the same command publishes to YouTube.
"""

from __future__ import annotations

import sys

import requests

from wagglebot.core.config import Settings
from wagglebot.publish.credentials import ensure_sample_token, youtube_endpoint
from wagglebot_stack.procs import Service, StackPaths


class FakeYouTubeService(Service):
    name = "fake-youtube"
    priority = 200

    def __init__(self, paths: StackPaths, settings: Settings) -> None:
        super().__init__(paths, settings.fake_youtube_port)
        self.endpoint = youtube_endpoint(settings)
        self.folder = settings.stack_home / "fake-youtube"
        self.url = f"http://127.0.0.1:{self.port}/"

    @property
    def wanted(self) -> bool:
        return self.endpoint.sample

    def before_start(self) -> None:
        ensure_sample_token(self.endpoint.token_file)

    def argv(self) -> list[str]:
        return [
            *(sys.executable, "-m", "wagglebot_stack.fake_youtube", "--port", str(self.port)),
            *("--folder", str(self.folder), "--token-file", str(self.endpoint.token_file)),
            # Sample mode shows a new Short's Analytics day at once (YouTube takes 48-72 h),
            # so a first run sees the whole Analytics page.
            *("--analytics-lag-days", "0"),
        ]

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}_fake/videos", timeout=3).ok
        except requests.RequestException:
            return False

    def describe(self) -> str:
        return f"sample mode: loopback stand-in for YouTube at {self.url}"
