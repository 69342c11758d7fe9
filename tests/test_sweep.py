"""The sweep's tasks without Airflow, on the real MariaDB, espeak-ng and ffmpeg."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.config import Settings
from wagglebot.core.db.models import Comment, Content, Post, StageRun
from wagglebot.core.post_files import media_path, post_folder
from wagglebot.core.stage_runs import StageRetry, TaskAttempt, stage_started
from wagglebot.core.states import claim_approved
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome
from wagglebot.produce.batch import claim_batch, finish
from wagglebot.produce.runner import run_stage
from wagglebot.produce.stages.clips import VIDEO_SECONDS
from wagglebot.produce.stages.pictures import fetch_pictures, on_this_machine
from wagglebot.produce.tasks import gather_pictures, render, speak, write_scripts

from factories import add_posts

S = PostStatus
STORY = (
    "퇴근길에 작은 고양이가 집 앞까지 따라왔어요. 배가 고파 보여서 참치를 조금 나눠줬습니다. "
    "다음 날 아침에도 문 앞에서 기다리고 있더라고요. 결국 이름을 지어주고 같이 살기로 했어요."
)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def picture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback image host: a photo, a webp, a tracking pixel, a page, and a 404; a video
    with sound, an animated GIF and a still one."""
    root = tmp_path_factory.mktemp("cdn")
    sound = ("-f", "lavfi", "-i", "sine=f=1000:d=8")
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=8", *sound, str(root / "clip.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=4:d=1", "-loop", "0", str(root / "roll.gif"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=300x300:r=4:d=1", "-loop", "0", str(root / "spin.gif"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240", "-frames:v", "1", str(root / "still.gif"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=800x1000", "-frames:v", "1", str(root / "cat.jpg"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=1200x800", "-frames:v", "1", str(root / "wide.webp"))
    _ffmpeg("-f", "lavfi", "-i", "color=c=white:s=2x2", "-frames:v", "1", str(root / "pixel.gif"))
    (root / "page.html").write_text("<html>not a picture</html>")
    (root / "player.html").write_text(  # a site's own video player page
        '<html><body><video poster="spin.gif"><source src="clip.mp4?from=player">'
        "No video here.</video></body></html>"
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def settings(db_settings: Settings, tmp_path: Path) -> Settings:
    # Straight through: the script review is its own test below.
    return db_settings.model_copy(update={"media_root": tmp_path / "media", "script_review": False})


def test_pictures_in_sample_mode_come_only_from_this_machine(
    picture_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    urls = ["http://cdn.example-cdn.kr/a.jpg", f"{picture_server}/cat.jpg"]
    kept = fetch_pictures(urls, tmp_path, loopback_only=True)
    assert [p.name for p in kept] == ["picture_00.jpg"]
    assert "cdn.example-cdn.kr/a.jpg: not on this machine (sample mode)" in caplog.text
    assert on_this_machine("http://localhost:8700/x.png")
    assert on_this_machine("http://127.0.0.2/x.png")
    assert not on_this_machine("http://10.0.0.1/x.png")


def _streams(path: Path) -> list[dict]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return json.loads(done.stdout)["streams"]


def test_a_video_gives_its_poster_and_a_muted_clip_and_a_gif_moves(
    picture_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cdn = picture_server
    videos = [
        {"kind": "youtube", "url": "https://www.youtube.com/watch?v=aBcDeFgHiJ0", "poster": None},
        {"kind": "file", "url": f"{cdn}/clip.mp4", "poster": f"{cdn}/cat.jpg"},
        {"kind": "file", "url": f"{cdn}/page.html", "poster": None},  # a page, not a video
        {"kind": "file", "url": "http://video.example-cdn.kr/a.mp4", "poster": None},
        {"kind": "player", "url": f"{cdn}/player.html", "poster": None},
        {"kind": "player", "url": f"{cdn}/page.html", "poster": None},
    ]
    images = [f"{cdn}/roll.gif", f"{cdn}/cat.jpg", f"{cdn}/still.gif"]
    kept = fetch_pictures(images, tmp_path, videos=videos, loopback_only=True)
    # Each video's poster (still, even an animated GIF one), then its clip (a site's player
    # gives the video its page holds); the GIF that moves is a clip too, the still one a
    # picture; the poster shown already is not shown twice.
    names = [
        *("picture_00.jpg", "picture_01.clip.mp4", "picture_02.png", "picture_03.clip.mp4"),
        *("picture_04.clip.mp4", "picture_05.png"),
    ]
    assert [p.name for p in kept] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # nothing half-made left
    clip, gif = _streams(kept[1]), _streams(kept[4])
    assert [s["codec_type"] for s in clip] == ["video"]  # the video's sound is gone
    assert (clip[0]["codec_name"], clip[0]["pix_fmt"]) == ("h264", "yuv420p")
    assert clip[0]["r_frame_rate"] == "30/1"
    assert float(clip[0]["duration"]) == pytest.approx(VIDEO_SECONDS, abs=0.1)  # of 8 s
    assert (gif[0]["width"], gif[0]["height"]) == (320, 240)
    assert float(gif[0]["duration"]) == pytest.approx(1.0, abs=0.1)  # its whole loop
    assert f"video skipped: {cdn}/page.html: served as text/html" in caplog.text
    assert "video skipped: http://video.example-cdn.kr/a.mp4: not on this machine" in caplog.text
    assert f"video player skipped: {cdn}/page.html: its page holds no <video>" in caplog.text
    assert "youtube.com" not in caplog.text  # YouTube's video is not ours to fetch


RUN_ID = "manual__test"


def _attempt(
    task_id: str, try_number: int = 1, run_id: str = RUN_ID, final: bool = True
) -> TaskAttempt:
    return TaskAttempt("produce_shorts", run_id, task_id, -1, try_number, final)


CLAIM = _attempt("claim")
FINISH = _attempt("finish")


def test_a_sweep_turns_approved_posts_into_shorts_and_isolates_a_bad_post(
    sessions: sessionmaker[Session], settings: Settings, picture_server: str
) -> None:
    cdn = picture_server
    with sessions() as session:
        [story] = add_posts(
            session,
            title="퇴근길 고양이 😺 입양 후기",
            content=STORY,
            images=[
                f"{cdn}/pixel.gif",
                f"{cdn}/cat.jpg",
                f"{cdn}/gone.jpg",
                f"{cdn}/page.html",
                f"{cdn}/wide.webp",
            ],
            videos=[{"kind": "file", "url": f"{cdn}/clip.mp4", "poster": None}],
            status=S.APPROVED,
        )
        session.add(
            Comment(
                post_id=story,
                author="냥집사",
                content="부럽네요 ㅋㅋ",
                content_hash="a",
                comment_key="id:1",
                likes=40,
            )
        )
        [junk] = add_posts(session, title="😀😀😀", content="", status=S.APPROVED)
        [plain] = add_posts(
            session, title="오늘 점심 뭐 먹지 고민된다", content=STORY, status=S.APPROVED
        )
        session.commit()

    claimed = claim_batch(settings, batch=10, attempt=CLAIM)
    assert sorted(claimed) == sorted([story, junk, plain])
    assert claim_batch(settings, batch=10, attempt=CLAIM) == []  # nothing left to take

    scripts = write_scripts(claimed, _attempt("write_scripts"), settings)
    assert set(scripts) == {story, plain}  # the junk post stopped here
    script = json.loads(media_path(settings, scripts[story]).read_text())
    assert script["engine"] == "extractive"
    assert "냥집사" not in script["text"]
    assert "고양이" in script["text"]

    pictures = gather_pictures(claimed, settings)
    kept = [media_path(settings, p) for p in pictures[story]]
    # The video's clip first, then the pictures (webp -> png)
    assert [p.name for p in kept] == ["picture_00.clip.mp4", "picture_01.jpg", "picture_02.png"]
    assert pictures[plain] == []

    voices = speak(scripts, _attempt("speak"), settings)
    voice = json.loads(media_path(settings, voices[story]).read_text())
    assert voice["engine"] == "espeak-ng"
    assert voice["duration"] > 3
    assert voice["cues"][0]["text"].startswith("퇴근길 고양이")

    videos = render(voices, pictures, _attempt("render"), settings)
    assert videos == {pid: f"posts/{pid}/short.mp4" for pid in (story, plain)}
    assert media_path(settings, videos[story]) == post_folder(settings, story) / "short.mp4"
    # XCom carries paths only, relative to the media folder (another host mounts it
    # elsewhere): every value is a short string naming a file.
    for outputs in (scripts, voices, videos):
        assert all(isinstance(v, str) and not v.startswith("/") for v in outputs.values())
        assert all(media_path(settings, v).is_file() for v in outputs.values())

    assert finish(claimed, scripts, voices, videos, settings, FINISH) == {
        "rendered": sorted([story, plain]),
        "failed": [],
        "awaiting_review": [],
    }
    with sessions() as session:
        posts = {p.id: p for p in session.scalars(select(Post)).all()}
        assert posts[story].status is S.RENDERED
        assert posts[plain].status is S.RENDERED
        assert posts[junk].status is S.FAILED
        assert posts[junk].last_error.startswith("llm (attempt 1): InvalidScript: length")
        content = session.get(Content, story)
        assert content.summary_text == script["text"]
        assert content.script_engine == "extractive"
        assert content.script_raw
        assert content.video_path == f"posts/{story}/short.mp4"
        assert media_path(settings, content.video_path).stat().st_size > 50_000
        assert media_path(settings, content.thumbnail_path).is_file()
        assert content.video_seconds == pytest.approx(voice["duration"])
        engines = dict(
            session.execute(
                select(StageRun.stage, StageRun.engine).where(StageRun.post_id == story)
            ).all()
        )
        assert engines == {Stage.LLM: "extractive", Stage.TTS: "espeak-ng", Stage.RENDER: "libx264"}

    # The whole sweep again (a rerun of the same DAG run): nothing new is written.
    files = sorted(p for p in settings.media_root.rglob("*") if p.is_file())
    mtimes = [p.stat().st_mtime_ns for p in files]
    assert write_scripts(claimed, _attempt("write_scripts"), settings) == {}
    assert finish(claimed, scripts, voices, videos, settings, FINISH) == {
        "rendered": [],
        "failed": [],
        "awaiting_review": [],
    }
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    assert sorted(p for p in settings.media_root.rglob("*") if p.is_file()) == files
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Content)) == 2
        assert session.scalar(select(func.count()).select_from(StageRun)) == 7


def _claim(sessions: sessionmaker[Session], n: int) -> list[int]:
    with sessions() as session:
        add_posts(session, n, status=S.APPROVED)
        return list(claim_approved(session, n, RUN_ID))


def _runs(sessions: sessionmaker[Session], post_id: int) -> list[tuple[int, StageOutcome, str]]:
    with sessions() as session:
        return [
            (r.attempt, r.outcome, r.error or "")
            for r in session.scalars(
                select(StageRun).where(StageRun.post_id == post_id).order_by(StageRun.attempt)
            )
        ]


def _status(sessions: sessionmaker[Session], post_id: int) -> tuple[PostStatus, str | None]:
    with sessions() as session:
        post = session.get(Post, post_id)
        return post.status, post.last_error


def test_a_transient_failure_retries_only_that_post_and_fails_it_on_the_last_try(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    ok, flaky = _claim(sessions, 2)
    calls: list[int] = []

    @contextlib.contextmanager
    def worker():
        def work(post_id: int) -> str:
            calls.append(post_id)
            if post_id == flaky:
                raise ConnectionResetError("connection reset by peer mid-upload")
            (tmp_path / f"{post_id}.out").write_text("done")
            return "fake-engine"

        yield work

    def attempt(n: int) -> TaskAttempt:
        return _attempt("speak", n, final=n == 3)

    output = lambda pid: tmp_path / f"{pid}.out"  # noqa: E731
    with pytest.raises(StageRetry, match=rf"1 of 2 posts will be retried: post {flaky}: Conn"):
        run_stage(Stage.TTS, [ok, flaky], output, worker, attempt(1), settings)
    assert _status(sessions, flaky) == (S.PROCESSING, None)  # kept for the retry
    with pytest.raises(StageRetry):
        run_stage(Stage.TTS, [ok, flaky], output, worker, attempt(2), settings)
    assert calls == [ok, flaky, flaky]  # the retry did not redo the finished post
    assert run_stage(Stage.TTS, [ok, flaky], output, worker, attempt(3), settings) == {
        ok: str(tmp_path / f"{ok}.out")
    }
    status, error = _status(sessions, flaky)
    assert status is S.FAILED
    assert error == "tts (attempt 3): ConnectionResetError: connection reset by peer mid-upload"
    assert [outcome for _, outcome, _ in _runs(sessions, flaky)] == [StageOutcome.FAILED] * 3
    assert _runs(sessions, ok) == [(1, StageOutcome.SUCCEEDED, "")]


def test_an_engine_that_cannot_start_fails_each_post_with_the_cause(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    a, b = _claim(sessions, 2)

    @contextlib.contextmanager
    def worker():
        raise FileNotFoundError("model folder /models/missing does not exist")
        yield  # pragma: no cover

    output = lambda pid: tmp_path / f"{pid}.out"  # noqa: E731
    with pytest.raises(StageRetry, match="2 of 2"):
        run_stage(Stage.LLM, [a, b], output, worker, _attempt("llm", final=False), settings)
    assert run_stage(Stage.LLM, [a, b], output, worker, _attempt("llm", 2), settings) == {}
    for pid in (a, b):
        status, error = _status(sessions, pid)
        assert status is S.FAILED
        assert error == (
            "llm (attempt 2): FileNotFoundError: model folder /models/missing does not exist"
        )


def test_a_retry_after_a_killed_try_closes_its_attempt_as_abandoned(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    [pid] = _claim(sessions, 1)
    with sessions() as session:  # try 1 started the post, then its process was killed
        stage_started(session, pid, Stage.RENDER, _attempt("render", 1))

    @contextlib.contextmanager
    def worker():
        yield lambda post_id: (tmp_path / "v.mp4").write_text("v") and "libx264"

    attempt = _attempt("render", 2)
    run_stage(Stage.RENDER, [pid], lambda _: tmp_path / "v.mp4", worker, attempt, settings)
    runs = _runs(sessions, pid)
    assert runs[0][:2] == (1, StageOutcome.FAILED)
    assert runs[0][2].startswith("abandoned")
    assert runs[1] == (2, StageOutcome.SUCCEEDED, "")


def test_finish_fails_posts_a_stage_task_dropped(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    a, b = _claim(sessions, 2)
    scripts = {a: "/x/script.json", b: "/y/script.json"}
    # speak gave up on its last try (it was killed), so it handed nothing on.
    assert finish([a, b], scripts, None, None, settings, FINISH) == {
        "rendered": [],
        "failed": [a, b],
        "awaiting_review": [],
    }
    status, error = _status(sessions, a)
    assert status is S.FAILED
    assert error.startswith("tts: the stage task ended without finishing this post")


def test_the_transformers_engine_without_its_model_fails_posts_with_the_fix(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    [pid] = _claim(sessions, 1)
    missing = settings.model_copy(
        update={"llm_engine": "transformers", "llm_model": str(tmp_path / "no-model")}
    )
    assert write_scripts([pid], _attempt("write_scripts", 3), missing) == {}
    status, error = _status(sessions, pid)
    assert status is S.FAILED
    assert error.startswith("llm (attempt 1): LlmUnavailable:")
    assert "WAGGLE_LLM_MODEL" in error


def test_with_script_review_the_sweep_stops_for_a_person_and_voices_their_edit(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    from wagglebot.review.decisions import approve_script

    reviewing = settings.model_copy(update={"script_review": True})
    with sessions() as session:
        [pid] = add_posts(
            session, title="퇴근길 고양이 입양 후기", content=STORY, status=S.APPROVED
        )
    claimed = claim_batch(reviewing, batch=5, attempt=CLAIM)
    assert write_scripts(claimed, _attempt("write_scripts"), reviewing) == {}
    assert finish(claimed, {}, {}, {}, reviewing, FINISH) == {
        "rendered": [],
        "failed": [],
        "awaiting_review": [pid],
    }
    with sessions() as session:
        assert session.get(Post, pid).status is S.SCRIPTED
        written = session.get(Content, pid)
        assert "고양이" in written.summary_text
        assert (written.script_engine, written.script_reviewed_by) == ("extractive", None)

    edited = (
        "고양이가 집까지 따라왔고, 결국 가족이 되었습니다. 이름은 참치라고 지어 줬어요. "
        "아침마다 문 앞에서 기다리는 모습이 너무 귀엽대요. 여러분도 이런 인연 있으신가요?"
    )
    with sessions() as session:
        approve_script(session, pid, edited, by="alice")
    # The next sweep takes the post again and voices exactly the approved text, no LLM.
    claimed = claim_batch(reviewing, batch=5, attempt=CLAIM)
    assert claimed == [pid]
    scripts = write_scripts(claimed, _attempt("write_scripts"), reviewing)
    assert json.loads(media_path(reviewing, scripts[pid]).read_text())["text"] == edited
    voices = speak(scripts, _attempt("speak"), reviewing)
    cues = json.loads(media_path(reviewing, voices[pid]).read_text())["cues"]
    assert " ".join(c["text"] for c in cues).replace(" ", "") == edited.replace(" ", "")
    videos = render(voices, {}, _attempt("render"), reviewing)
    assert finish(claimed, scripts, voices, videos, reviewing, FINISH)["rendered"] == [pid]
    with sessions() as session:
        llm_runs = session.scalar(
            select(func.count()).where(StageRun.post_id == pid, StageRun.stage == Stage.LLM)
        )
        assert llm_runs == 1  # written once, before the review
        content = session.get(Content, pid)
        assert (content.summary_text, content.script_edited) == (edited, True)
        assert content.script_reviewed_by == "alice"


def test_a_sweep_leaves_alone_the_posts_another_sweep_holds_now(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """Two sweeps at once: sweep A holds a post for script review; a person approves the
    script and sweep B claims the post while A is still running. A's stages and finish
    must not touch it (A once failed B's posts as "dropped by a stage task")."""
    from wagglebot.review.decisions import approve_script

    reviewing = settings.model_copy(update={"script_review": True})
    with sessions() as session:
        [pid] = add_posts(
            session, title="퇴근길 고양이 입양 후기", content=STORY, status=S.APPROVED
        )
    a = lambda task: _attempt(task, run_id="manual__a")  # noqa: E731
    b = lambda task: _attempt(task, run_id="manual__b")  # noqa: E731
    claimed_a = claim_batch(reviewing, batch=5, attempt=a("claim"))
    assert write_scripts(claimed_a, a("write_scripts"), reviewing) == {}
    with sessions() as session:
        assert session.get(Post, pid).claimed_by is None  # SCRIPTED: nobody holds it
        approve_script(session, pid, session.get(Content, pid).summary_text, by="alice")
    assert claim_batch(reviewing, batch=5, attempt=b("claim")) == [pid]
    with sessions() as session:
        assert session.get(Post, pid).claimed_by == "manual__b"
    # Sweep A goes on with what it claimed: nothing of it is still its own.
    assert write_scripts(claimed_a, a("write_scripts"), reviewing) == {}
    assert finish(claimed_a, {}, {}, {}, reviewing, a("finish")) == {
        "rendered": [],
        "failed": [],
        "awaiting_review": [],
    }
    assert _status(sessions, pid) == (S.PROCESSING, None)
    scripts = write_scripts([pid], b("write_scripts"), reviewing)
    voices = speak(scripts, b("speak"), reviewing)
    videos = render(voices, {}, b("render"), reviewing)
    assert finish([pid], scripts, voices, videos, reviewing, b("finish"))["rendered"] == [pid]
    with sessions() as session:
        post = session.get(Post, pid)
        assert (post.status, post.claimed_by) == (S.RENDERED, None)
