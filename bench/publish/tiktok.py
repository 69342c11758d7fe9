"""TikTok's part of the publish bench: TikTokPublisher (10,000,000-byte chunks, a PUT each
with Content-Range) against the ceiling of the protocol: an init with one chunk, then one
PUT of the whole file (Content-Range 0-(n-1)/n) to the same upload_url."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import requests
from requests import PreparedRequest
from shared import META, FakeProcess, Platform, Uploader

from wagglebot.publish.platforms import ensure_sample_tiktok_token
from wagglebot.publish.tiktok import TikTokPublisher, TikTokToken, chunk_plan

MAX_CHUNK = 64_000_000  # the fake's bound on one chunk: the baseline's one PUT stays within


class TikTok(Platform):
    name: ClassVar[str] = "tiktok"
    fake_module: ClassVar[str] = "fake_tiktok"
    upload_kind: ClassVar[str] = "chunk"

    def __init__(self, url: str, token_file: Path) -> None:
        super().__init__(url, token_file)
        # One token for the bench: refreshed once, as a worker's would be for its run.
        self.token = TikTokToken(token_file, f"{url}v2/oauth/token/")

    @staticmethod
    def write_token(path: Path) -> None:
        ensure_sample_tiktok_token(path)

    def prepare(self, fake: FakeProcess) -> None:
        # Processing is TikTok's time, not the upload's; every run is a post toward the cap.
        fake.post("config", {"processing_polls": 0, "daily_cap": 1_000_000})

    def faults(self, size: int) -> dict[str, tuple[dict, dict]]:
        chunks = len(chunk_plan(size))
        nth = chunks // 2 + 1  # a chunk in the middle
        where, whole = f"chunk {nth} of {chunks}", "the one PUT"
        return {
            "5xx": (
                {"what": f"503 on {where}", "on": "chunk", "nth": nth, "status": 503},
                {"what": f"503 on {whole}", "on": "chunk", "nth": 1, "status": 503},
            ),
            "drop": (
                {"what": f"connection dropped halfway through {where}", "on": "chunk",
                 "nth": nth, "drop": True},
                {"what": f"connection dropped halfway through {whole}", "on": "chunk",
                 "nth": 1, "drop": True},
            ),
        }  # fmt: skip

    def publisher(self, fast_retry: bool) -> Uploader:
        options = {"backoff_s": 0.01} if fast_retry else {}
        return TikTokPublisher(self.token, api_url=self.url, **options)

    def baseline(self, video: Path, http: requests.Session) -> str:
        size = video.stat().st_size
        source = {"source": "FILE_UPLOAD", "video_size": size,
                  "chunk_size": min(size, MAX_CHUNK), "total_chunk_count": 1}  # fmt: skip
        init = http.post(
            f"{self.url}v2/post/publish/video/init/",
            json={"post_info": {"title": META.caption(), "privacy_level": "SELF_ONLY"},
                  "source_info": source},
            headers={"Authorization": f"Bearer {self.token.bearer()}"},
            timeout=60,
        )  # fmt: skip
        init.raise_for_status()
        task = init.json()["data"]
        put = http.put(
            task["upload_url"],
            data=video.read_bytes(),
            headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{size - 1}/{size}"},
            timeout=300,
        )
        if put.status_code != 201:
            raise requests.HTTPError(f"TikTok answered {put.status_code} to the PUT")
        return task["publish_id"]

    @staticmethod
    def is_upload(request: PreparedRequest) -> bool:
        return request.method == "PUT" and urlsplit(request.url).path == "/video/"

    @staticmethod
    def first_byte(request: PreparedRequest) -> int:
        return int(request.headers["Content-Range"].split()[1].split("-")[0])

    def arrived(self, fake: FakeProcess, uploaded: str) -> str:
        # A SELF_ONLY post has no public id: the publisher's video id is the publish_id.
        return next(p["sha256"] for p in fake.get("posts") if p["id"] == uploaded)
