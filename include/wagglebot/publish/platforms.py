"""The platforms a Short can go to, each behind the same ``Publisher``: which are on here,
and the publisher for each from its stored credentials.

A platform without credentials is "off", with the reason and the command that turns it
on; that is said, never a failure. YouTube's endpoint (Google's, or the loopback fake in
sample mode) is decided in publish.credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from wagglebot.core.config import Settings
from wagglebot.publish import Publisher, PublishingOff

PLATFORMS = ("youtube", "tiktok", "instagram")


def _stored(path: Path, platform: str, command: str) -> Path:
    """The token file, or PublishingOff naming it and the command that writes it."""
    try:
        path.stat()
    except FileNotFoundError:
        raise PublishingOff(
            f"{platform} publishing is off: no {platform} credentials at {path}; run "
            f"./wagglebot {command}"
        ) from None
    except OSError as exc:
        raise PublishingOff(f"{platform} publishing is off: {path}: {exc.strerror}") from None
    return path


def _youtube(settings: Settings) -> Publisher:
    from wagglebot.publish.credentials import load_credentials, youtube_endpoint
    from wagglebot.publish.youtube import YouTubePublisher

    endpoint = youtube_endpoint(settings)  # decided once: credentials and API agree
    return YouTubePublisher(
        load_credentials(settings, endpoint),
        api_url=endpoint.api_url,
        chunk_bytes=settings.upload_chunk_mib * 2**20,
        retries=settings.upload_retries,
    )


def _tiktok(settings: Settings) -> Publisher:
    from wagglebot.publish.tiktok import TikTokPublisher, TikTokToken

    path = _stored(settings.tiktok_token_path, "TikTok", "tiktok-auth")
    api = settings.tiktok_api_url.rstrip("/") + "/"
    return TikTokPublisher(
        TikTokToken(path, f"{api}v2/oauth/token/"),
        api_url=api,
        privacy=settings.tiktok_privacy,
        retries=settings.upload_retries,
    )


def _instagram(settings: Settings) -> Publisher:
    from wagglebot.publish.instagram import InstagramPublisher, InstagramToken

    path = _stored(settings.instagram_token_path, "Instagram", "instagram-auth")
    graph = settings.instagram_graph_url
    return InstagramPublisher(
        InstagramToken(path, graph_url=graph), graph_url=graph, retries=settings.upload_retries
    )


_MAKERS: dict[str, Callable[[Settings], Publisher]] = {
    "youtube": _youtube,
    "tiktok": _tiktok,
    "instagram": _instagram,
}


def make_publisher(settings: Settings, platform: str = "youtube") -> Publisher:
    """The platform's publisher from its stored credentials, or PublishingOff saying why."""
    if platform not in _MAKERS:
        raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")
    return _MAKERS[platform](settings)


def platform_off(settings: Settings, platform: str) -> str | None:
    """Why ``platform`` cannot publish here, or None when it can."""
    try:
        make_publisher(settings, platform)
    except PublishingOff as exc:
        return str(exc)
    return None
