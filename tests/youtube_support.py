"""A running loopback fake YouTube and credentials for it, for the publish tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from google.oauth2.credentials import Credentials

from wagglebot.publish.credentials import credentials_from
from wagglebot.publish.fake_youtube import FakeYouTube
from wagglebot.publish.youtube import SCOPES, YouTubePublisher

REFRESH_TOKEN = "refresh-token-never-logged-7f3a"
CLIENT_SECRET = "client-secret-never-logged-91bc"
CHUNK = 256 * 1024 * 4  # 1 MiB


class Recorder:
    """An UploadJournal in memory (the database one is tested on MariaDB)."""

    def __init__(self, session_uri: str | None = None) -> None:
        self.session_uri = session_uri
        self.starts: list[str] = []
        self.progress: list[int] = []

    def started(self, session_uri: str, total_bytes: int) -> None:
        self.session_uri = session_uri
        self.starts.append(session_uri)

    def progressed(self, bytes_sent: int) -> None:
        self.progress.append(bytes_sent)


def token_info(fake: FakeYouTube) -> dict:
    """The authorized-user info a consent flow leaves, pointed at the fake."""
    return {
        "refresh_token": REFRESH_TOKEN,
        "client_id": "wagglebot-test.apps.example",
        "client_secret": CLIENT_SECRET,
        "scopes": SCOPES,
        "type": "authorized_user",
    }


def credentials(fake: FakeYouTube) -> Credentials:
    return credentials_from(token_info(fake), f"{fake.url}token")


def publisher(fake: FakeYouTube, **options: object) -> YouTubePublisher:
    options = {"chunk_bytes": CHUNK, "backoff_s": 0.01, "retries": 4, **options}
    return YouTubePublisher(credentials(fake), api_url=fake.url, **options)


def video_file(path: Path, size: int = 2 * CHUNK + 123_457) -> tuple[Path, str]:
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()
