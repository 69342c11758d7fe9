"""``./wagglebot instagram-auth`` end to end against the loopback fake's Facebook Login
(a browser simulated with requests, following the dialog's 302 to the loopback
redirect), then publishing with the grant it kept: renewed by another fb_exchange_token
grant before it expires and after a 190, and a refused exchange stopping the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from wagglebot_stack.fake_instagram import USERNAME, FakeInstagram

from wagglebot.publish import CredentialsRefused, ShortUpload
from wagglebot.publish.credentials import save_token
from wagglebot.publish.instagram import InstagramPublisher, InstagramToken
from wagglebot.publish.metadata import ShortMetadata

from conftest import REPO, free_ports
from youtube_support import Recorder, short_file

USER, SEED = "17841400000000077", "EAA-seed-token-never-logged"
APP_ID, SECRET = "1234567890123456", "meta-app-secret-never-logged"
SCOPE = "instagram_basic%2Cinstagram_content_publish%2Cpages_show_list%2Cpages_read_engagement"
METADATA = ShortMetadata(
    title="야근 후 편의점 털기 🍜",
    description="",
    tags=("쇼츠",),
    credit="출처: 네이트판 https://pann.nate.com/talk/3",
)


@pytest.fixture
def fake() -> Iterator[FakeInstagram]:
    fake = FakeInstagram(
        ig_user_id=USER, access_token=SEED, app_id=APP_ID, app_secret=SECRET
    ).start()
    yield fake
    fake.stop()


@dataclass
class Run:
    rc: int
    out: str
    address: str  # the Login dialog's address the command printed
    code: str  # what the dialog sent the browser back with
    page: str  # the loopback redirect's page


def _auth(fake: FakeInstagram, token: Path, *args: str, secret: str = SECRET) -> Run:
    """instagram-auth as a person runs it: the secret in the environment, the printed
    address opened in a "browser" that follows Facebook's redirect back."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")},
        "WAGGLE_DB_URL": "mysql+mysqldb://u:p@127.0.0.1:1/none",
        "WAGGLE_INSTAGRAM_TOKEN_FILE": str(token),
        "WAGGLE_INSTAGRAM_APP_SECRET": secret,  # from the environment, never argv
        "WAGGLE_ENV_FILE": str(token.parent / ".env"),
    }
    argv = [sys.executable, "-m", "wagglebot.publish.instagram_auth", "--app-id", APP_ID,
            "--port", str(free_ports()), "--graph-url", fake.url, "--dialog-url", fake.url,
            *args]  # fmt: skip
    flow = subprocess.Popen(argv, env=env, cwd=REPO, text=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert flow.stdout is not None
        lines = []
        for line in flow.stdout:
            lines.append(line)
            if line.startswith(fake.url):
                break
        address = lines[-1].strip()
        consent = requests.get(address, allow_redirects=False, timeout=30)
        assert consent.status_code == 302, consent.text
        back = consent.headers["Location"]
        code = back.split("code=", 1)[1].split("&", 1)[0].split("#", 1)[0]
        page = requests.get(back, timeout=30).text  # the browser lands on the loopback
        out = "".join(lines) + flow.stdout.read()
        return Run(flow.wait(30), out, address, code, page)
    finally:
        flow.kill()


def _publisher(token: Path, fake: FakeInstagram) -> InstagramPublisher:
    return InstagramPublisher(
        InstagramToken(token, graph_url=fake.url),
        graph_url=fake.url,
        upload_url=fake.url,
        backoff_s=0.01,
        poll_s=0.01,
    )


def _short(tmp_path: Path) -> tuple[ShortUpload, str]:
    video, digest = short_file(tmp_path / "reel.mp4", 2.0)
    return ShortUpload(11, video, METADATA), digest


def _granted(path: Path, fake: FakeInstagram, expires_in: timedelta, **extra: object) -> None:
    """A token file as instagram-auth left it 60 days before it expires, expiring in
    ``expires_in``, with the fake's token."""
    expires = datetime.now(UTC) + expires_in
    info = {"access_token": fake.access_token, "ig_user_id": USER, "username": USERNAME,
            "app_id": APP_ID, "app_secret": SECRET,
            "obtained_at": (expires - timedelta(days=60)).isoformat(),
            "expires_at": expires.isoformat(), **extra}  # fmt: skip
    save_token(info, path)


def test_instagram_auth_keeps_the_long_lived_token_and_account_and_it_publishes(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    token = tmp_path / "var" / "instagram" / "token.json"
    run = _auth(fake, token)
    assert run.rc == 0, run.out
    assert run.address.startswith(f"{fake.url}v23.0/dialog/oauth?client_id={APP_ID}")
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in run.address
    assert "response_type=code" in run.address
    assert f"scope={SCOPE}" in run.address
    assert "WaggleBot may now publish Reels to your Instagram account" in run.page
    assert f"Stored the Instagram grant in {token}" in run.out
    assert f"@{USERNAME}" in run.out
    assert token.stat().st_mode & 0o777 == 0o600
    stored = json.loads(token.read_text())
    assert stored["access_token"] == fake.access_token  # the long-lived one, exchanged last
    assert (stored["ig_user_id"], stored["username"]) == (USER, USERNAME)
    assert (stored["app_id"], stored["app_secret"]) == (APP_ID, SECRET)
    obtained = datetime.fromisoformat(stored["obtained_at"])
    expires = datetime.fromisoformat(stored["expires_at"])
    assert abs(expires - obtained - timedelta(days=60)) < timedelta(minutes=1)
    assert [e["status"] for e in fake.log("code")] == [200]
    assert [e["status"] for e in fake.log("exchange")] == [200]
    for secret in (SECRET, run.code, stored["access_token"]):
        assert secret not in run.out
        assert secret not in json.dumps(fake.log())

    short, digest = _short(tmp_path)
    published = _publisher(token, fake).upload(short, Recorder())
    [media] = fake.media()
    assert media["sha256"] == digest
    assert published.video_id == media["id"]
    assert len(fake.log("exchange")) == 1  # 60 days ahead: nothing to renew


def test_no_linked_instagram_account_is_a_clear_error_and_several_are_chosen(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    token = tmp_path / "instagram" / "token.json"
    fake.set_pages([{"id": "104000000000001", "name": "Cafe Page"}])
    alone = _auth(fake, token)
    assert alone.rc == 1
    assert "None of the Facebook Pages you allowed has an Instagram professional" in alone.out
    assert "linked to a Facebook Page" in alone.out
    assert not token.exists()

    other = {"id": "17841400000000088", "username": "wagglebot.second"}
    fake.set_pages([
        {"id": "104000000000001", "name": "Cafe Page"},
        {"id": "104000000000002", "name": "Main Page",
         "instagram_business_account": {"id": USER, "username": USERNAME}},
        {"id": "104000000000003", "name": "Second Page", "instagram_business_account": other},
    ])  # fmt: skip
    several = _auth(fake, token)
    assert several.rc == 1
    assert "Choose one with --ig-user-id" in several.out
    assert f"@{USERNAME} ({USER}, Page Main Page)" in several.out
    chosen = _auth(fake, token, "--ig-user-id", other["id"])
    assert chosen.rc == 0, chosen.out
    stored = json.loads(token.read_text())
    assert (stored["ig_user_id"], stored["username"]) == (other["id"], other["username"])
    assert stored["page_name"] == "Second Page"


def test_a_wrong_secret_is_refused_and_never_printed(fake: FakeInstagram, tmp_path: Path) -> None:
    token = tmp_path / "instagram" / "token.json"
    wrong = "not-the-app-secret-either"
    run = _auth(fake, token, secret=wrong)
    assert run.rc == 1
    assert "Facebook refused the code" in run.out
    assert "Error validating client secret" in run.out
    assert wrong not in run.out
    assert run.code not in run.out
    assert not token.exists()


def test_a_token_near_its_expiry_is_renewed_before_publishing_and_written_back(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    token = tmp_path / "instagram" / "token.json"
    _granted(token, fake, timedelta(days=5))  # within refresh_before_days (10)
    short, _ = _short(tmp_path)
    _publisher(token, fake).upload(short, Recorder())
    stored = json.loads(token.read_text())
    assert stored["access_token"] == fake.access_token != SEED
    expires = datetime.fromisoformat(stored["expires_at"])
    assert expires - datetime.now(UTC) > timedelta(days=59)
    assert (stored["ig_user_id"], stored["app_secret"]) == (USER, SECRET)  # the rest kept
    assert token.stat().st_mode & 0o777 == 0o600
    assert [e["status"] for e in fake.log("exchange")] == [200]
    # Everything published with the renewed token (generation 1), none with the old one.
    assert {e.get("token_generation") for e in fake.log("container_create")} == {1}
    # Renewed today: not again today, even were its expiry still near.
    token_file = InstagramToken(token, graph_url=fake.url)
    near = {**stored, "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    assert not token_file.due(near, datetime.now(UTC))
    assert token_file.due(near, datetime.now(UTC) + timedelta(days=1, minutes=1))


def test_an_expired_token_is_renewed_once_after_a_190_then_publishes(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    token = tmp_path / "instagram" / "token.json"
    _granted(token, fake, timedelta(days=50))
    fake.add_fault("container_create", reason="expired")  # Graph: 190/463
    short, digest = _short(tmp_path)
    _publisher(token, fake).upload(short, Recorder())
    assert fake.media()[0]["sha256"] == digest
    assert [e["status"] for e in fake.log("exchange")] == [200]
    assert json.loads(token.read_text())["access_token"] == fake.access_token != SEED


def test_a_refused_exchange_stops_publishing_with_what_to_run(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    token = tmp_path / "instagram" / "token.json"
    _granted(token, fake, timedelta(days=3))
    before = token.read_text()
    fake.add_fault("exchange", reason="invalid_token")
    short, _ = _short(tmp_path)
    with pytest.raises(CredentialsRefused, match=r"run \./wagglebot instagram-auth") as refused:
        _publisher(token, fake).upload(short, Recorder())
    assert "190" in str(refused.value)
    assert SECRET not in str(refused.value)
    assert fake.containers() == []  # refused before anything was made
    assert token.read_text() == before
    # A file without the app's secret cannot be renewed either, and says why.
    _granted(token, fake, timedelta(days=3), app_secret="")
    with pytest.raises(CredentialsRefused, match="holds no app id and secret"):
        _publisher(token, fake).upload(short, Recorder())
