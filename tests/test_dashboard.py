"""The review dashboard through streamlit.testing, on the real app database.

Airflow is not running for these tests (its address is a closed port), so every
action that asks it for a sweep must say so and keep the decision; the stack
tests drive the same pages against the real Airflow.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import streamlit as st
from markdown_it import MarkdownIt
from sqlalchemy import event, update
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest
from wagglebot_stack.mariadb import MariaDB
from wagglebot_stack.sample_site import SampleSite

from wagglebot.core.config import get_settings
from wagglebot.core.db import default_engine, engine_for
from wagglebot.core.db.models import Comment, Content, Post, StageRun, Story, Upload
from wagglebot.core.db.story_rows import refresh_standing, refresh_story_rows
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome, UploadState
from wagglebot.crawl.store import refresh_scores
from wagglebot.produce.batch import hold_for_review
from wagglebot.publish.credentials import save_token
from wagglebot.review.auth import hash_password

from conftest import REPO, free_ports
from factories import add_posts
from picture_sites import OWN, STRANGER, start_sites

S = PostStatus
U = UploadState
APP = str(REPO / "dashboard" / "app.py")
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
USERS = {name: hash_password(pw) for name, pw in PASSWORDS.items()}
SCRIPT = (
    "퇴근길에 고양이가 집 앞까지 따라왔습니다. 결국 이름을 지어 주고 같이 살기로 했대요."
    " 아침마다 문 앞에서 기다리는 모습이 귀여워서 이제는 가족이 되었다고 합니다."
)
HOSTILE = (
    "[클릭](javascript:alert(1)) ![x](http://evil.example/t.png) <img src=x onerror=alert(1)>"
    " :red[큰 글씨] $x^2$ **굵게** <script>alert(2)</script> #제목"
)


@pytest.fixture
def app_env(mariadb: MariaDB, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("WAGGLE_DB_URL", mariadb.db_url)
    monkeypatch.setenv("WAGGLE_DASHBOARD_USERS", json.dumps(USERS))
    monkeypatch.setenv("WAGGLE_AIRFLOW_API_URL", f"http://127.0.0.1:{free_ports()}")  # down
    monkeypatch.setenv("WAGGLE_AIRFLOW_UI_URL", "http://airflow.test:8080")
    monkeypatch.setenv("WAGGLE_AIRFLOW_PASSWORD", "dash-pw")
    monkeypatch.setenv("WAGGLE_MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("WAGGLE_STACK_HOME", str(tmp_path / "stack"))  # no supervisord there
    get_settings.cache_clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    default_engine().dispose()
    get_settings.cache_clear()
    engine_for.cache_clear()


def login(user: str = "alice", page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_name").input(user)
    at.text_input(key="login_password").input(PASSWORDS[user])
    at.button[0].click().run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [m.value[2:-2] for m in at.markdown if m.value.startswith("**")]


def messages(at: AppTest, kind: str) -> list[str]:
    return [m.value for m in getattr(at, kind)]


def unescaped(markdown: str) -> str:
    """Text as ui.md escaped it, its backslashes and word joiners taken out again."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def status_of(sessions: sessionmaker[Session], pid: int) -> tuple[PostStatus, str | None]:
    with sessions() as session:
        post = session.get(Post, pid)
        return post.status, post.status_changed_by


# --- login ---------------------------------------------------------------------------------


