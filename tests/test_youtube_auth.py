"""`./wagglebot youtube-auth`: Google's installed-app consent flow, run for real against
the loopback fake's consent page and token endpoint, and the token it keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from wagglebot_stack.fake_youtube import FakeYouTube

from wagglebot.core.config import Settings
from wagglebot.publish import ShortUpload
from wagglebot.publish.credentials import load_credentials
from wagglebot.publish.metadata import ShortMetadata
from wagglebot.publish.youtube import YouTubePublisher

from conftest import REPO, free_ports
from youtube_support import CLIENT_SECRET, REFRESH_TOKEN, Recorder, video_file


def test_the_consent_flow_stores_a_private_token_that_publishing_uses(
    fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "client_secret.json"
    secrets_file.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "wagglebot-test.apps.example",
                    "client_secret": CLIENT_SECRET,
                    "auth_uri": f"{fake_youtube.url}o/oauth2/auth",
                    "token_uri": f"{fake_youtube.url}token",
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    token = tmp_path / "var" / "youtube" / "token.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")},
        "WAGGLE_DB_URL": "mysql+mysqldb://u:p@127.0.0.1:1/none",
        "WAGGLE_YOUTUBE_TOKEN_FILE": str(token),
        "WAGGLE_ENV_FILE": str(tmp_path / ".env"),
        # Google's endpoints are https; the loopback fake is not, and oauthlib needs telling.
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
    port = free_ports()
    flow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wagglebot.publish.credentials",
            "--port",
            str(port),
            "--client-secrets",
            str(secrets_file),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in flow.stdout:  # the address a person opens in their browser
            lines.append(line)
            if line.startswith(fake_youtube.url):
                break
        address = lines[-1].strip()
        assert "access_type=offline" in address
        assert f"127.0.0.1%3A{port}" in address
        page = requests.get(address, timeout=30)  # the "browser" allows and is sent back
        assert "WaggleBot may now upload to your channel" in page.text
        out = "".join(lines) + flow.stdout.read()
        assert flow.wait(30) == 0, out
    finally:
        flow.kill()
    assert f"Stored the YouTube token in {token}" in out
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, *fake_youtube.state.issued):
        assert secret not in out
    assert token.stat().st_mode & 0o777 == 0o600
    stored = json.loads(token.read_text())
    assert stored["refresh_token"] == REFRESH_TOKEN
    # What publishing then does with it: refresh an access token and upload.
    settings = Settings(
        db_url="mysql+mysqldb://u:p@127.0.0.1:1/none",
        youtube_token_file=token,
        youtube_token_uri=f"{fake_youtube.url}token",
        _env_file=None,
    )
    publisher = YouTubePublisher(
        load_credentials(settings), api_url=fake_youtube.url, chunk_bytes=2**20
    )
    video, digest = video_file(tmp_path / "short.mp4", 300_000)
    publisher.upload(ShortUpload(1, video, ShortMetadata(title="t", description="d")), Recorder())
    assert fake_youtube.videos()[0]["sha256"] == digest


def test_without_a_client_file_it_says_where_to_get_one(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")},
        "WAGGLE_DB_URL": "mysql+mysqldb://u:p@127.0.0.1:1/none",
        "WAGGLE_ENV_FILE": str(tmp_path / ".env"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "wagglebot.publish.credentials"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "OAuth client ID > Desktop app" in done.stderr
