"""One Short on YouTube, TikTok and Instagram, on MariaDB against the three loopback fakes:
one uploads row per post and platform, never twice on one, each platform's limits and
failures its own, a killed worker resumed into exactly one post, no token in any log."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_publish import rendered
from wagglebot_stack.fake_instagram import FakeInstagram
from wagglebot_stack.fake_tiktok import FakeTikTok
from wagglebot_stack.fake_youtube import FakeYouTube

from wagglebot.core.config import Settings
from wagglebot.core.db.models import Content, Post, Upload
from wagglebot.core.statuses import PostStatus, UploadState
from wagglebot.publish.credentials import save_token
from wagglebot.publish.run import publish_posts
from wagglebot.publish.store import AlreadyThere, request_publish
from wagglebot.review.decisions import retry

from youtube_support import REFRESH_TOKEN, token_info

S, U = PostStatus, UploadState
PLATFORMS = ("youtube", "tiktok", "instagram")
TT_KEY, TT_SECRET, TT_REFRESH = "aw-multi-key", "tiktok-secret-never-logged", "rft.multi-never-1"
REEL_S = 3.5  # Instagram takes Reels of 3 s and more
IG_USER, IG_TOKEN = "17841400000000042", "IGQ-long-lived-never-logged"


@pytest.fixture
def fake_tiktok() -> Iterator[FakeTikTok]:
    fake = FakeTikTok(client_key=TT_KEY, client_secret=TT_SECRET, refresh_token=TT_REFRESH)
    fake.start()
    fake.configure(processing_polls=0)  # published at the first status fetch: no waiting
    yield fake
    fake.stop()


@pytest.fixture
def fake_instagram() -> Iterator[FakeInstagram]:
    fake = FakeInstagram(ig_user_id=IG_USER, access_token=IG_TOKEN).start()
    fake.configure(processing_polls=0)
    yield fake
    fake.stop()


@pytest.fixture
def settings(
    db_settings: Settings,
    tmp_path: Path,
    sessions: sessionmaker[Session],  # a clean database
    fake_youtube: FakeYouTube,
    fake_tiktok: FakeTikTok,
    fake_instagram: FakeInstagram,
) -> Settings:
    youtube, tiktok, instagram = (tmp_path / p / "token.json" for p in PLATFORMS)
    save_token(token_info(fake_youtube), youtube)
    save_token({"client_key": TT_KEY, "client_secret": TT_SECRET, "refresh_token": TT_REFRESH},
               tiktok)  # fmt: skip
    now = datetime.now(UTC)
    save_token({"access_token": IG_TOKEN, "ig_user_id": IG_USER, "username": "wagglebot",
                "obtained_at": now.isoformat(),
                "expires_at": (now + timedelta(days=60)).isoformat()}, instagram)  # fmt: skip
    return db_settings.model_copy(
        update={
            "media_root": tmp_path / "media",
            "youtube_api_url": fake_youtube.url,
            "youtube_token_uri": f"{fake_youtube.url}token",
            "youtube_token_file": youtube,
            "tiktok_api_url": fake_tiktok.url,
            "tiktok_token_file": tiktok,
            "instagram_graph_url": fake_instagram.url,
            "instagram_token_file": instagram,
            "publish_platforms": list(PLATFORMS),
            "upload_chunk_mib": 1,
            "upload_retries": 2,
            "upload_stale_seconds": 1,
        }
    )


def uploads(sessions: sessionmaker[Session], post_id: int) -> dict[str, Upload]:
    with sessions() as session:
        rows = session.scalars(select(Upload).where(Upload.post_id == post_id)).all()
    return {row.platform: row for row in rows}


def post_status(sessions: sessionmaker[Session], post_id: int) -> tuple[PostStatus, str | None]:
    with sessions() as session:
        post = session.get(Post, post_id)
        return post.status, post.last_error


def publish_all(settings: Settings, **options: object) -> dict[str, dict]:
    return {p: publish_posts(settings=settings, platform=p, **options) for p in PLATFORMS}


def received(
    fake_youtube: FakeYouTube, fake_tiktok: FakeTikTok, fake_instagram: FakeInstagram
) -> dict[str, list[str]]:
    """Each fake's published videos, by their bytes' SHA-256."""
    return {
        "youtube": sorted(v["sha256"] for v in fake_youtube.videos()),
        "tiktok": sorted(p["sha256"] for p in fake_tiktok.posts() if p["sha256"]),
        "instagram": sorted(m["sha256"] for m in fake_instagram.media()),
    }


def test_each_short_goes_to_every_platform_once_whole_and_no_token_is_logged(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_youtube: FakeYouTube,
    fake_tiktok: FakeTikTok,
    fake_instagram: FakeInstagram,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    digests = rendered(sessions, tmp_path, 2, seconds=REEL_S, voice_s=REEL_S)
    with sessions() as session:
        moved, refused = request_publish(session, list(digests), by="alice", platforms=PLATFORMS)
    assert (sorted(moved), refused) == (sorted(digests), [])
    reports = publish_all(settings)
    for platform, report in reports.items():
        assert sorted(report["uploaded"]) == sorted(map(str, digests)), (platform, report)
    # The bytes each platform received are the file, on each of them.
    assert received(fake_youtube, fake_tiktok, fake_instagram) == {
        p: sorted(digests.values()) for p in PLATFORMS
    }
    for post_id in digests:
        rows = uploads(sessions, post_id)
        assert {p: r.state for p, r in rows.items()} == dict.fromkeys(PLATFORMS, U.PUBLISHED)
        assert all(r.video_id and r.note is None for r in rows.values())
        assert post_status(sessions, post_id) == (S.UPLOADED, None)
        with sessions() as session:
            meta = session.get(Content, post_id).upload_meta
        assert set(meta) == set(PLATFORMS)
    # The caption carries the credit and the hashtags on TikTok and Instagram.
    caption = fake_instagram.media()[0]["caption"]
    assert "출처: " in caption
    assert "#Shorts" in caption
    assert any("출처: " in p["title"] for p in fake_tiktok.posts())
    # A rerun publishes nothing new, and asking again is refused per platform.
    again = publish_all(settings)
    assert all(r["uploaded"] == {} for r in again.values())
    assert received(fake_youtube, fake_tiktok, fake_instagram) == {
        p: sorted(digests.values()) for p in PLATFORMS
    }
    with sessions() as session:
        moved, refused = request_publish(session, list(digests), by="bob", platforms=PLATFORMS)
    assert moved == []
    assert len(refused) == 6
    assert all(isinstance(r, AlreadyThere) for r in refused)
    # No token, refresh token or secret in our log, the fakes' logs or the database notes.
    said = caplog.text + json.dumps(fake_tiktok.log()) + json.dumps(fake_instagram.log())
    for secret in (TT_SECRET, TT_REFRESH, IG_TOKEN, REFRESH_TOKEN, fake_instagram.access_token):
        assert secret not in said


def test_a_failure_on_one_platform_leaves_the_others_alone(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_tiktok: FakeTikTok,
    fake_instagram: FakeInstagram,
    tmp_path: Path,
) -> None:
    [shared, tiktok_only] = rendered(sessions, tmp_path, 2, seconds=REEL_S, voice_s=REEL_S)
    with sessions() as session:
        request_publish(session, [shared], by="alice", platforms=PLATFORMS)
        request_publish(session, [tiktok_only], by="alice", platforms=["tiktok"])
    fake_tiktok.add_fault("status", reason="duration_check_failed", every=True)
    reports = publish_all(settings)
    assert set(reports["tiktok"]["failed"]) == {str(shared), str(tiktok_only)}
    assert list(reports["youtube"]["uploaded"]) == [str(shared)]
    assert list(reports["instagram"]["uploaded"]) == [str(shared)]
    rows = uploads(sessions, shared)
    assert rows["tiktok"].state is U.FAILED
    assert "duration_check_failed" in rows["tiktok"].note  # TikTok's own reason, kept
    assert (rows["youtube"].state, rows["instagram"].state) == (U.PUBLISHED, U.PUBLISHED)
    assert post_status(sessions, shared) == (S.UPLOADED, None)  # published elsewhere
    # Where TikTok was the only platform asked for, the post fails with TikTok's reason,
    status, error = post_status(sessions, tiktok_only)
    assert status is S.FAILED
    assert "duration_check_failed" in error
    # and a retry asks TikTok again, with its session kept for the next run to ask first.
    with sessions() as session:
        assert retry(session, [tiktok_only], by="alice") == ([tiktok_only], [])
    assert uploads(sessions, tiktok_only)["tiktok"].state is U.WAITING
    assert post_status(sessions, tiktok_only)[0] is S.RENDERED
    fake_tiktok.state.faults.clear()
    assert list(publish_posts(settings=settings, platform="tiktok")["uploaded"]) == [
        str(tiktok_only)
    ]


def test_each_platforms_daily_limit_stops_only_that_platform_cleanly(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_youtube: FakeYouTube,
    fake_tiktok: FakeTikTok,
    fake_instagram: FakeInstagram,
    tmp_path: Path,
) -> None:
    posts = list(rendered(sessions, tmp_path, 3, seconds=REEL_S, voice_s=REEL_S))
    with sessions() as session:
        request_publish(session, posts, by="alice", platforms=PLATFORMS)
    fake_instagram.configure(quota_total=2)  # Instagram's rolling 24 h allows two more
    limited = settings.model_copy(update={"tiktok_daily_posts": 1})  # ours: one a day
    reports = publish_all(limited)
    assert len(reports["youtube"]["uploaded"]) == 3
    tiktok, instagram = reports["tiktok"], reports["instagram"]
    assert (len(tiktok["uploaded"]), len(tiktok["waiting"])) == (1, 2)
    assert "daily TikTok quota: 1 of 1 uploads used today" in tiktok["stopped"]
    assert (len(instagram["uploaded"]), len(instagram["waiting"])) == (2, 1)
    assert "content_publishing_limit" in instagram["stopped"] or "24 h" in instagram["stopped"]
    assert (tiktok["failed"], instagram["failed"]) == ({}, {})
    assert (len(fake_tiktok.posts()), len(fake_instagram.media())) == (1, 2)
    for platform, report in (("tiktok", tiktok), ("instagram", instagram)):
        for post_id in report["waiting"]:  # waiting, with the reason, for the next day
            row = uploads(sessions, post_id)[platform]
            assert row.state is U.WAITING
            assert "quota" in row.note
            assert post_status(sessions, post_id)[0] is S.UPLOADED  # on YouTube already


def test_a_platform_without_credentials_is_off_and_the_others_publish(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    [pid] = rendered(sessions, tmp_path, seconds=REEL_S, voice_s=REEL_S)
    with sessions() as session:
        request_publish(session, [pid], by="alice", platforms=PLATFORMS)
    off = settings.model_copy(update={"instagram_token_file": tmp_path / "none.json"})
    reports = publish_all(off)
    assert "instagram-auth" in reports["instagram"]["off"]
    assert reports["instagram"]["failed"] == {}
    rows = uploads(sessions, pid)
    assert (rows["instagram"].state, rows["instagram"].note) == (
        U.WAITING,
        reports["instagram"]["off"],
    )
    assert {rows["youtube"].state, rows["tiktok"].state} == {U.PUBLISHED}
    assert post_status(sessions, pid) == (S.UPLOADED, None)


KILLED = {
    # platform: the request kind to slow down, and what its fake calls a published post
    "tiktok": (
        "chunk",
        lambda fake: [p for p in fake.posts() if p["status"] == "PUBLISH_COMPLETE"],
    ),
    "instagram": ("upload", lambda fake: fake.media()),
}


@pytest.mark.parametrize("platform", list(KILLED))
def test_a_worker_killed_mid_upload_ends_in_exactly_one_post(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_tiktok: FakeTikTok,
    fake_instagram: FakeInstagram,
    tmp_path: Path,
    platform: str,
) -> None:
    fake = {"tiktok": fake_tiktok, "instagram": fake_instagram}[platform]
    kind, published = KILLED[platform]
    [(pid, digest)] = rendered(sessions, tmp_path, seconds=REEL_S, voice_s=REEL_S).items()
    with sessions() as session:
        request_publish(session, [pid], by="alice", platforms=[platform])
    fake.add_fault(kind, delay=30.0)  # the bytes hang: the worker dies in the middle
    code = f"from wagglebot.publish.run import publish_posts; publish_posts(platform={platform!r})"
    worker = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **settings.as_env()})
    deadline = time.monotonic() + 60
    while not uploads(sessions, pid)[platform].session_uri and time.monotonic() < deadline:
        time.sleep(0.05)  # the session is kept before the first byte is sent
    time.sleep(0.5)  # the bytes are on their way, and hang
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    row = uploads(sessions, pid)[platform]
    assert (row.state, bool(row.session_uri)) == (U.UPLOADING, True)
    assert post_status(sessions, pid)[0] is S.PUBLISHING
    fake.state.faults.clear()
    time.sleep(1.2)  # upload_stale_seconds: the dead run's claim is taken over
    report = publish_posts(settings=settings, platform=platform)
    assert list(report["uploaded"]) == [str(pid)]
    [post] = published(fake)
    assert post["sha256"] == digest
    assert publish_posts(settings=settings, platform=platform)["uploaded"] == {}
    assert len(published(fake)) == 1
    assert uploads(sessions, pid)[platform].state is U.PUBLISHED


def test_a_short_is_mended_only_for_the_platform_whose_rules_need_it_and_it_is_said(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_youtube: FakeYouTube,
    fake_tiktok: FakeTikTok,
    fake_instagram: FakeInstagram,
    tmp_path: Path,
) -> None:
    """An index-last file (an older render): Instagram wants the moov atom first."""
    [(pid, digest)] = rendered(
        sessions, tmp_path, seconds=REEL_S, voice_s=REEL_S, faststart=False
    ).items()
    with sessions() as session:
        request_publish(session, [pid], by="alice", platforms=PLATFORMS)
    reports = publish_all(settings)
    assert (reports["youtube"]["adapted"], reports["tiktok"]["adapted"]) == ({}, {})
    assert "moved to the front" in reports["instagram"]["adapted"][str(pid)]
    got = received(fake_youtube, fake_tiktok, fake_instagram)
    assert got["youtube"] == got["tiktok"] == [digest]  # the very file
    assert got["instagram"] != [digest]  # a copy, its streams not re-encoded
    with sessions() as session:
        meta = session.get(Content, pid).upload_meta
    assert meta["youtube"]["video"] == meta["tiktok"]["video"] == "sent as rendered"
    assert "not re-encoded" in meta["instagram"]["video"]