def test_nothing_shows_before_a_login(app_env: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        add_posts(session, title="비밀 제목")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert [t.value for t in at.title] == ["WaggleBot review"]
    assert "비밀 제목" not in json.dumps([m.value for m in at.markdown], ensure_ascii=False)
    assert not [b for b in at.button if b.label == "Approve"]
    at.text_input(key="login_name").input("alice")
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert messages(at, "error") == ["Wrong user name or password."]
    assert "비밀 제목" not in json.dumps([m.value for m in at.markdown], ensure_ascii=False)


def test_a_login_opens_the_inbox_and_a_logout_closes_it(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        add_posts(session, title="처음 글")
    at = login()
    assert [t.value for t in at.title] == ["Inbox"]
    assert titles(at) == ["처음 글"]
    at.sidebar.button[0].click().run()  # Log out
    assert [t.value for t in at.title] == ["WaggleBot review"]
    assert titles(at) == []


def test_without_accounts_nobody_gets_in(app_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGGLE_DASHBOARD_USERS", "{}")
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "No dashboard account is set up" in messages(at, "error")[0]
    assert not at.text_input


# --- inbox ---------------------------------------------------------------------------------


def _inbox_fixture(sessions: sessionmaker[Session]) -> None:
    """Two sites of very different sizes, pictures on some, known dates."""
    base = datetime(2026, 11, 20, 3, 0)  # 12:00 in Seoul
    with sessions() as session:
        for i in range(30):  # a big site: thousands of likes
            add_posts(
                session,
                site_code="bigsite",
                title=f"큰사이트 글 {i:02d}",
                content=f"본문 {i} 고양이" if i % 3 == 0 else f"본문 {i}",
                likes=1000 + 100 * i,
                views=50_000 + i,
                images=[f"http://img.test/{i}.jpg"] if i % 2 == 0 else [],
                posted_at=base - timedelta(hours=i),
            )
        for i in range(5):  # a small site: a few likes, but its best post is a hit there
            add_posts(
                session,
                site_code="smallsite",
                title=f"작은사이트 글 {i}",
                likes=[2, 3, 4, 5, 90][i],
                views=None,  # the site shows no views
                posted_at=base - timedelta(days=3, hours=i),
            )
        refresh_scores(session, "bigsite")
        refresh_scores(session, "smallsite")


def test_the_inbox_pages_sorts_and_filters(app_env: None, sessions: sessionmaker[Session]) -> None:
    _inbox_fixture(sessions)
    at = login()
    assert len(titles(at)) == 20  # a page
    at.selectbox(key="f-sort").select("newest").run()
    assert titles(at)[0] == "큰사이트 글 00"  # newest first
    assert "Page 1 of 2 · 35 in all" in [c.value for c in at.caption]
    at.button(key="inbox-page-next").click().run()
    assert len(titles(at)) == 15
    assert titles(at)[-1] == "작은사이트 글 4"

    at.selectbox(key="f-sort").select("likes").run()  # back to page 1 on any filter change
    assert titles(at)[:2] == ["큰사이트 글 29", "큰사이트 글 28"]
    at.selectbox(key="f-sort").select("score").run()
    top = titles(at)
    # Per site: the small site's hit (90 likes against 2-5) ranks with the big site's best.
    assert top.index("작은사이트 글 4") < 5, top
    assert top[0] in ("큰사이트 글 29", "작은사이트 글 4")

    at.multiselect(key="f-sites").select("smallsite").run()
    assert sorted(titles(at)) == [f"작은사이트 글 {i}" for i in range(5)]
    at.multiselect(key="f-sites").unselect("smallsite").run()
    at.selectbox(key="f-images").select("with").run()
    assert len(titles(at)) == 15
    assert all(int(t[-2:]) % 2 == 0 for t in titles(at))
    at.selectbox(key="f-images").select("any").run()
    at.text_input(key="f-text").input("고양이").run()
    assert sorted(titles(at)) == sorted(f"큰사이트 글 {i:02d}" for i in range(0, 30, 3))
    at.text_input(key="f-text").input("").run()
    # Dates are days in Seoul: 2026-11-17 holds only the small site's posts.
    at.date_input(key="f-dates").set_value((datetime(2026, 11, 17), datetime(2026, 11, 17))).run()
    assert sorted(titles(at)) == [f"작은사이트 글 {i}" for i in range(5)]


@pytest.fixture
def picture_hosts(
    app_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SampleSite]:
    """The post's own site (its pictures' home, as the dashboard is told) and a stranger."""
    sites = start_sites(tmp_path / "sites")
    monkeypatch.setenv("WAGGLE_CRAWL_BASE_URLS", json.dumps({OWN: sites.urls[OWN]}))
    get_settings.cache_clear()
    yield sites
    sites.stop()


def test_a_preview_shows_the_body_best_comment_and_pictures_fetched_by_the_server(
    picture_hosts: SampleSite, sessions: sessionmaker[Session]
) -> None:
    sites = picture_hosts
    own, stranger = sites.urls[OWN], sites.urls[STRANGER]
    with sessions() as session:
        [pid] = add_posts(
            session,
            title="미리보기",
            content="첫 줄\n둘째 줄 " + "가" * 3000,
            images=[
                f"{own}/ok.png",
                "javascript:alert(1)",
                f"{stranger}/ok.png",
                f"{own}/fake.jpg",
            ],
            url="javascript:alert(1)",
        )
        session.add_all(
            [
                Comment(
                    post_id=pid,
                    author="댓글러",
                    content="별로예요",
                    content_hash="1",
                    comment_key="id:1",
                    likes=3,
                ),
                Comment(
                    post_id=pid,
                    author="베댓",
                    content="최고의 댓글 ㅋㅋ",
                    content_hash="2",
                    comment_key="id:2",
                    likes=500,
                ),
            ]
        )
        session.commit()
    at = login()
    assert not at.text
    assert not at.image
    assert sites.hits(OWN)["/ok.png"] == 0
    at.session_state[f"preview-{pid}"] = True  # the reviewer opens the preview
    at.run()
    texts = [t.value for t in at.text]
    assert texts[0].startswith("첫 줄\n둘째 줄 가")
    assert len(texts[0]) == 1500
    assert "최고의 댓글 ㅋㅋ" in texts
    assert "별로예요" not in texts
    captions = [c.value for c in at.caption]
    assert "Best comment (500 likes), by 베댓:" in captions
    # One picture shown, as bytes the dashboard serves itself; the rest are labelled.
    [shown] = [i.value for i in at.image]
    assert [urlsplit(u).path.rsplit("/", 2)[-2] for u in shown] == ["media"]  # ours
    assert "127.0.0.1" not in shown[0]
    assert sites.hits(OWN)["/ok.png"] == 1
    assert sites.hits(STRANGER)["/ok.png"] == 0
    label = ":material/hide_image: Picture not shown: "
    placeholders = [ui_text(c).removeprefix(label) for c in captions if c.startswith(label)]
    assert placeholders == [
        "not a web address",
        "127.0.0.1 is not the post's own site or one of its CDNs",
        "not a readable image (cannot identify image file <_io.BytesIO object>)",
    ]
    assert not at.link_button  # the post's own URL is not a web address
    at.toggle(key=f"whole-{pid}").set_value(True).run()
    assert any(len(t.value) == len("첫 줄\n둘째 줄 ") + 3000 for t in at.text)


def test_video_posts_are_marked_with_their_posters_and_youtube_alone_is_flagged(
    picture_hosts: SampleSite, sessions: sessionmaker[Session]
) -> None:
    sites = picture_hosts
    own = sites.urls[OWN]
    watch = "https://www.youtube.com/watch?v=aBcDeFgHiJ0"
    with sessions() as session:
        [video] = add_posts(
            session,
            title="영상 글",
            videos=[
                {"kind": "file", "url": f"{own}/clip.mp4", "poster": f"{own}/photo.jpg"},
                {"kind": "player", "url": f"{own}/movie?no=1", "poster": None},
            ],
        )
        [tube] = add_posts(
            session, title="유튜브 글", content="", videos=[{"kind": "youtube", "url": watch}]
        )
        [both] = add_posts(
            session,
            title="그림과 유튜브",
            images=[f"{own}/ok.png"],
            videos=[{"kind": "youtube", "url": watch}],
        )
        add_posts(session, title="그림 글", images=[f"{own}/ok.png"])
    at = login()
    assert len(titles(at)) == 4
    media = {c.value.split(" · ")[-1]: c.value for c in at.caption if "image(s)" in c.value}
    assert "0 image(s) · 2 video(s)" in media[f"#{video}"]
    assert "0 image(s) · 1 YouTube video(s)" in media[f"#{tube}"]
    assert "1 image(s) · 1 YouTube video(s)" in media[f"#{both}"]
    # A post whose only media is a YouTube player is flagged where the reviewer decides.
    [warning] = at.warning
    assert warning.value.startswith("Only a YouTube video: the Short cannot show it")
    at.selectbox(key="f-images").select("video").run()
    assert sorted(titles(at)) == ["그림과 유튜브", "영상 글", "유튜브 글"]
    at.session_state[f"preview-{video}"] = True
    at.session_state[f"preview-{tube}"] = True
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert ":material/movie: A video; the Short shows its first seconds:" in captions
    assert ":material/smart_display: A YouTube video (the Short cannot show it)" in captions
    assert len(at.image) == 1  # the poster, fetched by the dashboard like any picture
    assert sites.hits(OWN)["/photo.jpg"] == 1
    assert sites.hits(OWN)["/clip.mp4"] == 0  # the video itself is not fetched to preview
    assert ":material/movie: A video in the site's player; the Short plays it" in captions
    links = [b.url for b in at.link_button]
    assert f"{own}/movie?no=1" in links
    assert watch in links


def ui_text(markdown: str) -> str:
    """What escaped Markdown reads as (backslash escapes undone, addresses unmarked)."""
    text = re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def test_crawled_text_is_shown_as_text_never_as_markup(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        [pid] = add_posts(session, title=HOSTILE, content=HOSTILE, site_code="nate_pann")
    at = login()
    at.session_state[f"preview-{pid}"] = True  # open the preview: the body is in it
    at.run()
    [title] = [m.value for m in at.markdown if "javascript" in m.value]
    html = MarkdownIt("gfm-like").render(title)
    assert html.count("<strong>") == 1  # the card's own bold, around the title
    for tag in ("<a", "<img", "<em", "<script", "<h1", "<code"):
        assert tag not in html, html
    # Rendered, the escaped Markdown reads exactly as the crawled title.
    inner = html.removeprefix("<p><strong>").removesuffix("</strong></p>\n")
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        inner = inner.replace(entity, char)
    assert "http:\u2060//evil.example" in inner  # an invisible joiner: GFM makes no link
    assert inner.replace("\u2060", "") == HOSTILE
    assert HOSTILE in [t.value for t in at.text]  # the body through st.text: no Markdown at all


def test_approving_one_or_many_and_declining(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        a, b, c, d, e = add_posts(session, 5)
    at = login()
    at.button(key=f"approve-{a}").click().run()
    assert status_of(sessions, a) == (S.APPROVED, "alice")
    assert messages(at, "success") == [f"Approved 1 post(s): {a}."]
    # Airflow is down here: the approval stands, and the person learns why no run started.
    [warning] = messages(at, "warning")
    assert warning.startswith("Airflow could not be asked to start:")
    assert "The posts wait in the queue" in warning
    assert f"approve-{a}" not in [btn.key for btn in at.button]  # it left the inbox

    for pid in (b, c, d):
        at.checkbox(key=f"pick-{pid}").check().run()
    bulk = next(btn for btn in at.button if btn.label == "Approve selected (3)")
    bulk.click().run()
    assert [status_of(sessions, p)[0] for p in (b, c, d)] == [S.APPROVED] * 3
    with sessions() as session:
        assert titles(at) == [session.get(Post, e).title]
    at.button(key=f"decline-{e}").click().run()
    assert status_of(sessions, e) == (S.DECLINED, "alice")
    assert messages(at, "info") == ["Nothing waiting here."]


def test_select_page_then_decline_selected(app_env: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        ids = add_posts(session, 4)
    at = login()
    next(btn for btn in at.button if btn.label == "Select page").click().run()
    assert all(at.checkbox(key=f"pick-{pid}").value for pid in ids)
    next(btn for btn in at.button if btn.label == "Decline selected (4)").click().run()
    assert {status_of(sessions, p)[0] for p in ids} == {S.DECLINED}


def test_two_people_approving_one_post_at_once_approve_it_once(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        [pid] = add_posts(session)
    alice, bob = login("alice"), login("bob")  # both see the post in their inbox
    alice.button(key=f"approve-{pid}").click().run()
    bob.button(key=f"approve-{pid}").click().run()
    assert status_of(sessions, pid) == (S.APPROVED, "alice")
    assert f"Post {pid} was not approved: it is already Approved by alice." in messages(
        bob, "warning"
    )
    assert messages(bob, "success") == []


# --- scripts -------------------------------------------------------------------------------


def _scripted(sessions: sessionmaker[Session], n: int = 1) -> list[int]:
    with sessions() as session:
        ids = add_posts(session, n, status=S.PROCESSING, content="고양이 이야기 본문")
        for pid in ids:
            hold_for_review(session, pid, text=SCRIPT, raw="생각: ...\n" + SCRIPT, engine="qwen")
    return ids


def test_a_script_is_edited_and_approved_or_refused_with_the_reason(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    good, bad = _scripted(sessions, 2)
    at = login(page="views/scripts.py")
    assert [t.value for t in at.title] == ["Scripts"]
    assert at.text_area(key=f"script-{good}").value == SCRIPT
    at.text_area(key=f"script-{bad}").input("짧아요").run()
    at.button(key=f"ok-{bad}").click().run()
    [error] = messages(at, "error")
    assert error.startswith(f"Post {bad}: the script cannot be voiced as it is (length:")
    assert at.text_area(key=f"script-{bad}").value == "짧아요"  # the edit is not lost
    assert status_of(sessions, bad)[0] is S.SCRIPTED

    edited = SCRIPT + " 여러분도 이런 인연이 있나요?"
    at.text_area(key=f"script-{good}").input(edited).run()
    at.button(key=f"ok-{good}").click().run()
    assert status_of(sessions, good) == (S.APPROVED, "alice")
    with sessions() as session:
        content = session.get(Content, good)
        assert (content.summary_text, content.script_edited) == (edited, True)
    assert f"Post {good}: script approved; it will be voiced and rendered." in messages(
        at, "success"
    )
    assert messages(at, "warning")[0].startswith("Airflow could not be asked to start")


def test_a_script_sent_back_or_its_post_declined(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    again, drop = _scripted(sessions, 2)
    at = login(page="views/scripts.py")
    at.button(key=f"again-{again}").click().run()
    at.button(key=f"drop-{drop}").click().run()
    assert status_of(sessions, again) == (S.APPROVED, "alice")
    assert status_of(sessions, drop) == (S.DECLINED, "alice")
    assert messages(at, "info")[-1] == "No script is waiting for review."


# --- progress ------------------------------------------------------------------------------


def _stage_run(session: Session, pid: int, stage: Stage, outcome: StageOutcome, **kw) -> None:
    session.add(StageRun(post_id=pid, stage=stage, attempt=1, outcome=outcome, **kw))
    session.commit()


def test_progress_shows_counts_work_in_flight_stalls_and_failures(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with sessions() as session:
        add_posts(session, 2)
        [queued] = add_posts(session, status=S.APPROVED)
        [busy, stuck] = add_posts(session, 2, status=S.PROCESSING, title="작업 중")
        session.execute(
            update(Post)
            .where(Post.id.in_([busy, stuck]))
            .values(status_changed_at=now - timedelta(minutes=40))
        )
        _stage_run(
            session, busy, Stage.TTS, StageOutcome.RUNNING, started_at=now - timedelta(minutes=1)
        )
        _stage_run(
            session,
            stuck,
            Stage.LLM,
            StageOutcome.SUCCEEDED,
            started_at=now - timedelta(minutes=39),
            finished_at=now - timedelta(minutes=38),
        )
        [failed] = add_posts(
            session,
            status=S.FAILED,
            title="실패한 글",
            last_error="render (attempt 3): FfmpegFailed: Invalid data found when processing input",
        )
        _stage_run(
            session,
            failed,
            Stage.RENDER,
            StageOutcome.FAILED,
            error="x",
            dag_id="produce_shorts",
            run_id="manual__2026-12-01T10:00:00+00:00",
            task_id="render",
            map_index=-1,
            try_number=3,
        )
    at = login(page="views/progress.py")
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Collected"], shown["Approved"], shown["Processing"], shown["Failed"]) == (
        "2",
        "1",
        "2",
        "1",
    )
    assert queued
    frame = at.dataframe[0].value
    rows = {r["post"]: r for r in frame.to_dict("records")}
    assert rows[busy]["doing"] == "tts (attempt 1, running)"
    assert rows[busy][""] == ""
    assert rows[stuck]["doing"] == "llm succeeded, waiting for tts"
    assert rows[stuck][""] == "⚠ stalled"
    assert any("1 post(s) made no progress for over 15 min" in w for w in messages(at, "warning"))
    [error_box] = [c.value for c in at.code]
    assert error_box.endswith("FfmpegFailed: Invalid data found when processing input")
    [log_link] = at.link_button
    assert log_link.proto.url == (
        "http://airflow.test:8080/dags/produce_shorts/runs/"
        "manual__2026-12-01T10%3A00%3A00%2B00%3A00/tasks/render?try_number=3"
    )
    at.button(key=f"retry-{failed}").click().run()
    assert status_of(sessions, failed) == (S.APPROVED, "alice")
    with sessions() as session:
        assert session.get(Post, failed).last_error is None
    assert messages(at, "success") == [f"Retried 1 post(s): {failed}."]
    assert "No failures." in [c.value for c in at.caption]


# --- gallery -------------------------------------------------------------------------------


def _short(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    video, thumb = folder / "short.mp4", folder / "short.jpg"
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=108x192:d=1",
            "-pix_fmt",
            "yuv420p",
            str(video),
        ],
        check=True,
        timeout=60,
    )
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-i", str(video), "-frames:v", "1", str(thumb)],
        check=True,
        timeout=60,
    )
    return video, thumb


def test_the_gallery_plays_made_shorts_and_says_when_a_file_is_gone(
    app_env: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    video, thumb = _short(tmp_path / "media" / "posts" / "1")
    with sessions() as session:
        [made, gone] = add_posts(session, 2, status=S.RENDERED)
        for pid, path in ((made, video), (gone, tmp_path / "nope.mp4")):
            session.add(
                Content(
                    post_id=pid,
                    summary_text=SCRIPT,
                    video_path=str(path),
                    thumbnail_path=str(thumb),
                    video_seconds=1.0,
                    script_engine="extractive",
                    script_reviewed_by="alice",
                    script_edited=True,
                )
            )
        session.commit()
    at = login(page="views/gallery.py")
    assert [t.value for t in at.title] == ["Gallery"]
    assert SCRIPT in [t.value for t in at.text]
    assert any("script edited by alice" in c.value for c in at.caption)
    assert f"The video file is missing: {tmp_path / 'nope.mp4'}" in messages(at, "error")
    assert not at.get("video")
    at.toggle(key=f"play-{made}").set_value(True).run()
    [player] = at.get("video")
    assert player.proto.url.endswith(".mp4")  # served by Streamlit from the file


def _made(sessions: sessionmaker[Session], tmp_path: Path, n: int, **fields: object) -> list[int]:
    video, thumb = _short(tmp_path / "media" / "posts" / f"made-{n}-{len(fields)}")
    with sessions() as session:
        ids = add_posts(session, n, status=S.RENDERED, **fields)
        for pid in ids:
            session.add(
                Content(post_id=pid, summary_text=SCRIPT, video_path=str(video),
                        thumbnail_path=str(thumb), video_seconds=1.0)
            )  # fmt: skip
        session.commit()
    return ids


@pytest.fixture
def channel(app_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A connected channel: a token file where the settings say (nothing is uploaded here)."""
    token = tmp_path / "youtube" / "token.json"
    save_token({"refresh_token": "r", "client_id": "c", "client_secret": "s"}, token)
    monkeypatch.setenv("WAGGLE_YOUTUBE_TOKEN_FILE", str(token))
    get_settings.cache_clear()
    return token


def test_without_a_channel_the_gallery_says_publishing_is_off(
    app_env: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WAGGLE_YOUTUBE_TOKEN_FILE", str(tmp_path / "no-token.json"))
    get_settings.cache_clear()
    [pid] = _made(sessions, tmp_path, 1)
    at = login(page="views/gallery.py")
    assert messages(at, "warning") == [
        "Publishing is off on every platform: connect one (each says how above)."
    ]
    offs = [unescaped(c.value) for c in at.caption if ":material/block:" in c.value]
    assert len(offs) == 3  # YouTube, TikTok, Instagram: no credentials here
    assert "no YouTube credentials" in offs[0]
    assert "youtube-auth" in offs[0]
    assert all(at.checkbox(key=f"pub-to-{p}").disabled for p in ("youtube", "tiktok", "instagram"))
    assert at.checkbox(key=f"pub-pick-{pid}").disabled
    assert not [b for b in at.button if b.label.startswith("Publish selected")]


def test_a_short_is_published_from_the_gallery_with_a_persons_title(
    channel: Path, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    [pid, other] = _made(sessions, tmp_path, 2, title="원래 제목 <b>")
    at = login(page="views/gallery.py")
    assert any("0 of 100 uploads, 0 of 10,000 units used; 100 upload(s) left" in c.value
               for c in at.caption)  # fmt: skip
    form = f"pub-{pid}"
    title = next(t for t in at.text_input if t.form_id == form)
    assert title.value == "원래 제목 ＜b＞"  # what YouTube would take, ready to edit
    title.input("<안 돼>")  # a form's widgets are sent with its button, in one run
    next(b for b in at.button if b.form_id == form).click().run()
    assert messages(at, "error") == ["Not published: the title has < or >, which YouTube refuses."]
    next(t for t in at.text_input if t.form_id == form).input("고양이가 가족이 된 날")
    next(s for s in at.selectbox if s.form_id == form).select("unlisted")
    next(b for b in at.button if b.form_id == form).click().run()
    assert f"Publishing 1 Short(s) to YouTube: {pid}." in messages(at, "success")
    assert "Airflow could not be asked to publish" in messages(at, "warning")[0]
    with sessions() as session:
        upload = session.get(Upload, (pid, "youtube"))
        assert (upload.title, upload.privacy, upload.requested_by) == (
            "고양이가 가족이 된 날", "unlisted", "alice"
        )  # fmt: skip
        assert session.get(Upload, (other, "youtube")) is None
    assert any("**YouTube** · waiting to be published" in c.value for c in at.caption)
    # Bulk: tick the other and publish it with what is made from its post.
    at.checkbox(key=f"pub-pick-{other}").check().run()
    next(b for b in at.button if b.label == "Publish selected (1)").click().run()
    assert f"Publishing 1 Short(s) to YouTube: {other}." in messages(at, "success")
    with sessions() as session:
        assert session.get(Upload, (other, "youtube")).title is None  # made from the post


def test_published_and_in_flight_uploads_are_shown(
    channel: Path, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    [done, going] = _made(sessions, tmp_path, 2, title="올라간 영상")
    url = "https://www.youtube.com/shorts/abc123DEF45"
    with sessions() as session:
        session.execute(update(Post).where(Post.id == done).values(status=S.UPLOADED))
        session.execute(update(Post).where(Post.id == going).values(status=S.PUBLISHING))
        session.add_all([
            Upload(post_id=done, platform="youtube", state=U.PUBLISHED, video_url=url,
                   privacy="private", requested_by="bob", uploaded_at=datetime(2026, 12, 1, 9, 0)),
            Upload(post_id=going, platform="youtube", state=U.UPLOADING, bytes_sent=3 * 2**20,
                   total_bytes=12 * 2**20, heartbeat_at=datetime.now(UTC).replace(tzinfo=None)),
        ])  # fmt: skip
        session.commit()
    at = login(page="views/published.py")
    assert titles(at) == ["올라간 영상"]
    assert any("private · published 2026-12-01 18:00 · asked by bob" in c.value for c in at.caption)
    assert [b.url for b in at.link_button] == [url]
    at.switch_page("views/progress.py").run()
    [bar] = at.get("progress")
    assert "3.0 of 12.0 MiB" in bar.proto.text
    assert bar.proto.value == 25


# --- no query per row ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["views/inbox.py", "views/scripts.py", "views/progress.py", "views/gallery.py"]
)
def test_a_page_costs_the_same_queries_for_one_row_or_many(
    app_env: None, sessions: sessionmaker[Session], tmp_path: Path, page: str
) -> None:
    video, thumb = _short(tmp_path / "media" / "posts" / "x")

    def fill(n: int) -> None:
        with sessions() as session:
            ids = add_posts(session, n)
            for pid in ids:
                session.add(
                    Comment(
                        post_id=pid,
                        author="a",
                        content="댓글",
                        content_hash="h",
                        comment_key="id:1",
                        likes=1,
                    )
                )
            for status in (S.FAILED, S.PROCESSING):
                add_posts(session, n, status=status, last_error="x" if status is S.FAILED else None)
            for pid in add_posts(session, n, status=S.RENDERED):
                session.add(
                    Content(
                        post_id=pid,
                        summary_text=SCRIPT,
                        video_path=str(video),
                        thumbnail_path=str(thumb),
                    )
                )
            session.commit()
        _scripted(sessions, n)

    def queries() -> int:
        at = login(page=page)
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        engine = default_engine()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            at.run()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    fill(1)
    one = queries()
    fill(5)
    assert queries() == one


def test_a_queue_no_sweep_takes_is_flagged_and_failures_retried_together(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with sessions() as session:
        [waiting] = add_posts(session, status=S.APPROVED)
        session.execute(
            update(Post)
            .where(Post.id == waiting)
            .values(status_changed_at=now - timedelta(minutes=30))
        )
        session.commit()
        failed = add_posts(session, 3, status=S.FAILED, last_error="tts (attempt 3): timeout")
    at = login(page="views/progress.py")
    assert any("No sweep has taken them: is Airflow running?" in w for w in messages(at, "warning"))
    next(b for b in at.button if b.label == "Ask Airflow for a sweep now").click().run()
    assert any(w.startswith("Airflow could not be asked to start") for w in messages(at, "warning"))
    for pid in failed[:2]:
        at.checkbox(key=f"retry-pick-{pid}").check().run()
    next(b for b in at.button if b.label == "Retry selected (2)").click().run()
    assert [status_of(sessions, p)[0] for p in failed] == [S.APPROVED, S.APPROVED, S.FAILED]
    assert "Failed (1)" in [h.value for h in at.subheader]


def test_the_health_page_lists_every_check_worst_first_and_every_page_says_so(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    at = login()  # Airflow does not answer here (a closed port): a red check
    banner = [m.value for m in at.markdown if "See the Health page." in m.value]
    assert banner
    assert banner[0].startswith(":red-background[:material/monitor_heart: Health: ")
    assert "airflow\\:api" in banner[0]  # (escaped Markdown)
    at.switch_page("views/health.py").run()
    assert not at.exception, at.exception
    [table] = at.dataframe
    rows = table.value.to_dict("records")
    assert rows[0]["level"] == "RED"
    assert rows[0]["check"] == "airflow:api"
    assert {"backup", "disk:media", "failures", "stuck"} <= {r["check"] for r in rows}
    assert [r["level"] for r in rows] == sorted(
        (r["level"] for r in rows), key=["RED", "AMBER", "green"].index
    )
    assert any(h.value.endswith(f" · {len(rows)} checks") for h in at.subheader)


def _story(sessions: sessionmaker[Session]) -> tuple[int, int, int, int]:
    """A story on three communities (nate_pann leads) and a post alone; their ids."""
    with sessions() as session:
        main, qoo, fm = (
            add_posts(session, site_code=site, title=title, likes=likes, score=score)[0]
            for site, title, likes, score in (
                ("nate_pann", "탕비실 커피 도둑", 249, 1.0),
                ("theqoo", "[네이트판] 탕비실 커피 도둑", None, None),
                ("fmkorea", "탕비실 커피 도둑 (펌)", 1234, 2.0),
            )
        )
        [alone] = add_posts(session, title="혼자인 글", score=0.1)
        story = Story(main_post_id=main)
        session.add(story)
        session.flush()
        session.execute(update(Post).where(Post.id.in_([main, qoo, fm])).values(story_id=story.id))
        refresh_story_rows(session, 0.5)
        session.commit()
    return main, qoo, fm, alone


def test_a_story_is_one_card_and_makes_one_short(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    main, _, fm, _ = _story(sessions)
    at = login()
    # One card per story, the most popular first: 2.0 + 0.5 x 2 further communities.
    assert titles(at) == ["탕비실 커피 도둑", "혼자인 글"]
    [line] = [m.value for m in at.markdown if "also on:" in m.value]
    assert "One story on 3 communities" in line
    assert "popularity +3.00" in line
    assert "[theqoo \\(조회" not in line  # theqoo shows no likes here, and no views either
    assert "[fmkorea \\(추천 1,234\\)](https://pann.nate.com/talk/" in line
    # The reviewer makes the Short from the fmkorea member instead of the main post.
    at.selectbox(key=f"member-{main}").select(fm).run()
    at.button(key=f"approve-{main}").click().run()
    assert status_of(sessions, fm) == (S.APPROVED, "alice")
    assert status_of(sessions, main)[0] is S.COLLECTED
    assert titles(at) == ["혼자인 글"]  # the story left the Inbox with its reposts

    at.selectbox(key="f-standing").select("in_production").run()
    assert titles(at) == ["탕비실 커피 도둑"]
    assert any(f"Already being made from post {fm}" in m for m in messages(at, "info"))
    assert at.button(key=f"approve-{main}").disabled

    with sessions() as session:
        session.execute(update(Post).where(Post.id == fm).values(status=S.UPLOADED))
        refresh_standing(session, fm)  # as the state machine's moves do
        session.add(Upload(post_id=fm, platform="youtube", state=U.PUBLISHED,
                           video_url="https://youtu.be/xyz"))  # fmt: skip
        session.commit()
    at.selectbox(key="f-standing").select("published").run()
    [info] = [m for m in messages(at, "info") if "Already published" in m]
    assert "https://youtu.be/xyz" in info


def test_declining_a_story_card_declines_its_reposts_and_a_split_stands(
    app_env: None, sessions: sessionmaker[Session]
) -> None:
    main, qoo, fm, alone = _story(sessions)
    at = login()
    at.session_state[f"tools-{main}"] = True  # the reviewer opens the story's tools
    at.run()
    at.button(key=f"split-{qoo}").click().run()
    assert f"Post {qoo} is a story of its own now" in messages(at, "success")[0]
    assert sorted(titles(at)) == sorted(
        ["탕비실 커피 도둑", r"\[네이트판\] 탕비실 커피 도둑", "혼자인 글"]
    )
    at.button(key=f"decline-{main}").click().run()
    assert {status_of(sessions, p)[0] for p in (main, fm)} == {S.DECLINED}
    assert status_of(sessions, qoo)[0] is S.COLLECTED
    # Merging it back by hand: one of the other story's posts' number.
    at.session_state[f"tools-{qoo}"] = True
    at.run()
    at.number_input(key=f"merge-{qoo}").set_value(alone).run()
    at.button(key=f"merge-go-{qoo}").click().run()
    with sessions() as session:
        assert session.get(Post, alone).story_id == session.get(Post, qoo).story_id
    assert titles(at) == ["혼자인 글"]  # not marked as a repost: it leads the story now
    assert any("also on:" in m.value and "theqoo" in m.value for m in at.markdown)


def test_the_analytics_page_charts_the_shorts_figures_and_says_what_is_off(
    app_env: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from wagglebot.analytics.learn import learn
    from wagglebot.core.db.models import StatsRun, VideoStat

    ids = _made(sessions, tmp_path, 3, title=HOSTILE)
    start = datetime(2026, 12, 1, 12, 0)
    with sessions() as session:
        for n, pid in enumerate(ids):
            session.execute(update(Post).where(Post.id == pid).values(status=S.UPLOADED))
            session.add(Upload(post_id=pid, platform="youtube", state=U.PUBLISHED,
                               video_id=f"vid{n}", video_url=f"https://youtu.be/vid{n}",
                               uploaded_at=start,
                               views_24h=1000 * (n + 1)))  # fmt: skip
            for hour, views in ((1, 100), (25, 1000 * (n + 1)), (49, 1500 * (n + 1))):
                session.add(VideoStat(post_id=pid, platform="youtube", video_id=f"vid{n}",
                                      source="totals", measured_at=start + timedelta(hours=hour),
                                      views=views, likes=views // 20))  # fmt: skip
            session.add(VideoStat(post_id=pid, platform="youtube", video_id=f"vid{n}",
                                  source="day", measured_at=datetime(2026, 12, 1), views=900,
                                  average_view_percentage=60.0 + 10 * n))  # fmt: skip
        session.add(StatsRun(started_at=start, finished_at=start, videos=3, totals=3,
                             data_calls=1, analytics_off="the YouTube token lacks "
                             "https://www.googleapis.com/auth/yt-analytics.readonly"))  # fmt: skip
        session.commit()
    learn(get_settings())
    at = login(page="views/analytics.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Shorts published"] == "3"
    assert metrics["Views so far"] == f"{1500 * 6:,}"
    assert metrics["Average view percentage"] == "70 %"
    assert any("Analytics off: the YouTube token lacks" in w.value for w in at.warning)
    assert len(at.get("vega_lite_chart")) >= 4  # each Short, the channel, retention, groups
    top = at.dataframe[0].value
    assert list(top["views"]) == [4500, 3000, 1500]
    assert set(top["Short"]) == {HOSTILE}  # a crawled title is a table cell, never markup
    assert any("3 Shorts published, fewer than the 20" in c.value for c in at.caption)
    # The Published page: each Short's views and retention beside its link.
    at.switch_page("views/published.py").run()
    assert any("**4,500** views" in c.value and "average view 80 %" in c.value for c in at.caption)
