"""The platforms a Short can go to, each behind the same ``Publisher``: which are on here,
where each publishes, and the publisher for each from its stored credentials.

A platform without credentials is "off", with the reason and the command that turns it
on; that is said, never a failure. Sample mode (a sample-site install, see ``endpoint``)
publishes to the stack's loopback fakes instead, with made-up tokens, so every platform
is on there. YouTube's endpoint (Google's, or its fake) is decided in publish.credentials.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wagglebot.core.config import Settings
from wagglebot.publish import Publisher, PublishingOff

PLATFORMS = ("youtube", "tiktok", "instagram")
NAMES = {"youtube": "YouTube", "tiktok": "TikTok", "instagram": "Instagram"}  # as people write them
# The settings each platform's endpoint comes from: its token file, its API address, and
# its loopback fake's port.
_SETTINGS = {
    "tiktok": ("tiktok_token_path", "tiktok_api_url", "fake_tiktok_port"),
    "instagram": ("instagram_token_path", "instagram_graph_url", "fake_instagram_port"),
}


@dataclass(frozen=True)
class PlatformEndpoint:
    """Where a platform's publishing goes: its API root and the token file to use."""

    api_url: str  # TikTok's and Instagram's end in "/"; YouTube's is empty for Google's
    token_file: Path
    sample: bool  # the stack's loopback fake of sample mode, not the platform


def endpoint(settings: Settings, platform: str) -> PlatformEndpoint:
    """The platform itself, unless this is a sample-site install with no account connected
    (no real token file, the API address left at its default): then the stack's loopback
    fake, with a sample token under <stack_home>/<platform>/. Decided here once, for the
    stack's fake services and for the publishers alike."""
    from wagglebot.publish.credentials import token_present, youtube_endpoint

    if platform == "youtube":
        yt = youtube_endpoint(settings)
        return PlatformEndpoint(yt.api_url, yt.token_file, yt.sample)
    if platform not in _SETTINGS:
        raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")
    token, api, port = _SETTINGS[platform]
    real, url = getattr(settings, token), getattr(settings, api)
    if settings.crawl_target == "sample" and url == _default(api) and not token_present(real):
        root = f"http://127.0.0.1:{getattr(settings, port)}/"
        return PlatformEndpoint(root, settings.stack_home / platform / "sample-token.json", True)
    return PlatformEndpoint(url.rstrip("/") + "/", real, sample=False)


def _default(name: str) -> object:
    return Settings.model_fields[name].default


# -- sample mode's made-up tokens, good only with the loopback fakes -----------------------


def ensure_sample_tiktok_token(path: Path) -> dict:
    """The fake TikTok's grant (the fake takes it as the one its app issued); made once."""
    return _ensure(path, lambda: {
        "client_key": "sample" + secrets.token_hex(5),
        "client_secret": secrets.token_urlsafe(24),
        "refresh_token": "rft.sample-" + secrets.token_urlsafe(24),
    })  # fmt: skip


def ensure_sample_instagram_token(path: Path) -> dict:
    """The fake Instagram's long-lived token and account; made once. It carries every
    field instagram-auth writes (Facebook Login's app id and secret too), so either token
    format reads it."""
    now = datetime.now(UTC)
    return _ensure(path, lambda: {
        "access_token": "IGSAMPLE" + secrets.token_urlsafe(36),
        "ig_user_id": "178414" + "".join(str(secrets.randbelow(10)) for _ in range(11)),
        "username": "wagglebot_sample",
        "app_id": str(10**14 + secrets.randbelow(9 * 10**14)),
        "app_secret": secrets.token_hex(16),
        "obtained_at": now.isoformat(),
        "expires_at": (now + timedelta(days=60)).isoformat(),  # a long-lived token's life
    })  # fmt: skip


def ensure_sample(platform: str, path: Path) -> dict:
    """The sample token for ``platform`` at ``path``, made (0600) if it is not there."""
    if platform == "youtube":
        from wagglebot.publish.credentials import ensure_sample_token as youtube

        return youtube(path)
    return {"tiktok": ensure_sample_tiktok_token,
            "instagram": ensure_sample_instagram_token}[platform](path)  # fmt: skip


def _ensure(path: Path, make: Callable[[], dict]) -> dict:
    # Never replaced once made: the fake takes it when it starts, and the publisher writes
    # TikTok's rotated refresh token (Instagram's refreshed token) back to it.
    if not path.exists():
        from wagglebot.publish.credentials import save_token

        part = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        save_token(make(), part)
        try:  # the first maker wins (the fake's service and a publisher may race)
            os.link(part, path)
        except FileExistsError:
            pass
        finally:
            part.unlink()
    return json.loads(path.read_text(encoding="utf-8"))


# -- the publishers ------------------------------------------------------------------------


def _stored(where: PlatformEndpoint, platform: str) -> Path:
    """The token file (sample mode's made if missing), or PublishingOff naming it and the
    command that writes it."""
    path, name, command = where.token_file, NAMES[platform], f"{platform}-auth"
    if where.sample and not path.exists():
        ensure_sample(platform, path)  # a publish may come before the fake's first start
    try:
        path.stat()
    except FileNotFoundError:
        raise PublishingOff(
            f"{name} publishing is off: no {name} credentials at {path}; run ./wagglebot {command}"
        ) from None
    except OSError as exc:
        raise PublishingOff(f"{name} publishing is off: {path}: {exc.strerror}") from None
    return path


def _youtube(settings: Settings) -> Publisher:
    from wagglebot.publish.credentials import load_credentials, youtube_endpoint
    from wagglebot.publish.youtube import YouTubePublisher

    where = youtube_endpoint(settings)  # decided once: credentials and API agree
    if where.sample and not where.token_file.exists():
        ensure_sample("youtube", where.token_file)  # before the fake's first start, too
    return YouTubePublisher(
        load_credentials(settings, where),
        api_url=where.api_url,
        chunk_bytes=settings.upload_chunk_mib * 2**20,
        retries=settings.upload_retries,
    )


def _tiktok(settings: Settings) -> Publisher:
    from wagglebot.publish.tiktok import TikTokPublisher, TikTokToken

    where = endpoint(settings, "tiktok")
    path = _stored(where, "tiktok")
    # The fake acts as an unaudited app, as a new real one is: only SELF_ONLY posts,
    # which is tiktok_privacy's default.
    return TikTokPublisher(
        TikTokToken(path, f"{where.api_url}v2/oauth/token/"),
        api_url=where.api_url,
        **({"web_url": where.api_url} if where.sample else {}),  # the fake serves the page
        privacy=settings.tiktok_privacy,
        retries=settings.upload_retries,
    )


def _instagram(settings: Settings) -> Publisher:
    from wagglebot.publish.instagram import InstagramPublisher, InstagramToken

    where = endpoint(settings, "instagram")
    path = _stored(where, "instagram")
    graph = where.api_url
    return InstagramPublisher(
        InstagramToken(path, graph_url=graph),
        graph_url=graph,
        # The fake answers container uris on its own root too (Meta's: rupload.facebook.com).
        upload_url=graph if where.sample else None,
        retries=settings.upload_retries,
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


def chosen_platforms(chosen: list[str] | None, settings: Settings) -> list[str]:
    """The platforms a run publishes to: those chosen (in PLATFORMS' order, once each), or
    WAGGLE_PUBLISH_PLATFORMS when none are."""
    wanted = set(chosen or settings.publish_platforms)
    if unknown := wanted - set(PLATFORMS):
        raise ValueError(f"unknown platforms {sorted(unknown)}; choose from {', '.join(PLATFORMS)}")
    return [p for p in PLATFORMS if p in wanted]
