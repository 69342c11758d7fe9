"""The YouTube uploader against the loopback fake_youtube, which speaks the resumable protocol."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from wagglebot_stack.fake_youtube import FakeYouTube

from wagglebot.publish import (
    CredentialsRefused,
    PublishError,
    PublishRejected,
    QuotaExhausted,
    ShortUpload,
)
from wagglebot.publish.metadata import ShortMetadata, clean_title

from conftest import free_ports
from youtube_support import CHUNK, CLIENT_SECRET, REFRESH_TOKEN, Recorder, publisher, video_file

META = ShortMetadata(title="퇴근길 고양이 입양 후기", description="설명\n\n#Shorts", tags=("쇼츠",))


@pytest.fixture
def short(tmp_path: Path) -> tuple[ShortUpload, str]:
    video, digest = video_file(tmp_path / "short.mp4")
    return ShortUpload(7, video, META), digest


def _chunks(fake_youtube: FakeYouTube) -> list[dict]:
    return fake_youtube.log("chunk")


def test_an_upload_arrives_whole_in_chunks_with_its_metadata(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    upload, digest = short
    journal = Recorder()
    published = publisher(fake_youtube).upload(upload, journal)
    [video] = fake_youtube.videos()
    assert video["sha256"] == digest
    assert video["bytes"] == upload.video.stat().st_size
    assert published.video_id == video["id"]
    assert published.url == f"{fake_youtube.url}watch?v={video['id']}"
    assert published.privacy == "private"
    assert video["snippet"]["title"] == META.title
    assert video["snippet"]["defaultLanguage"] == "ko"
    assert video["status"]["containsSyntheticMedia"] is True
    assert video["status"]["selfDeclaredMadeForKids"] is False
    assert [c["range"] for c in _chunks(fake_youtube)] == [
        f"bytes 0-{CHUNK - 1}/{video['bytes']}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{video['bytes']}",
        f"bytes {2 * CHUNK}-{video['bytes'] - 1}/{video['bytes']}",
    ]
    assert [c["status"] for c in _chunks(fake_youtube)] == [308, 308, 200]
    assert journal.starts == [journal.session_uri]
    assert journal.progress == [CHUNK, 2 * CHUNK]
    assert len(fake_youtube.log("init")) == 1
    assert len(fake_youtube.log("token")) == 1


@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"drop": True}, {"reason": "rateLimitExceeded"}]
)
def test_a_failed_chunk_is_resumed_on_the_same_session(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str], fault: dict
) -> None:
    upload, digest = short
    fake_youtube.add_fault("chunk", nth=2, **fault)
    publisher(fake_youtube).upload(upload, Recorder())
    [video] = fake_youtube.videos()
    assert video["sha256"] == digest
    assert len(fake_youtube.log("init")) == 1  # the same session, not a new upload
    second = f"bytes {CHUNK}-{2 * CHUNK - 1}/{video['bytes']}"
    assert [c["range"] for c in _chunks(fake_youtube)].count(second) == 2  # that chunk, once more
    asked = [s["status"] for s in fake_youtube.log("status")]  # how far did the upload get?
    if fault.get("drop"):
        # Dropped while the chunk was read: httplib2 sends the request again itself; dropped
        # while it was still being sent (a broken pipe): ours asks first, then goes on.
        assert asked in ([], [308])
    else:
        assert asked == [308]
    assert sum(c.get("resent", 0) for c in _chunks(fake_youtube)) == 0  # no byte YouTube had


def test_a_chunk_that_times_out_is_resumed(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    upload, digest = short
    fake_youtube.add_fault("chunk", nth=2, delay=3.0)  # no answer within the timeout
    publisher(fake_youtube, timeout_s=1.0).upload(upload, Recorder())
    [video] = fake_youtube.videos()
    assert video["sha256"] == digest
    assert len(fake_youtube.log("init")) == 1
    assert [s["status"] for s in fake_youtube.log("status")] == [308]  # asked, then went on


def test_an_expired_token_is_refreshed_and_the_chunk_sent_again(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    upload, digest = short
    fake_youtube.add_fault("chunk", nth=2, status=401)
    publisher(fake_youtube).upload(upload, Recorder())
    assert fake_youtube.videos()[0]["sha256"] == digest
    assert [t["status"] for t in fake_youtube.log("token")] == [200, 200]


@pytest.mark.parametrize("reason", ["quotaExceeded", "uploadLimitExceeded"])
def test_quota_answers_stop_the_upload_at_once(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str], reason: str
) -> None:
    fake_youtube.add_fault("init", reason=reason)
    with pytest.raises(QuotaExhausted, match=reason) as caught:
        publisher(fake_youtube).upload(short[0], Recorder())
    assert caught.value.reason == reason
    assert fake_youtube.videos() == []
    assert len(fake_youtube.log("init")) == 1


def test_a_refused_title_fails_with_youtubes_own_reason(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    bad = ShortUpload(7, short[0].video, ShortMetadata(title="<b>제목</b>", description="x"))
    with pytest.raises(PublishRejected) as caught:
        publisher(fake_youtube).upload(bad, Recorder())
    assert caught.value.reason == "invalidTitle"
    assert "invalid or empty video title" in str(caught.value)
    assert clean_title("<b>제목</b>") == "＜b＞제목＜/b＞"  # what the metadata builder sends


def test_refused_credentials_say_publishing_is_off(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    fake_youtube.state.refresh_token = "revoked"
    with pytest.raises(CredentialsRefused, match="youtube-auth") as caught:
        publisher(fake_youtube).upload(short[0], Recorder())
    assert str(caught.value).startswith(
        "publishing is off: the YouTube token was refused; run ./wagglebot youtube-auth"
    )
    assert "invalid_grant" in str(caught.value)


def test_a_network_that_stays_down_gives_up_with_the_cause(
    short: tuple[ShortUpload, str], tmp_path: Path
) -> None:
    dead = FakeYouTube(free_ports(), refresh_token=REFRESH_TOKEN)
    dead.server.server_close()  # never served: its port is closed
    with pytest.raises(PublishError, match=r"gave up after 3 tries; last: .*Connection"):
        publisher(dead, retries=2).upload(short[0], Recorder())


def test_a_later_run_resumes_the_session_an_earlier_one_left(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    upload, digest = short
    fake_youtube.add_fault("chunk", nth=2, status=503, every=True)
    journal = Recorder()
    with pytest.raises(PublishError, match="gave up"):
        publisher(fake_youtube, retries=1).upload(upload, journal)
    assert journal.progress == [CHUNK]
    fake_youtube.state.faults.clear()
    publisher(fake_youtube).upload(upload, Recorder(journal.session_uri))  # a new process
    [video] = fake_youtube.videos()
    assert video["sha256"] == digest
    assert len(fake_youtube.log("init")) == 1
    assert sum(c.get("resent", 0) for c in _chunks(fake_youtube)) == 0


def test_a_finished_session_is_recorded_not_uploaded_again(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    journal = Recorder()
    first = publisher(fake_youtube).upload(short[0], journal)
    again = publisher(fake_youtube).upload(short[0], Recorder(journal.session_uri))
    assert again.video_id == first.video_id
    assert len(fake_youtube.videos()) == 1
    assert len(fake_youtube.log("init")) == 1
    assert len(_chunks(fake_youtube)) == 3


def test_an_expired_session_starts_a_new_one(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str]
) -> None:
    gone = f"{fake_youtube.url}upload/youtube/v3/videos?uploadType=resumable&upload_id=expired"
    journal = Recorder(gone)
    publisher(fake_youtube).upload(short[0], journal)
    assert len(fake_youtube.videos()) == 1
    assert journal.starts
    assert journal.starts[0] != gone


def test_no_token_or_secret_reaches_the_logs(
    fake_youtube: FakeYouTube, short: tuple[ShortUpload, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_youtube.add_fault("chunk", nth=2, status=401)
    fake_youtube.add_fault("chunk", nth=3, status=503)
    publisher(fake_youtube).upload(short[0], Recorder())
    assert "sent" in caplog.text  # progress is logged, per chunk
    secrets = [REFRESH_TOKEN, CLIENT_SECRET, *fake_youtube.state.issued]
    assert len(fake_youtube.state.issued) == 2
    for secret in secrets:
        assert secret not in caplog.text
