"""The TikTok publisher against the loopback fake of the Content Posting API: the four
calls, the chunk plan, retries, a resumed upload, a rotated refresh token, the caps and
TikTok's own refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from wagglebot_stack.fake_tiktok import FakeTikTok

from wagglebot.publish import PublishError, PublishRejected, QuotaExhausted, ShortUpload
from wagglebot.publish.metadata import ShortMetadata
from wagglebot.publish.tiktok import CHUNK_BYTES, TikTokPublisher, TikTokToken, chunk_plan

from conftest import REPO, free_ports
from youtube_support import Recorder, short_file

KEY, SECRET, REFRESH = "aw-test-key", "tiktok-secret-never-logged", "rft.never-logged-1"
MIB = 1024 * 1024
METADATA = ShortMetadata(
    title="퇴근길 고양이 입양 후기 🐱",
    description="",
    tags=("쇼츠", "네이트판"),
    credit="출처: 네이트판 https://pann.nate.com/talk/1",
)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTikTok]:
    fake = FakeTikTok(client_key=KEY, client_secret=SECRET, refresh_token=REFRESH).start()
    yield fake
    fake.stop()


def _token(fake: FakeTikTok, tmp_path: Path) -> TikTokToken:
    path = tmp_path / "tiktok" / "token.json"
    if not path.exists():  # as tiktok-auth left it; later refreshes rotate it in place
        path.parent.mkdir(exist_ok=True)
        info = {"client_key": KEY, "client_secret": SECRET, "refresh_token": REFRESH}
        path.write_text(json.dumps(info))
    return TikTokToken(path, f"{fake.url}v2/oauth/token/")


def _publisher(fake: FakeTikTok, tmp_path: Path, **options: object) -> TikTokPublisher:
    options = {"backoff_s": 0.01, "poll_s": 0.01, **options}
    return TikTokPublisher(_token(fake, tmp_path), api_url=fake.url, **options)


def _short(tmp_path: Path, seconds: float = 2.0) -> tuple[ShortUpload, str]:
    video, digest = short_file(tmp_path / "short.mp4", seconds)
    return ShortUpload(7, video, METADATA), digest


def test_the_chunk_plan_follows_tiktoks_rules() -> None:
    assert chunk_plan(3 * MIB) == [(0, 3 * MIB - 1)]  # under 5 MB: whole
    assert chunk_plan(9_000_000) == [(0, 8_999_999)]  # one chunk of its own size
    plan = chunk_plan(50_000_123)  # the media transfer guide's own example
    assert len(plan) == 5
    assert plan[-1] == (40_000_000, 50_000_122)  # the last chunk carries the rest
    assert all(last - first + 1 == CHUNK_BYTES for first, last in plan[:-1])


def test_a_short_is_posted_whole_labelled_ai_generated_with_its_credit(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    short, digest = _short(tmp_path)
    journal = Recorder()
    published = _publisher(fake, tmp_path).upload(short, journal)
    [post] = fake.posts()
    assert post["sha256"] == digest
    assert (post["status"], post["privacy_level"], post["is_aigc"]) == (
        "PUBLISH_COMPLETE",
        "SELF_ONLY",
        True,
    )
    assert post["title"].startswith(
        "퇴근길 고양이 입양 후기 🐱\n\n출처: 네이트판 https://pann.nate.com"
    )
    assert "#쇼츠 #네이트판 #Shorts" in post["title"]
    assert published.platform == "tiktok"
    assert published.privacy == "SELF_ONLY"
    task = json.loads(journal.starts[0])
    assert published.video_id == task["publish_id"]  # SELF_ONLY: no public post id
    assert published.url == ""  # and no address: its creator sees it in the app


def test_a_public_post_links_to_its_page_under_the_creators_name(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    fake.configure(audited=True)  # an audited app may post publicly
    short, _ = _short(tmp_path)
    options = {"privacy": "PUBLIC_TO_EVERYONE", "web_url": fake.url}
    published = _publisher(fake, tmp_path, **options).upload(short, Recorder())
    [post] = fake.posts()
    assert published.video_id == str(post["post_id"])
    assert published.url == f"{fake.url}@wagglebot/video/{post['post_id']}"
    page = requests.get(published.url, timeout=10)
    assert page.ok
    assert "loopback stand-in for TikTok" in page.text


def test_a_larger_short_goes_in_chunks_and_a_5xx_chunk_is_sent_again(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    short, digest = _short(tmp_path, seconds=8.0)
    size = short.video.stat().st_size
    assert size > 2 * 5 * MIB
    fake.add_fault("chunk", nth=2, status=503, code="internal_error")
    _publisher(fake, tmp_path, chunk_bytes=5 * MIB).upload(short, Recorder())
    [post] = fake.posts()
    assert post["sha256"] == digest
    assert post["chunks"] == len(chunk_plan(size, 5 * MIB))
    statuses = [e["status"] for e in fake.log("chunk")]
    assert statuses.count(503) == 1
    assert statuses[-1] == 201


def test_a_run_killed_mid_upload_is_resumed_and_posts_once(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    short, digest = _short(tmp_path, seconds=8.0)
    journal = Recorder()
    fake.add_fault("chunk", nth=2, drop=True, every=True)  # the second chunk never lands
    with pytest.raises(PublishError, match="gave up"):
        _publisher(fake, tmp_path, chunk_bytes=5 * MIB, retries=1).upload(short, journal)
    fake.state.faults.clear()
    _publisher(fake, tmp_path, chunk_bytes=5 * MIB).upload(short, journal)  # the next run
    [post] = fake.posts()
    assert post["sha256"] == digest
    assert len(journal.starts) == 1  # one init: the same publish_id, resumed
    # Nothing sent twice but the chunk that was cut off.
    sent = [e for e in fake.log("chunk") if e["status"] in (201, 206)]
    assert len(sent) == post["chunks"]
    # A rerun with the journal asks TikTok and posts nothing new.
    _publisher(fake, tmp_path).upload(short, journal)
    assert len(fake.posts()) == 1


def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_kept(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    short, _ = _short(tmp_path)
    publisher = _publisher(fake, tmp_path)
    publisher.upload(short, Recorder())
    fake.expire_access_tokens()
    publisher.upload(short, Recorder())
    assert len(fake.posts()) == 2
    stored = json.loads(publisher.token.path.read_text())
    assert stored["refresh_token"] == fake.refresh_token != REFRESH  # rotated, written back
    text = json.dumps(fake.log())
    assert SECRET not in text
    assert REFRESH not in text
    assert fake.refresh_token not in text


def test_the_daily_cap_stops_the_run_and_refusals_carry_tiktoks_reason(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    short, _ = _short(tmp_path)
    fake.configure(daily_cap=1)
    _publisher(fake, tmp_path).upload(short, Recorder())
    with pytest.raises(QuotaExhausted, match="spam_risk_too_many_posts"):
        _publisher(fake, tmp_path).upload(short, Recorder())
    fake.configure(daily_cap=15)
    fake.add_fault("status", reason="duration_check_failed")
    with pytest.raises(PublishRejected, match="duration_check_failed"):
        _publisher(fake, tmp_path).upload(short, Recorder())
    # An app TikTok has not audited may post only SELF_ONLY.
    with pytest.raises(PublishRejected, match="unaudited_client_can_only_post_to_private"):
        _publisher(fake, tmp_path, privacy="PUBLIC_TO_EVERYONE").upload(short, Recorder())


def test_tiktok_auth_runs_the_pkce_consent_and_its_grant_publishes(
    fake: FakeTikTok, tmp_path: Path
) -> None:
    token = tmp_path / "var" / "tiktok" / "token.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")},
        "WAGGLE_DB_URL": "mysql+mysqldb://u:p@127.0.0.1:1/none",
        "WAGGLE_TIKTOK_TOKEN_FILE": str(token),
        "WAGGLE_TIKTOK_API_URL": fake.url,
        "WAGGLE_TIKTOK_CLIENT_SECRET": SECRET,  # from the environment, never argv
        "WAGGLE_ENV_FILE": str(tmp_path / ".env"),
    }
    authorize = f"{fake.url}v2/auth/authorize/"
    argv = [sys.executable, "-m", "wagglebot.publish.tiktok_auth", "--client-key", KEY,
            "--port", str(free_ports()), "--authorize-url", authorize]  # fmt: skip
    flow = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        lines = []
        for line in flow.stdout:  # the address a person opens in their browser
            lines.append(line)
            if line.startswith(fake.url):
                break
        address = lines[-1].strip()
        assert "code_challenge_method=S256" in address
        assert "scope=video.publish" in address
        page = requests.get(address, timeout=30)  # TikTok allows and sends the browser back
        assert "WaggleBot may now post to your TikTok account" in page.text
        out = "".join(lines) + flow.stdout.read()
        assert flow.wait(30) == 0, out
    finally:
        flow.kill()
    assert f"Stored the TikTok grant in {token}" in out
    assert SECRET not in out
    assert fake.refresh_token not in out
    assert token.stat().st_mode & 0o777 == 0o600
    stored = json.loads(token.read_text())
    assert stored["refresh_token"] == fake.refresh_token
    publisher = TikTokPublisher(
        TikTokToken(token, f"{fake.url}v2/oauth/token/"), api_url=fake.url, poll_s=0.01
    )
    short, digest = _short(tmp_path)
    publisher.upload(short, Recorder())
    assert fake.posts()[0]["sha256"] == digest
