"""The loopback fakes of YouTube, TikTok and Instagram as services of the local stack, in
sample mode only.

Sample mode is a fresh install crawling the bundled sample site with no account
connected on a platform: the main job then publishes there to this stand-in (clearly
labelled as such on every page it serves), so a new user sees the whole loop. Once the
platform's auth command (youtube-auth, tiktok-auth, instagram-auth) has stored a real
token, the stack no longer starts that fake and the same command publishes for real.
Where publishing goes is decided in one place, ``publish.platforms.endpoint``.
"""

from __future__ import annotations

import sys

import requests

from wagglebot.core.config import Settings
from wagglebot.publish.platforms import NAMES, endpoint, ensure_sample
from wagglebot_stack.procs import Service, StackPaths


class FakePlatformService(Service):
    platform: str
    probe: str  # a /_fake/ listing that answers once the fake is up
    extra: tuple[str, ...] = ()
    priority = 200

    def __init__(self, paths: StackPaths, settings: Settings) -> None:
        super().__init__(paths, getattr(settings, f"fake_{self.platform}_port"))
        self.endpoint = endpoint(settings, self.platform)
        self.folder = settings.stack_home / self.name
        self.url = f"http://127.0.0.1:{self.port}/"

    @property
    def wanted(self) -> bool:
        return self.endpoint.sample

    def before_start(self) -> None:
        ensure_sample(self.platform, self.endpoint.token_file)

    def argv(self) -> list[str]:
        module = f"wagglebot_stack.fake_{self.platform}"
        return [
            *(sys.executable, "-m", module, "--port", str(self.port)),
            *("--folder", str(self.folder), "--token-file", str(self.endpoint.token_file)),
            *self.extra,
        ]

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}_fake/{self.probe}", timeout=3).ok
        except requests.RequestException:
            return False

    def describe(self) -> str:
        return f"sample mode: loopback stand-in for {NAMES[self.platform]} at {self.url}"


class FakeYouTubeService(FakePlatformService):
    name = "fake-youtube"
    platform, probe = "youtube", "videos"
    # Sample mode shows a new Short's Analytics day at once (YouTube takes 48-72 h), so a
    # first run sees the whole Analytics page.
    extra = ("--analytics-lag-days", "0")


class FakeTikTokService(FakePlatformService):
    """Acts as an unaudited app, as a new real one is: only SELF_ONLY posts, which is what
    WAGGLE_TIKTOK_PRIVACY gives by default."""

    name = "fake-tiktok"
    platform, probe = "tiktok", "posts"


class FakeInstagramService(FakePlatformService):
    name = "fake-instagram"
    platform, probe = "instagram", "media"
