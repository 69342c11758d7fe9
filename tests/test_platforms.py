"""Which platforms can publish here: each publisher made from its stored credentials, and
a platform without them "off", saying why and how to turn it on; in sample mode, the
stack's loopback fakes of TikTok and Instagram with made-up tokens."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from wagglebot_stack import Stack
from wagglebot_stack.procs import Service

from wagglebot.core.config import Settings
from wagglebot.publish import PublishingOff, ShortUpload
from wagglebot.publish.instagram import InstagramPublisher
from wagglebot.publish.metadata import ShortMetadata
from wagglebot.publish.platforms import (
    PlatformEndpoint,
    endpoint,
    ensure_sample_instagram_token,
    ensure_sample_tiktok_token,
    make_publisher,
    platform_off,
)
from wagglebot.publish.tiktok import TikTokPublisher

from conftest import make_settings
from youtube_support import Recorder, short_file


def test_a_platform_without_credentials_is_off_with_the_command_that_turns_it_on(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    assert "no TikTok credentials at" in platform_off(settings, "tiktok")
    assert platform_off(settings, "tiktok").endswith("run ./wagglebot tiktok-auth")
    assert platform_off(settings, "instagram").endswith("run ./wagglebot instagram-auth")
    with pytest.raises(ValueError, match="unknown platform 'vimeo'"):
        make_publisher(settings, "vimeo")


def test_stored_credentials_make_each_platforms_publisher(tmp_path: Path) -> None:
    settings = make_settings(tmp_path).model_copy(
        update={"tiktok_privacy": "PUBLIC_TO_EVERYONE", "instagram_graph_url": "http://x/"}
    )
    for path, info in (
        (
            settings.tiktok_token_path,
            {"client_key": "k", "client_secret": "s", "refresh_token": "r"},
        ),
        (settings.instagram_token_path, {"access_token": "t", "ig_user_id": "1"}),
    ):
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(info))
    tiktok = make_publisher(settings, "tiktok")
    assert isinstance(tiktok, TikTokPublisher)
    assert (tiktok.privacy, tiktok.api) == ("PUBLIC_TO_EVERYONE", "https://open.tiktokapis.com/")
    instagram = make_publisher(settings, "instagram")
    assert isinstance(instagram, InstagramPublisher)
    assert instagram.graph.startswith("http://x/v")
    assert platform_off(settings, "tiktok") is None
    with pytest.raises(PublishingOff):
        make_publisher(settings.model_copy(update={"instagram_token_file": tmp_path / "none"}),
                       "instagram")  # fmt: skip


# -- sample mode: the stack's loopback fakes -----------------------------------------------


def _sample(tmp_path: Path, **update: object) -> Settings:
    return make_settings(tmp_path).model_copy(update={"crawl_target": "sample", **update})


def test_sample_mode_publishes_to_the_loopback_fakes_with_0600_sample_tokens(
    tmp_path: Path,
) -> None:
    settings = _sample(tmp_path)
    tiktok_root = f"http://127.0.0.1:{settings.fake_tiktok_port}/"
    instagram_root = f"http://127.0.0.1:{settings.fake_instagram_port}/"
    tiktok_token = tmp_path / "tiktok" / "sample-token.json"
    instagram_token = tmp_path / "instagram" / "sample-token.json"
    assert endpoint(settings, "tiktok") == PlatformEndpoint(tiktok_root, tiktok_token, True)
    assert endpoint(settings, "instagram") == PlatformEndpoint(
        instagram_root, instagram_token, True
    )
    assert endpoint(settings, "youtube").sample
    # A publish before the fakes' first start makes the tokens they will take.
    tiktok = make_publisher(settings, "tiktok")
    assert isinstance(tiktok, TikTokPublisher)
    assert (tiktok.api, tiktok.token.token_url) == (tiktok_root, f"{tiktok_root}v2/oauth/token/")
    assert tiktok.privacy == "SELF_ONLY"  # all an unaudited app (the fake is one) may post
    instagram = make_publisher(settings, "instagram")
    assert isinstance(instagram, InstagramPublisher)
    assert instagram.graph.startswith(instagram_root)
    assert instagram.upload_url == instagram_root
    assert platform_off(settings, "tiktok") is None
    assert platform_off(settings, "instagram") is None
    for path in (tiktok_token, instagram_token):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    grant = json.loads(tiktok_token.read_text())
    assert set(grant) == {"client_key", "client_secret", "refresh_token"}
    account = json.loads(instagram_token.read_text())
    assert set(account) == {"access_token", "ig_user_id", "username", "app_id", "app_secret",
                            "obtained_at", "expires_at"}  # fmt: skip
    left = datetime.fromisoformat(account["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=59) < left <= timedelta(days=60)
    # Made once: kept as it is (the fake took it; TikTok's rotated token is written back).
    assert ensure_sample_tiktok_token(tiktok_token) == grant
    assert ensure_sample_instagram_token(instagram_token) == account
    assert json.loads(tiktok_token.read_text()) == grant


def test_a_real_token_or_another_api_address_means_the_real_platform(tmp_path: Path) -> None:
    settings = _sample(tmp_path)
    settings.tiktok_token_path.parent.mkdir()
    settings.tiktok_token_path.write_text("{}")  # tiktok-auth has run
    assert endpoint(settings, "tiktok") == PlatformEndpoint(
        "https://open.tiktokapis.com/", settings.tiktok_token_path, False
    )
    elsewhere = settings.model_copy(update={"instagram_graph_url": "http://graph.test"})
    assert endpoint(elsewhere, "instagram") == PlatformEndpoint(
        "http://graph.test/", settings.instagram_token_path, False
    )
    assert "no Instagram credentials at" in platform_off(elsewhere, "instagram")
    assert not (tmp_path / "instagram" / "sample-token.json").exists()
    assert not (tmp_path / "tiktok" / "sample-token.json").exists()


def test_outside_sample_mode_a_platform_without_a_token_is_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # crawl_target "live"
    for platform in ("tiktok", "instagram"):
        assert not endpoint(settings, platform).sample
        assert platform_off(settings, platform).endswith(f"run ./wagglebot {platform}-auth")
    assert not list(tmp_path.glob("*/sample-token.json"))
    stack = Stack(settings)
    assert [stack.fake_tiktok.wanted, stack.fake_instagram.wanted] == [False, False]
    assert not {"fake-tiktok", "fake-instagram"} & {s.name for s in stack.services()}


@pytest.fixture
def sample_settings(tmp_path: Path) -> Settings:
    return _sample(tmp_path / "home")


@contextmanager
def _running(service: Service) -> Iterator[None]:
    """The service's program as the stack's launcher starts it: before_start, then its
    argv, until it answers."""
    service.before_start()
    log = service.paths.home / f"{service.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(service.argv(), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not service.answers():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def _short(tmp_path: Path) -> tuple[ShortUpload, str]:
    video, digest = short_file(tmp_path / "short.mp4", 1.0, size="360x640")
    metadata = ShortMetadata(title="샘플 모드 🐱", description="", tags=("쇼츠",), credit="")
    return ShortUpload(3, video, metadata), digest


def test_sample_mode_publishes_to_the_fake_tiktok_service_end_to_end(
    sample_settings: Settings, tmp_path: Path
) -> None:
    service = Stack(sample_settings).fake_tiktok
    assert service.wanted
    assert service.describe().startswith("sample mode: loopback stand-in for TikTok at ")
    short, digest = _short(tmp_path)
    with _running(service):
        publisher = make_publisher(sample_settings, "tiktok")
        publisher.poll_s = 0.05  # the fake takes one status fetch to "process"
        published = publisher.upload(short, Recorder())
        [post] = requests.get(f"{service.url}_fake/posts", timeout=5).json()
    assert (post["status"], post["sha256"], post["privacy_level"]) == (
        "PUBLISH_COMPLETE",
        digest,
        "SELF_ONLY",
    )
    assert (published.platform, published.privacy) == ("tiktok", "SELF_ONLY")
    # The fake rotated the refresh token; the sample token file holds the new one.
    assert json.loads(service.endpoint.token_file.read_text())["refresh_token"].startswith("rft.")
    assert list((sample_settings.stack_home / "fake-tiktok").iterdir())


def test_sample_mode_publishes_to_the_fake_instagram_service_end_to_end(
    sample_settings: Settings, tmp_path: Path
) -> None:
    service = Stack(sample_settings).fake_instagram
    assert service.wanted
    assert service.describe().startswith("sample mode: loopback stand-in for Instagram at ")
    short, digest = _short(tmp_path)
    with _running(service):
        publisher = make_publisher(sample_settings, "instagram")
        publisher.poll_s = 0.05  # the fake takes one status poll to "process"
        published = publisher.upload(short, Recorder())
        [media] = requests.get(f"{service.url}_fake/media", timeout=5).json()
        page = requests.get(published.url, timeout=5)
    assert media["sha256"] == digest
    assert (published.platform, published.video_id) == ("instagram", media["id"])
    assert published.url.startswith(f"{service.url}reel/")
    assert "not Instagram" in page.text
