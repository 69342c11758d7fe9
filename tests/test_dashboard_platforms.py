"""The dashboard's publishing on several platforms (YouTube, TikTok, Instagram), through
streamlit.testing on the real app database; Airflow's trigger is recorded, not sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import test_dashboard as dash
from markdown_it import MarkdownIt
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest
from test_dashboard import HOSTILE, _made, login, messages, unescaped

from wagglebot.core.config import get_settings
from wagglebot.core.db.models import Post, StageRun, Upload
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome, UploadState
from wagglebot.orchestration.api import AirflowClient
from wagglebot.publish.credentials import save_token
from wagglebot.publish.platforms import ensure_sample

# The dashboard tests' fixtures: the app's environment, and a connected YouTube channel.
app_env, channel = dash.app_env, dash.channel
S, U = PostStatus, UploadState
TOKENS = {
    "tiktok": {"client_key": "k", "client_secret": "s", "refresh_token": "rft.x"},
    "instagram": {"access_token": "IG", "ig_user_id": "1784", "app_id": "1", "app_secret": "s"},
}


@pytest.fixture
def triggered(app_env: None, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Airflow's trigger, recorded: each run asked for, with its conf."""
    runs: list[dict[str, Any]] = []

    def trigger(
        self: AirflowClient, dag_id: str, conf: dict | None = None, note: str | None = None
    ) -> dict[str, Any]:
        runs.append({"dag_id": dag_id, "conf": conf, "note": note})
        return {"dag_run_id": f"manual__{len(runs)}", "state": "queued"}

    monkeypatch.setattr(AirflowClient, "trigger", trigger)
    return runs


def connect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str) -> None:
    """A connected account: its token file where the settings say (nothing is uploaded)."""
    token = tmp_path / platform / "token.json"
    save_token(TOKENS[platform], token)
    monkeypatch.setenv(f"WAGGLE_{platform.upper()}_TOKEN_FILE", str(token))
    get_settings.cache_clear()


def uploads(sessions: sessionmaker[Session], pid: int) -> dict[str, UploadState]:
    with sessions() as session:
        rows = session.execute(select(Upload.platform, Upload.state).where(Upload.post_id == pid))
        return {platform: state for platform, state in rows}


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- choosing the platforms ----------------------------------------------------------------


