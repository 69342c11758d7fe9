"""Publishing on MariaDB against the loopback fake YouTube: once, resumable, quota-aware."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack.fake_youtube import REASONS, FakeYouTube

from wagglebot.core.config import Settings
from wagglebot.core.db.models import Content, Post, PublishQuota, StageRun, Upload
from wagglebot.core.post_files import VOICE, write_json
from wagglebot.core.stage_runs import StageRetry, TaskAttempt
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome, UploadState
from wagglebot.publish import ShortUpload
from wagglebot.publish.credentials import publishing_off, save_token
from wagglebot.publish.metadata import InvalidMetadata, ShortMetadata
from wagglebot.publish.quota import today
from wagglebot.publish.run import make_publisher, publish_posts
from wagglebot.publish.store import DbJournal, claim_for_publish, request_publish
from wagglebot.review.decisions import retry

from factories import add_posts
from youtube_support import CHUNK, short_file, token_info

S = PostStatus
SCRIPT = "퇴근길에 고양이가 집 앞까지 따라왔습니다. 결국 이름을 지어 주고 같이 살기로 했대요."


@pytest.fixture
def settings(
    db_settings: Settings,
    tmp_path: Path,
    fake_youtube: FakeYouTube,
    sessions: sessionmaker[Session],
) -> Settings:
    with sessions.begin() as session:
        session.execute(delete(PublishQuota))
    token = tmp_path / "youtube" / "token.json"
    save_token(token_info(fake_youtube), token)
    return db_settings.model_copy(
        update={
            "media_root": tmp_path / "media",
            "youtube_api_url": fake_youtube.url,
            "youtube_token_uri": f"{fake_youtube.url}token",
            "youtube_token_file": token,
            "upload_chunk_mib": 1,
            "upload_retries": 2,
            "upload_stale_seconds": 1,
        }
    )


def rendered(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    n: int = 1,
    voice_s: float = 2.0,
    **kind: object,
) -> dict[int, str]:
    """RENDERED posts with a Short each (``kind``: short_file's options) and the voice it
    was made from (``voice_s``); returns post id -> the video's sha256."""
    digests = {}
    media = tmp_path / "media"
    with sessions() as session:
        for post_id in add_posts(session, n, status=S.RENDERED, title="퇴근길 <고양이> 입양 후기"):
            video, digest = short_file(tmp_path / f"short-{post_id}.mp4", **kind)
            voice = {"duration": voice_s, "cues": []}
            write_json(media / "posts" / str(post_id) / VOICE, voice)
            session.add(Content(post_id=post_id, summary_text=SCRIPT, video_path=str(video)))
            digests[post_id] = digest
        session.commit()
    return digests


def status(sessions: sessionmaker[Session], post_id: int) -> tuple[PostStatus, str | None]:
    with sessions() as session:
        post = session.get(Post, post_id)
        return post.status, post.last_error


def upload_row(sessions: sessionmaker[Session], post_id: int) -> Upload:
    with sessions() as session:
        return session.get(Upload, (post_id, "youtube"))


def test_a_requested_short_is_uploaded_once_with_its_metadata(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [(pid, digest)] = rendered(sessions, tmp_path).items()
    with sessions() as session:
        assert request_publish(session, [pid], by="alice") == ([pid], [])
    report = publish_posts(settings=settings, attempt=TaskAttempt("publish_shorts", "r1"))
    [video] = fake_youtube.videos()
    assert report["uploaded"] == {str(pid): f"{fake_youtube.url}watch?v={video['id']}"}
    assert video["sha256"] == digest
    snippet = video["snippet"]
    assert snippet["title"] == "퇴근길 ＜고양이＞ 입양 후기"  # YouTube refuses < and >
    assert snippet["description"].startswith(SCRIPT)
    assert "출처: 네이트판 톡톡 베스트 https://pann.nate.com/talk/" in snippet["description"]
    assert snippet["description"].endswith("#Shorts")
    assert "네이트판 톡톡 베스트" in snippet["tags"]
    assert video["status"]["privacyStatus"] == "private"
    with sessions() as session:
        post = session.get(Post, pid)
        meta = session.get(Content, pid).upload_meta["youtube"]
        runs = session.scalars(select(StageRun).where(StageRun.post_id == pid)).all()
    assert post.status is S.UPLOADED
    assert (meta["id"], meta["privacy"]) == (video["id"], "private")
    assert meta["url"].endswith(video["id"])
    assert meta["uploaded_at"].endswith("Z")
    [run] = runs
    assert (run.stage, run.outcome, run.engine) == (Stage.UPLOAD, StageOutcome.SUCCEEDED, "youtube")
    assert (run.dag_id, run.run_id) == ("publish_shorts", "r1")
    row = upload_row(sessions, pid)
    # Every chunk but the last is counted: the last one's answer is the video, not a count.
    assert row.bytes_sent == (row.total_bytes - 1) // CHUNK * CHUNK
    assert (row.video_id, row.requested_by) == (video["id"], "alice")
    # A rerun, and a request to publish it again, upload nothing.
    again = publish_posts(settings=settings)
    assert again["uploaded"] == {}
    with sessions() as session:
        moved, [refused] = request_publish(session, [pid], by="bob")
    assert moved == []
    assert "already published on youtube" in str(refused)
    assert len(fake_youtube.videos()) == 1
    assert len(fake_youtube.log("init")) == 1


def test_a_persons_title_and_privacy_are_used_and_a_bad_title_refused(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [pid] = rendered(sessions, tmp_path)
    with sessions() as session, pytest.raises(InvalidMetadata, match="< or >"):
        request_publish(session, [pid], by="alice", title="<script>")
    with sessions() as session, pytest.raises(InvalidMetadata, match="100"):
        request_publish(session, [pid], by="alice", title="가" * 101)
    with sessions() as session:
        request_publish(
            session,
            [pid],
            by="alice",
            title="고양이 😺 입양기",
            description="짧게",
            privacy="unlisted",
        )
    publish_posts(settings=settings)
    [video] = fake_youtube.videos()
    assert video["snippet"]["title"] == "고양이 😺 입양기"
    assert video["snippet"]["description"] == "짧게"
    assert video["status"]["privacyStatus"] == "unlisted"


def test_the_counted_quota_stops_the_run_and_the_next_day_takes_the_rest(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"youtube_daily_uploads": 1})
    first, second = rendered(sessions, tmp_path, 2)
    with sessions() as session:
        request_publish(session, [first, second], by="alice")
    report = publish_posts(settings=settings)
    assert list(report["uploaded"]) == [str(first)]
    assert report["waiting"] == [second]
    assert "1 of 1 uploads used today" in report["stopped"]
    assert report["uploads_left_today"] == 0
    assert status(sessions, second)[0] is S.RENDERED
    assert "waits for tomorrow's quota" in upload_row(sessions, second).note
    assert len(fake_youtube.log("init")) == 1  # the second was never started
    with sessions() as session:
        day = today(session, settings)
    assert (day.uploads, day.units, day.uploads_left) == (1, 100, 0)
    with sessions.begin() as session:  # midnight in California
        session.execute(update(PublishQuota).values(day=text("day - INTERVAL 1 DAY")))
    assert publish_posts(settings=settings)["uploaded"].keys() == {str(second)}
    assert len(fake_youtube.videos()) == 2


def test_units_are_an_allowance_of_their_own(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"youtube_daily_units": 1600, "youtube_upload_cost": 1600}
    )
    first, second = rendered(sessions, tmp_path, 2)
    with sessions() as session:
        request_publish(session, [first, second], by="alice")
    report = publish_posts(settings=settings)
    assert list(report["uploaded"]) == [str(first)]
    assert "1600 of 1600 units used; an upload costs 1600" in report["stopped"]


@pytest.mark.parametrize("reason", ["quotaExceeded", "uploadLimitExceeded"])
def test_youtubes_quota_answer_leaves_the_post_rendered_and_the_day_spent(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_youtube: FakeYouTube,
    tmp_path: Path,
    reason: str,
) -> None:
    first, second = rendered(sessions, tmp_path, 2)
    with sessions() as session:
        request_publish(session, [first, second], by="alice")
    fake_youtube.add_fault("init", reason=reason)
    report = publish_posts(settings=settings)
    assert report["uploaded"] == {}
    assert report["waiting"] == [first, second]
    for pid in (first, second):
        assert status(sessions, pid)[0] is S.RENDERED
        assert reason in upload_row(sessions, pid).note
    assert publish_posts(settings=settings)["waiting"] == [first, second]  # not tried again
    assert len(fake_youtube.log("init")) == 1


def test_a_refused_upload_fails_with_youtubes_reason_and_a_retry_publishes_it(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [pid] = rendered(sessions, tmp_path)
    with sessions() as session:
        request_publish(session, [pid], by="alice")
    fake_youtube.add_fault("init", reason="invalidTitle")
    report = publish_posts(settings=settings)
    state, error = status(sessions, pid)
    assert state is S.FAILED
    assert error == (
        "upload (attempt 1): YouTube refused (400 invalidTitle): "
        "The request metadata specifies an invalid or empty video title."
    )
    assert report["failed"] == {str(pid): error.removeprefix("upload (attempt 1): ")}
    with sessions() as session:
        assert retry(session, [pid], by="alice") == ([pid], [])
    assert status(sessions, pid)[0] is S.RENDERED  # the Short is kept, not made again
    assert publish_posts(settings=settings)["uploaded"].keys() == {str(pid)}


def test_a_network_failure_is_left_for_the_next_try_and_failed_on_the_last(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [pid] = rendered(sessions, tmp_path)
    with sessions() as session:
        request_publish(session, [pid], by="alice")
    fake_youtube.add_fault("chunk", nth=2, status=503, every=True)
    with pytest.raises(StageRetry):
        publish_posts(settings=settings, attempt=TaskAttempt(final=False))
    assert status(sessions, pid)[0] is S.PUBLISHING
    row = upload_row(sessions, pid)
    assert row.session_uri
    assert row.bytes_sent == CHUNK
    assert row.heartbeat_at is None
    report = publish_posts(settings=settings, attempt=TaskAttempt(final=True))
    assert (
        "gave up after 3 tries; last: YouTube answered 503 backendError"
        in report["failed"][str(pid)]
    )
    assert status(sessions, pid)[0] is S.FAILED
    assert len(fake_youtube.log("init")) == 1  # the second try resumed the same session


def test_a_worker_killed_mid_upload_is_resumed_into_exactly_one_video(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [(pid, digest)] = rendered(sessions, tmp_path).items()
    with sessions() as session:
        request_publish(session, [pid], by="alice")
    fake_youtube.add_fault("chunk", nth=1, delay=1.0, every=True)  # slow enough to be killed
    env = {**os.environ, **settings.as_env()}
    worker = subprocess.Popen(
        [sys.executable, "-c", "from wagglebot.publish.run import publish_posts; publish_posts()"],
        env=env,
    )
    deadline = time.monotonic() + 60
    while upload_row(sessions, pid).bytes_sent < CHUNK and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    row = upload_row(sessions, pid)
    assert status(sessions, pid)[0] is S.PUBLISHING
    assert row.session_uri
    assert 0 < row.bytes_sent < row.total_bytes
    fake_youtube.state.faults.clear()
    with sessions() as session:  # while its heartbeat is fresh, nobody takes it over
        assert claim_for_publish(session, timedelta(hours=1)) == []
    time.sleep(1.2)  # upload_stale_seconds
    report = publish_posts(settings=settings)
    assert list(report["uploaded"]) == [str(pid)]
    [video] = fake_youtube.videos()
    assert video["sha256"] == digest
    assert len(fake_youtube.log("init")) == 1  # resumed, never begun again
    with sessions() as session:
        outcomes = session.scalars(
            select(StageRun.outcome).where(StageRun.post_id == pid).order_by(StageRun.id)
        ).all()
    assert outcomes == [StageOutcome.FAILED, StageOutcome.SUCCEEDED]  # the dead one: abandoned


def test_two_runs_at_once_claim_each_post_once(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    for _ in range(8):  # a race shows itself in some rounds only
        posts = list(rendered(sessions, tmp_path, 6))
        with sessions() as session:
            request_publish(session, posts, by="alice")
        claims: list[list[int]] = []
        barrier = threading.Barrier(4)

        def claim(claims: list[list[int]] = claims, barrier: threading.Barrier = barrier) -> None:
            with sessions() as session:
                barrier.wait()
                claims.append(claim_for_publish(session, timedelta(hours=1)))

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # Every post taken, and by one run only (a post twice would show twice here).
        assert sorted(pid for c in claims for pid in c) == sorted(posts)


def test_without_credentials_publishing_is_off_and_says_how_to_turn_it_on(
    settings: Settings, tmp_path: Path
) -> None:
    off = settings.model_copy(update={"youtube_token_file": tmp_path / "none.json"})
    report = publish_posts(settings=off)  # "off" is said, never a failure
    assert "youtube-auth --client-secrets" in report["off"]
    assert (report["uploaded"], report["failed"]) == ({}, {})


def _directory(path: Path) -> None:
    path.mkdir()


TOKEN_FAULTS = {
    "a directory": (_directory, "is a directory, not a file"),
    "empty": (lambda p: p.write_text(""), "is empty"),
    "invalid JSON": (lambda p: p.write_text('{"refresh_token": '), "is not valid JSON"),
    "not text": (lambda p: p.write_bytes(b"\xff\xfe\x00junk"), "is not text (not UTF-8)"),
    "no refresh token": (lambda p: p.write_text('{"client_id": "x"}'), "holds no refresh token"),
    "half a token": (
        lambda p: p.write_text('{"refresh_token": "r"}'),
        "is not a usable token (KeyError: 'client_id')",
    ),
}


@pytest.mark.parametrize("fault", list(TOKEN_FAULTS))
def test_a_faulty_token_file_turns_publishing_off_with_its_path_and_cause(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path, fault: str
) -> None:
    make, cause = TOKEN_FAULTS[fault]
    posts = list(rendered(sessions, tmp_path, 2))
    with sessions() as session:
        request_publish(session, posts, by="alice")
    token = tmp_path / "faulty" / "token.json"
    token.parent.mkdir()
    make(token)
    faulty = settings.model_copy(update={"youtube_token_file": token})
    said = publish_posts(settings=faulty)["off"]
    assert said.startswith(f"publishing is off: the YouTube token file {token} {cause}"), said
    assert "youtube-auth" in said
    assert publishing_off(faulty) == said  # what the Gallery shows
    for post_id in posts:  # nothing claimed; each request says why it waits
        assert status(sessions, post_id) == (S.RENDERED, None)
        row = upload_row(sessions, post_id)
        assert (row.state, row.heartbeat_at, row.note) == (UploadState.WAITING, None, said)


def test_an_unreadable_token_file_says_so_with_whose_it_must_be(tmp_path: Path) -> None:
    """Mode 000, read by a user who is not root (root reads anything: the check runs in a
    child that has become ``nobody``)."""
    folder = Path(tempfile.mkdtemp(prefix="wagglebot-token-"))
    folder.chmod(0o711)
    token = folder / "token.json"
    token.write_text(json.dumps({"refresh_token": "r", "client_id": "c", "client_secret": "s"}))
    token.chmod(0o000)
    settings = Settings(db_url="mysql+mysqldb://u:p@127.0.0.1/x", youtube_token_file=token,
                        _env_file=None)  # fmt: skip
    try:
        said = _as_another_user(lambda: publishing_off(settings) or "publishing is on")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert said.startswith(
        f"publishing is off: the YouTube token file {token} cannot be read (permission denied)"
    ), said


def _as_another_user(call: Callable[[], str]) -> str:
    """``call()`` in a forked child running as ``nobody`` (or as us, when we are not root);
    what it returned, or the exception it raised, as text."""
    if os.geteuid() != 0:
        try:
            return call()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: become nobody, answer, leave without cleaning up ours
        os.close(read_end)
        try:
            nobody = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            answer = call()
        except BaseException as exc:
            answer = f"{type(exc).__name__}: {exc}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(child, 0)
    return answer


def test_the_token_file_is_readable_by_its_owner_only(settings: Settings) -> None:
    path = settings.youtube_token_path
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def _cut(path: Path, keep: int = 1_500_000) -> None:
    """The picture data cut before the index, which an index-last file keeps at its end."""
    whole = path.with_suffix(".whole.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-c", "copy", str(whole)], check=True, timeout=60
    )  # fmt: skip (no +faststart: the index goes last)
    path.write_bytes(whole.read_bytes()[:keep])


def _cut_after_its_index(path: Path) -> None:
    """The index (moov) first, as a web-ready file has it; then the picture data cut."""
    whole = path.with_suffix(".whole.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-c", "copy", "-movflags",
                    "+faststart", str(whole)], check=True, timeout=60)  # fmt: skip
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])


BROKEN_SHORTS = {  # what is wrong -> (short_file's options or a cut, what the post says)
    "cut without its index": (_cut, "the video is truncated or not an MP4 (ffprobe: "),
    "cut after its index": (_cut_after_its_index, "the video is truncated: "),
    "0 bytes": (lambda p: p.write_bytes(b""), "the video is empty (0 bytes)"),
    "shorter than its voice": (
        {"seconds": 1.0},
        "the video is truncated: it lasts 1.00 s, its voice 2.00 s",
    ),
    "the wrong size": ({"size": "720x1280"}, "the video is 720x1280, not the Short's 1080x1920"),
    "no sound track": ({"sound": None}, "the video is silent: it has no sound track"),
    "a silent sound track": ({"sound": "silence"}, "the video is silent: its loudest sound is"),
}


@pytest.mark.parametrize("broken", list(BROKEN_SHORTS))
def test_a_broken_short_is_refused_before_any_request_and_goes_back_to_render(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_youtube: FakeYouTube,
    tmp_path: Path,
    broken: str,
) -> None:
    spoil, cause = BROKEN_SHORTS[broken]
    [pid] = rendered(sessions, tmp_path, **(spoil if isinstance(spoil, dict) else {}))
    if callable(spoil):
        spoil(tmp_path / f"short-{pid}.mp4")
    with sessions() as session:
        request_publish(session, [pid], by="alice")
    report = publish_posts(settings=settings)
    assert report["failed"][str(pid)].startswith(cause), report
    state, error = status(sessions, pid)
    assert state is S.FAILED
    assert re.match(rf"render \(attempt \d+\): not published: {re.escape(cause)}", error), error
    assert fake_youtube.log() == []  # no token asked for, no session opened
    with sessions() as session:
        assert today(session, settings).uploads == 0  # no quota spent
    assert upload_row(sessions, pid).session_uri is None
    with sessions() as session:  # a retry makes the Short again, not publishes this one
        assert retry(session, [pid], by="alice") == ([pid], [])
    assert status(sessions, pid)[0] is S.APPROVED


def test_a_finished_upload_is_recorded_once_whatever_the_token_did_in_between(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    """The upload finished at YouTube and the worker died before the database knew; the
    token was then refused; after new credentials, the run asks the old session and
    records the one video, never a second."""
    [(pid, digest)] = rendered(sessions, tmp_path).items()
    with sessions() as session:
        request_publish(session, [pid], by="alice")
        assert claim_for_publish(session, timedelta(hours=1)) == [pid]
    video = tmp_path / f"short-{pid}.mp4"
    short = ShortUpload(pid, video, ShortMetadata(title="퇴근길 고양이", description="x"))
    make_publisher(settings).upload(short, DbJournal(settings, pid))  # ... and it dies here
    assert len(fake_youtube.videos()) == 1
    assert status(sessions, pid)[0] is S.PUBLISHING
    good = fake_youtube.state.refresh_token
    fake_youtube.state.refresh_token = "revoked-by-the-owner"  # invalid_grant from now on
    fake_youtube.state.tokens.clear()
    time.sleep(1.2)  # upload_stale_seconds: the dead run's claim is free

    report = publish_posts(settings=settings)
    refused = "publishing is off: the YouTube token was refused; run ./wagglebot youtube-auth"
    assert report["stopped"].startswith(refused)
    assert report["waiting"] == [pid]
    assert report["failed"] == {}
    row = upload_row(sessions, pid)
    assert status(sessions, pid) == (S.RENDERED, None)  # not FAILED: waiting for credentials
    assert row.note.startswith(refused)
    assert row.session_uri  # kept, with what was sent
    assert row.bytes_sent > 0
    with sessions() as session:
        assert today(session, settings).uploads == 1  # the one session, counted once

    fake_youtube.state.refresh_token = good  # ./wagglebot youtube-auth, run again
    report = publish_posts(settings=settings)
    assert list(report["uploaded"]) == [str(pid)]
    [only] = fake_youtube.videos()
    assert only["sha256"] == digest
    assert len(fake_youtube.log("init")) == 1  # no second session, no second video
    assert status(sessions, pid)[0] is S.UPLOADED
    with sessions() as session:
        assert session.get(Content, pid).upload_meta["youtube"]["id"] == only["id"]
        assert today(session, settings).uploads == 1


@pytest.mark.parametrize("reason", ["quotaExceeded", "invalidTitle"])
def test_an_initiation_youtube_refused_is_not_counted(
    settings: Settings,
    sessions: sessionmaker[Session],
    fake_youtube: FakeYouTube,
    tmp_path: Path,
    reason: str,
) -> None:
    [pid] = rendered(sessions, tmp_path)
    with sessions() as session:
        request_publish(session, [pid], by="alice")
    fake_youtube.add_fault("init", reason=reason)
    publish_posts(settings=settings)
    assert [e["status"] for e in fake_youtube.log("init")] == [REASONS[reason][0]]
    with sessions() as session:
        assert today(session, settings).uploads == 0
        assert today(session, settings).units == 0


def test_a_chunk_refused_for_good_asks_the_session_first_and_keeps_it(
    settings: Settings, sessions: sessionmaker[Session], fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [pid] = rendered(sessions, tmp_path)
    with sessions() as session:
        request_publish(session, [pid], by="alice")
    fake_youtube.add_fault("chunk", nth=2, reason="invalidTitle")
    report = publish_posts(settings=settings)
    assert "invalidTitle" in report["failed"][str(pid)]
    assert [e["status"] for e in fake_youtube.log("status")] == [308]  # asked once: unfinished
    row = upload_row(sessions, pid)
    assert row.session_uri  # YouTube did not say it was gone: kept
    assert status(sessions, pid)[0] is S.FAILED
    with sessions() as session:
        retry(session, [pid], by="alice")
    assert list(publish_posts(settings=settings)["uploaded"]) == [str(pid)]
    assert len(fake_youtube.log("init")) == 1  # the same session, resumed
    assert len(fake_youtube.videos()) == 1
