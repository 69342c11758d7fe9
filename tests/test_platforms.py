"""Which platforms can publish here: each publisher made from its stored credentials, and
a platform without them "off", saying why and how to turn it on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wagglebot.publish import PublishingOff
from wagglebot.publish.instagram import InstagramPublisher
from wagglebot.publish.platforms import make_publisher, platform_off
from wagglebot.publish.tiktok import TikTokPublisher

from conftest import make_settings


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
