"""Instagram's part of the publish bench: InstagramPublisher (the whole file in one POST
to the rupload host, resumed after a failure from the container's bytes_transferred)
against the ceiling of the protocol: a container, then one rupload POST with offset 0."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import requests
from requests import PreparedRequest
from shared import META, FakeProcess, Platform, Uploader

from wagglebot.publish.instagram import InstagramPublisher, InstagramToken, graph_base
from wagglebot.publish.platforms import ensure_sample_instagram_token


class Instagram(Platform):
    name: ClassVar[str] = "instagram"
    fake_module: ClassVar[str] = "fake_instagram"
    upload_kind: ClassVar[str] = "upload"

    def __init__(self, url: str, token_file: Path) -> None:
        super().__init__(url, token_file)
        self.token = InstagramToken(token_file, graph_url=url)

    @staticmethod
    def write_token(path: Path) -> None:
        ensure_sample_instagram_token(path)

    def prepare(self, fake: FakeProcess) -> None:
        # Processing is Instagram's time, not the upload's; every run makes a container.
        fake.post("config", {"processing_polls": 0, "quota_total": 1_000_000,
                             "container_limit": 1_000_000})  # fmt: skip

    def faults(self, size: int) -> dict[str, tuple[dict, dict]]:
        drop = {"what": "connection dropped after half the file", "on": "upload",
                "drop": True, "drop_after": size // 2}  # fmt: skip
        fail = {"what": "503 on the upload POST", "on": "upload", "status": 503}
        return {"5xx": (fail, fail), "drop": (drop, drop)}

    def publisher(self, fast_retry: bool) -> Uploader:
        options = {"backoff_s": 0.01} if fast_retry else {}
        return InstagramPublisher(self.token, graph_url=self.url, upload_url=self.url, **options)

    def baseline(self, video: Path, http: requests.Session) -> str:
        info = self.token.info()
        made = http.post(
            f"{graph_base(self.url)}{info['ig_user_id']}/media",
            data={"media_type": "REELS", "upload_type": "resumable", "caption": META.caption()},
            headers={"Authorization": f"Bearer {info['access_token']}"},
            timeout=60,
        )
        made.raise_for_status()
        container = made.json()
        size = video.stat().st_size
        sent = http.post(
            container["uri"],  # on the fake's own root, as it was addressed
            data=video.read_bytes(),
            headers={"Authorization": f"OAuth {info['access_token']}", "offset": "0",
                     "file_size": str(size)},
            timeout=300,
        )  # fmt: skip
        if sent.status_code != 200 or not sent.json().get("success"):
            raise requests.HTTPError(f"Instagram answered {sent.status_code} to the upload")
        return container["id"]

    @staticmethod
    def is_upload(request: PreparedRequest) -> bool:
        return "/ig-api-upload/" in (request.url or "")

    @staticmethod
    def first_byte(request: PreparedRequest) -> int:
        return int(request.headers["offset"])

    def arrived(self, fake: FakeProcess, uploaded: str) -> str:
        # The publisher's id is the Reel's (media); the baseline's, its container's.
        for item in (*fake.get("media"), *fake.get("containers")):
            if item["id"] == uploaded:
                return item["sha256"]
        raise LookupError(f"the fake holds no upload {uploaded}")