def test_the_platforms_chosen_in_the_gallery_are_exactly_those_asked_for(
    channel: Path,
    triggered: list[dict[str, Any]],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    connect(monkeypatch, tmp_path, "tiktok")  # Instagram stays off: no token
    [pid, other] = _made(sessions, tmp_path, 2, title="고양이")
    at = login(page="views/gallery.py")
    youtube, tiktok, instagram = (
        at.checkbox(key=f"pub-to-{p}") for p in ("youtube", "tiktok", "instagram")
    )
    assert (youtube.value, tiktok.value) == (True, False)  # WAGGLE_PUBLISH_PLATFORMS
    assert instagram.label == "Instagram (off)"
    assert instagram.disabled
    [off] = [unescaped(c) for c in captions(at) if ":material/block:" in c]
    assert "no Instagram credentials" in off
    assert "./wagglebot instagram-auth" in off
    assert any("0 of 15 uploads used; 15 upload(s) left" in c for c in captions(at))  # TikTok
    assert not messages(at, "info")  # TikTok not chosen: no word about its privacy

    at.checkbox(key="pub-to-tiktok").check().run()
    [notice] = messages(at, "info")
    assert "can post only as SELF_ONLY (visible to the account owner only)" in notice
    assert "WAGGLE_TIKTOK_PRIVACY" in notice
    at.session_state["pub-to-instagram"] = True  # ticked before it went off: still not asked
    at.checkbox(key=f"pub-pick-{pid}").check().run()
    next(b for b in at.button if b.label == "Publish selected (1)").click().run()

    assert f"Publishing 1 Short(s) to YouTube, TikTok: {pid}." in messages(at, "success")
    assert uploads(sessions, pid) == {"youtube": U.WAITING, "tiktok": U.WAITING}
    assert uploads(sessions, other) == {}
    [run] = triggered
    assert run["dag_id"] == "publish_shorts"
    assert run["conf"] == {"post_ids": [pid], "platforms": ["youtube", "tiktok"]}
    assert "Airflow is on it: publish_shorts run manual__1 (queued)." in messages(at, "info")
    waiting = [c for c in captions(at) if "waiting to be published" in c]
    assert [c.split(" · ")[0] for c in waiting] == [
        ":material/schedule: **YouTube**",
        ":material/schedule: **TikTok**",
    ]


def test_the_default_platforms_come_from_the_settings_and_tiktok_audited_says_nothing(
    channel: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    connect(monkeypatch, tmp_path, "tiktok")
    monkeypatch.setenv("WAGGLE_PUBLISH_PLATFORMS", '["tiktok"]')
    monkeypatch.setenv("WAGGLE_TIKTOK_PRIVACY", "PUBLIC_TO_EVERYONE")  # after TikTok's audit
    get_settings.cache_clear()
    _made(sessions, tmp_path, 1)
    at = login(page="views/gallery.py")
    assert at.checkbox(key="pub-to-tiktok").value
    assert not at.checkbox(key="pub-to-youtube").value
    assert not any("SELF_ONLY" in m for m in messages(at, "info"))


def test_sample_mode_names_the_loopback_fakes_not_the_platforms(
    app_env: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WAGGLE_CRAWL_TARGET", "sample")  # no account connected: the fakes
    get_settings.cache_clear()
    # The fake YouTube's service writes its sample token as it starts (the stack's job).
    ensure_sample("youtube", tmp_path / "stack" / "youtube" / "sample-token.json")
    _made(sessions, tmp_path, 1)
    at = login(page="views/gallery.py")
    for platform, name in (
        ("youtube", "YouTube"),
        ("tiktok", "TikTok"),
        ("instagram", "Instagram"),
    ):
        box = at.checkbox(key=f"pub-to-{platform}")
        assert box.label == f"{name} (loopback fake, sample mode)"
        assert not box.disabled
        assert any(f"Sample mode: nothing reaches {name}." in c for c in captions(at))


# --- each platform's state on a card --------------------------------------------------------


def test_a_gallery_card_shows_each_platforms_state_and_asks_only_where_it_is_not(
    channel: Path,
    triggered: list[dict[str, Any]],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    connect(monkeypatch, tmp_path, "tiktok")
    connect(monkeypatch, tmp_path, "instagram")
    monkeypatch.setenv("WAGGLE_PUBLISH_PLATFORMS", '["youtube", "tiktok", "instagram"]')
    get_settings.cache_clear()
    [pid] = _made(sessions, tmp_path, 1)
    url = "https://www.youtube.com/shorts/abc123DEF45"
    with sessions() as session:
        session.execute(update(Post).where(Post.id == pid).values(status=S.UPLOADED))
        session.add_all([
            Upload(post_id=pid, platform="youtube", state=U.PUBLISHED, video_url=url,
                   privacy="unlisted", requested_at=now(), uploaded_at=datetime(2026, 12, 1, 9)),
            Upload(post_id=pid, platform="tiktok", state=U.FAILED, requested_at=now(),
                   note=HOSTILE),
            Upload(post_id=pid, platform="instagram", state=U.UPLOADING, requested_at=now(),
                   bytes_sent=2 * 2**20, total_bytes=8 * 2**20, heartbeat_at=now()),
        ])  # fmt: skip
        session.commit()
    at = login(page="views/gallery.py")
    assert any(
        c.startswith(":material/check_circle: **YouTube** · unlisted · published 2026-12-01 18:00")
        for c in captions(at)
    )
    assert [(b.label, b.url) for b in at.link_button if b.label.startswith("Watch")] == [
        ("Watch on YouTube", url)
    ]
    [failed] = [c for c in captions(at) if "**TikTok** · failed" in c]
    html = MarkdownIt("gfm-like").render(failed)  # the platform's words, never markup
    for tag in ("<a", "<img", "<em", "<script", "<h1", "<code"):
        assert tag not in html, html
    assert unescaped(failed).endswith(HOSTILE + "]")  # inside :red[...]
    [bar] = at.get("progress")
    assert "**Instagram** · uploading: 2.0 of 8.0 MiB" in bar.proto.text
    assert bar.proto.value == 25

    # Asked for again: TikTok alone (YouTube has it, Instagram is uploading it).
    form = f"pub-{pid}"
    [popover] = [p.proto.popover for p in at.get("popover")]
    assert (popover.label, popover.disabled) == ("Publish to TikTok…", False)
    next(b for b in at.button if b.form_id == form).click().run()
    assert f"Publishing 1 Short(s) to TikTok: {pid}." in messages(at, "success")
    assert uploads(sessions, pid) == {
        "youtube": U.PUBLISHED, "tiktok": U.WAITING, "instagram": U.UPLOADING
    }  # fmt: skip
    assert triggered[0]["conf"] == {"post_ids": [pid], "platforms": ["tiktok"]}


def test_a_platform_link_is_a_button_only_when_it_is_http(
    app_env: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    [pid] = _made(sessions, tmp_path, 1)
    with sessions() as session:
        session.execute(update(Post).where(Post.id == pid).values(status=S.UPLOADED))
        session.add_all([
            Upload(post_id=pid, platform="youtube", state=U.PUBLISHED,
                   video_url="javascript:alert(1)", uploaded_at=now()),
            Upload(post_id=pid, platform="tiktok", state=U.PUBLISHED,
                   video_url="https://www.tiktok.com/@me/video/7", uploaded_at=now()),
        ])  # fmt: skip
        session.commit()
    for page in ("views/gallery.py", "views/published.py"):
        at = login(page=page)
        watch = [(b.label, b.url) for b in at.link_button if b.label.startswith("Watch")]
        assert watch == [("Watch on TikTok", "https://www.tiktok.com/@me/video/7")], page


# --- published and in flight ----------------------------------------------------------------


def test_published_shows_every_platforms_link_and_state(
    app_env: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    [pid] = _made(sessions, tmp_path, 1, title="세 군데 영상")
    links = {"youtube": "https://youtu.be/abc", "tiktok": "https://www.tiktok.com/@me/video/7"}
    with sessions() as session:
        session.execute(update(Post).where(Post.id == pid).values(status=S.UPLOADED))
        for platform, link in links.items():
            session.add(Upload(post_id=pid, platform=platform, state=U.PUBLISHED,
                               video_url=link, requested_by="bob",
                               uploaded_at=datetime(2026, 12, 1, 9)))  # fmt: skip
        session.add(Upload(post_id=pid, platform="instagram", state=U.FAILED, requested_at=now(),
                           note="Instagram refused: the video is too short"))  # fmt: skip
        session.commit()
    at = login(page="views/published.py")
    assert [(b.label, b.url) for b in at.link_button] == [
        ("Watch on YouTube", links["youtube"]),
        ("Watch on TikTok", links["tiktok"]),
    ]
    said = [unescaped(c) for c in captions(at)]
    assert any("**YouTube** · published 2026-12-01 18:00 · asked by bob" in c for c in said)
    assert any("**TikTok** · published 2026-12-01 18:00 · asked by bob" in c for c in said)
    assert any(
        "**Instagram** · failed: Instagram refused: the video is too short" in c for c in said
    )


def test_progress_shows_a_tiktok_upload_in_flight(
    app_env: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    [pid] = _made(sessions, tmp_path, 1, title="올라가는 영상")
    with sessions() as session:
        session.execute(update(Post).where(Post.id == pid).values(status=S.PUBLISHING))
        session.add_all([
            Upload(post_id=pid, platform="tiktok", state=U.UPLOADING, requested_at=now(),
                   bytes_sent=3 * 2**20, total_bytes=12 * 2**20,
                   heartbeat_at=now() - timedelta(seconds=5)),
            Upload(post_id=pid, platform="youtube", state=U.WAITING, requested_at=now(),
                   note="daily YouTube quota: 100 of 100 uploads used today"),
        ])  # fmt: skip
        session.commit()
    at = login(page="views/progress.py")
    assert "Publishing (1)" in [h.value for h in at.subheader]
    [bar] = at.get("progress")
    text = unescaped(bar.proto.text)
    assert text.startswith(f"**TikTok** · #{pid} 올라가는 영상: 3.0 of 12.0 MiB, heartbeat ")
    assert text.endswith(" s ago")
    assert bar.proto.value == 25


def test_retrying_a_failed_upload_asks_again_on_the_platforms_that_failed(
    app_env: None,
    triggered: list[dict[str, Any]],
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    [pid] = _made(sessions, tmp_path, 1)
    with sessions() as session:
        session.execute(
            update(Post).where(Post.id == pid).values(status=S.FAILED, last_error="refused")
        )
        session.add(StageRun(post_id=pid, stage=Stage.UPLOAD, attempt=1,
                             outcome=StageOutcome.FAILED, started_at=now()))  # fmt: skip
        for platform in ("tiktok", "instagram"):
            session.add(Upload(post_id=pid, platform=platform, state=U.FAILED,
                               requested_at=now(), note="refused"))  # fmt: skip
        session.commit()
    at = login(page="views/progress.py")
    at.button(key=f"retry-{pid}").click().run()
    assert uploads(sessions, pid) == {"tiktok": U.WAITING, "instagram": U.WAITING}
    [run] = [r for r in triggered if r["dag_id"] == "publish_shorts"]
    assert run["conf"] == {"post_ids": [pid], "platforms": ["tiktok", "instagram"]}
