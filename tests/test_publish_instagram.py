"""The Instagram Reels publisher against the loopback fake of the Graph API: a container,
the resumable upload resumed from Instagram's own count, the poll, the publish, the
rolling limit, an expired token renewed by another fb_exchange_token grant, and a rerun
that publishes nothing new."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wagglebot_stack.fake_instagram import FakeInstagram

from wagglebot.publish import PublishRejected, QuotaExhausted, ShortUpload
from wagglebot.publish.instagram import InstagramPublisher, InstagramToken
from wagglebot.publish.metadata import ShortMetadata

from youtube_support import Recorder, short_file

USER, TOKEN = "17841400000000001", "EAA-long-lived-never-logged"
APP_ID, APP_SECRET = "1234567890123456", "app-secret-never-logged"
METADATA = ShortMetadata(
    title="탕비실 커피 도둑 ☕",
    description="",
    tags=("쇼츠",),
    credit="출처: 네이트판 https://pann.nate.com/talk/2",
)


@pytest.fixture
def fake() -> Iterator[FakeInstagram]:
    fake = FakeInstagram(
        ig_user_id=USER, access_token=TOKEN, app_id=APP_ID, app_secret=APP_SECRET
    ).start()
    yield fake
    fake.stop()


def _publisher(fake: FakeInstagram, tmp_path: Path, **options: object) -> InstagramPublisher:
    path = tmp_path / "instagram" / "token.json"
    if not path.exists():
        path.parent.mkdir()
        now = datetime.now(UTC)  # as instagram-auth left it, a day ago
        info = {"access_token": TOKEN, "ig_user_id": USER, "app_id": APP_ID,
                "app_secret": APP_SECRET, "obtained_at": (now - timedelta(days=1)).isoformat(),
                "expires_at": (now + timedelta(days=59)).isoformat()}  # fmt: skip
        path.write_text(json.dumps(info))
    token = InstagramToken(path, graph_url=fake.url)
    options = {"backoff_s": 0.01, "poll_s": 0.01, **options}
    return InstagramPublisher(token, graph_url=fake.url, upload_url=fake.url, **options)


def _short(tmp_path: Path) -> tuple[ShortUpload, str]:
    video, digest = short_file(tmp_path / "reel.mp4", 2.0)
    return ShortUpload(9, video, METADATA), digest


def test_a_reel_is_made_uploaded_and_published_once(fake: FakeInstagram, tmp_path: Path) -> None:
    short, digest = _short(tmp_path)
    journal = Recorder()
    published = _publisher(fake, tmp_path).upload(short, journal)
    [media] = fake.media()
    assert media["sha256"] == digest
    assert media["caption"].startswith(
        "탕비실 커피 도둑 ☕\n\n출처: 네이트판 https://pann.nate.com"
    )
    assert (published.platform, published.video_id) == ("instagram", media["id"])
    assert published.url.startswith(fake.url)
    assert "/reel/" in published.url
    # A rerun with the same journal finds the Reel and publishes nothing new.
    again = _publisher(fake, tmp_path).upload(short, journal)
    assert again.video_id == media["id"]
    assert len(fake.media()) == 1


def test_a_dropped_upload_resumes_where_instagram_stopped(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    short, digest = _short(tmp_path)
    size = short.video.stat().st_size
    fake.add_fault("upload", drop=True, drop_after=size // 3)
    _publisher(fake, tmp_path).upload(short, Recorder())
    [media] = fake.media()
    assert media["sha256"] == digest
    first, second = fake.log("upload")
    assert (first["offset"], first["kept"]) == (0, size // 3)
    # The second POST carried only the rest: nothing Instagram had was sent again.
    assert (second["offset"], second["sent"]) == (size // 3, size - size // 3)


def test_a_5xx_from_the_upload_host_is_tried_again_and_the_reel_is_whole(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    short, digest = _short(tmp_path)
    fake.add_fault("upload", status=503)
    _publisher(fake, tmp_path).upload(short, Recorder())
    [media] = fake.media()
    assert media["sha256"] == digest
    assert [entry["status"] for entry in fake.log("upload")] == [503, 200]


def test_the_rolling_limit_stops_the_run_before_a_container(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    short, _ = _short(tmp_path)
    fake.configure(quota_total=1)
    _publisher(fake, tmp_path).upload(short, Recorder())
    with pytest.raises(QuotaExhausted, match="1 of 1 posts in the last 24 h"):
        _publisher(fake, tmp_path).upload(short, Recorder())
    assert len(fake.containers()) == 1


def test_a_failed_container_is_refused_with_metas_status_and_a_rerun_starts_anew(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    short, _ = _short(tmp_path)
    journal = Recorder()
    fake.add_fault("container", reason="ERROR")
    with pytest.raises(PublishRejected, match="ERROR"):
        _publisher(fake, tmp_path).upload(short, journal)
    _publisher(fake, tmp_path).upload(short, journal)  # the ERROR one published nothing
    assert len(fake.media()) == 1
    assert len(journal.starts) == 2
    assert journal.gone_count == 1


def test_an_expired_token_is_renewed_and_written_back_never_logged(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    short, _ = _short(tmp_path)
    publisher = _publisher(fake, tmp_path)
    fake.add_fault("container_create", reason="expired")
    publisher.upload(short, Recorder())
    assert len(fake.media()) == 1
    stored = json.loads(publisher.token.path.read_text())
    assert stored["access_token"] == fake.access_token != TOKEN
    assert len(fake.log("exchange")) == 1
    text = json.dumps(fake.log())
    assert TOKEN not in text
    assert fake.access_token not in text
    assert APP_SECRET not in text
