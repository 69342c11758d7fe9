"""A running loopback fake YouTube and credentials for it, for the publish tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from google.oauth2.credentials import Credentials
from wagglebot_stack.fake_youtube import FakeYouTube

from wagglebot.publish.credentials import credentials_from
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
        self.gone_count = 0

    def started(self, session_uri: str, total_bytes: int) -> None:
        self.session_uri = session_uri
        self.starts.append(session_uri)

    def progressed(self, bytes_sent: int) -> None:
        self.progress.append(bytes_sent)

    def gone(self) -> None:
        self.session_uri = None
        self.gone_count += 1


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


_SHORTS: dict[tuple, Path] = {}


def short_file(
    path: Path,
    seconds: float = 2.0,
    *,
    size: str = "1080x1920",
    sound: str | None = "sine",
    faststart: bool = True,
    rate: int = 44100,
) -> tuple[Path, str]:
    """A real Short made by ffmpeg (H.264 at 12 Mb/s, so it spans several upload chunks;
    AAC sound at ``rate`` Hz: a tone, silence, or none; the index first, as the render
    writes it, unless not ``faststart``); returns it and its sha256. Made once per kind."""
    key = (seconds, size, sound, faststart, rate)
    if key not in _SHORTS:
        made = Path(tempfile.mkdtemp(prefix="wagglebot-short-")) / "short.mp4"
        audio = {"sine": f"sine=frequency=440:duration={seconds}",
                 "silence": f"anullsrc=r={rate}:cl=mono:d={seconds}"}  # fmt: skip
        argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                "-i", f"color=c=gray:s={size}:r=30:d={seconds},noise=alls=30:allf=t"]  # fmt: skip
        if sound:
            argv += ["-f", "lavfi", "-i", audio[sound], "-c:a", "aac", "-ar", str(rate),
                     "-shortest"]  # fmt: skip
        if faststart:
            argv += ["-movflags", "+faststart"]
        argv += ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "12M", "-minrate", "12M",
                 "-maxrate", "12M", "-bufsize", "6M", "-pix_fmt", "yuv420p", str(made)]  # fmt: skip
        subprocess.run(argv, check=True, timeout=120)
        _SHORTS[key] = made
    shutil.copyfile(_SHORTS[key], path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def video_file(path: Path, size: int = 2 * CHUNK + 123_457) -> tuple[Path, str]:
    """Bytes for the uploader's own tests (the file's content is not its business)."""
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()
