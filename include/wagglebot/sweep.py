"""What each task of the produce_shorts sweep does, runnable and testable without Airflow.

A sweep claims a batch of APPROVED posts, then runs each stage over the whole
batch (so the LLM is loaded once per sweep, not once per post). Files live at
fixed paths per post under the media folder; the tasks hand each other those
paths (XCom), never file contents.

Failure handling, per post: an error that retrying cannot fix (the engine
refused the post's script, nothing to say) fails the post at once; any other
error keeps the post for a retry of the task, and fails it with its real error
only on the task's last try. A retry skips the posts this sweep already got
through the stage, so a rerun writes no second file or row.

Script review (WAGGLE_SCRIPT_REVIEW, on by default): a new script stops its post
at SCRIPTED for a person to read and edit; once they approve it the post is
queued again and the next sweep voices and renders the approved text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wagglebot.config import Settings, get_settings
from wagglebot.db import settings_session
from wagglebot.db.models import Content, Post, Stage, StageOutcome, StageRun
from wagglebot.db.queries import best_comments
from wagglebot.media import media_path, media_ref
from wagglebot.produce import (
    TaskRef,
    finish_post,
    hold_for_review,
    recover_stuck,
    stage_failed,
    stage_started,
    stage_succeeded,
)
from wagglebot.stages.script import (
    MAX_SECONDS,
    InvalidScript,
    PostText,
    Script,
    extractive_script,
    too_thin,
)
from wagglebot.stages.tts import Cue, NothingToSay
from wagglebot.states import IllegalTransition, PostStatus, claim_approved, transition

if TYPE_CHECKING:
    from wagglebot.stages.cards import TitleCard

log = logging.getLogger(__name__)

# Errors that another try of the task cannot fix: the post fails at once.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (InvalidScript, NothingToSay)
BEST_COMMENTS = 3
Outputs = dict[str, str]  # post id (XCom keys are strings) -> a file, relative to the media root


@dataclass(frozen=True)
class TaskAttempt:
    """The Airflow task try a stage runs in; ``final``: no retry will follow."""

    ref: TaskRef = field(default_factory=TaskRef)
    final: bool = True

    @classmethod
    def of(cls, ti: Any) -> TaskAttempt:
        """The attempt an Airflow task instance is running: try N of max_tries + 1."""
        ref = TaskRef(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        return cls(ref, final=ti.try_number > ti.max_tries)


class StageRetry(RuntimeError):
    """Some posts failed in a way another try may fix: Airflow retries the task."""


def post_folder(settings: Settings, post_id: int | str) -> Path:
    return settings.media_root / "posts" / str(post_id)


def write_json(path: Path, data: object) -> None:
    """Atomically: a reader sees the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".", suffix=".part", delete=False, encoding="utf-8"
    ) as tmp:
        json.dump(data, tmp, ensure_ascii=False, indent=1)
    os.chmod(tmp.name, 0o644)  # like the media files beside it (mkstemp makes 0600)
    os.replace(tmp.name, path)


def discard_leftovers(folder: Path) -> list[str]:
    """Remove what a killed attempt left half-made in a post's folder: every stage stages its
    files under a dot-name there (``.short-render-*/``, ``.tmp*.part``) and renames them
    into place only when whole. One task works on a post at a time, so any dot-name found
    before the work starts is a dead attempt's."""
    removed = []
    for entry in folder.glob(".*") if folder.is_dir() else []:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    if removed:
        log.warning("removed what a killed attempt left in %s: %s", folder, sorted(removed))
    return removed


def read_json(settings: Settings, ref: str | Path) -> Any:
    """A stage's JSON output, named as XCom names it (relative to the media folder)."""
    return json.loads(media_path(settings, ref).read_text(encoding="utf-8"))


# --- claiming ----------------------------------------------------------------------------


def claim_batch(
    settings: Settings | None = None,
    batch: int | None = None,
    attempt: TaskAttempt = TaskAttempt(),
) -> list[int]:
    """Put posts stuck by a dead sweep back (or fail them), then claim a batch for this
    sweep (the attempt's run)."""
    settings = settings or get_settings()
    with settings_session(settings) as session:
        recovered = recover_stuck(
            session,
            stale_after=timedelta(minutes=settings.sweep_stale_minutes),
            max_attempts=settings.sweep_max_attempts,
        )
        if recovered.requeued or recovered.failed:
            log.warning(
                "recovered posts left in PROCESSING: requeued %s, failed %s",
                recovered.requeued,
                recovered.failed,
            )
        claimed = list(claim_approved(session, batch or settings.sweep_batch, attempt.ref.run_id))
    log.info("claimed %d posts: %s", len(claimed), claimed)
    return claimed


# --- running one stage over the batch ----------------------------------------------------


def _succeeded_in_this_sweep(session: Session, post_id: int, stage: Stage, ref: TaskRef) -> bool:
    if ref.run_id is None:
        return False
    return (
        session.scalar(
            select(StageRun.id).where(
                StageRun.post_id == post_id,
                StageRun.stage == stage,
                StageRun.outcome == StageOutcome.SUCCEEDED,
                StageRun.dag_id == ref.dag_id,
                StageRun.run_id == ref.run_id,
            )
        )
        is not None
    )


def _in_status(
    session: Session,
    post_ids: list[int],
    status: PostStatus = PostStatus.PROCESSING,
    owner: str | None = None,
) -> list[int]:
    """Those of ``post_ids`` that are in ``status`` now, in their given order; in
    PROCESSING, held by the sweep ``owner`` (when given), not by another sweep since."""
    if not post_ids:
        return []
    query = select(Post.id).where(Post.id.in_(post_ids), Post.status == status)
    if owner is not None and status is PostStatus.PROCESSING:
        query = query.where(Post.claimed_by == owner)
    rows = session.scalars(query).all()
    found = set(rows)
    return [p for p in post_ids if p in found]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# A worker does one post's work for a stage, writing the stage's output file, and returns
# the engine that did it (recorded on the stage run).
Worker = Callable[[int], str]


def run_stage(
    stage: Stage,
    post_ids: list[int],
    output: Callable[[int], Path],
    open_worker: Callable[[], contextlib.AbstractContextManager[Worker]],
    attempt: TaskAttempt,
    settings: Settings,
) -> Outputs:
    """Run ``stage`` on every post still in production; returns post id -> output path."""
    results: Outputs = {}
    retry: list[str] = []
    with settings_session(settings) as session:
        todo = []
        for post_id in _in_status(session, post_ids, owner=attempt.ref.run_id):
            if (
                _succeeded_in_this_sweep(session, post_id, stage, attempt.ref)
                and output(post_id).exists()
            ):
                results[str(post_id)] = media_ref(settings, output(post_id))  # an earlier try
            else:
                todo.append(post_id)
        if not todo:
            return results

        def fail(post_id: int, run_id: int, exc: BaseException) -> None:
            final = attempt.final or isinstance(exc, PERMANENT_ERRORS)
            log.error("post %d: %s failed: %s", post_id, stage.value, _describe(exc), exc_info=exc)
            stage_failed(session, run_id, _describe(exc), final=final)
            if not final:
                retry.append(f"post {post_id}: {_describe(exc)}")

        handled: set[int] = set()
        try:
            with open_worker() as work:
                for post_id in todo:
                    run_id = stage_started(session, post_id, stage, attempt.ref)
                    handled.add(post_id)
                    try:
                        discard_leftovers(output(post_id).parent)
                        engine = work(post_id)
                    except Exception as exc:
                        fail(post_id, run_id, exc)
                        continue
                    stage_succeeded(session, run_id, engine=engine[:64])
                    results[str(post_id)] = media_ref(settings, output(post_id))
        except Exception as exc:  # the engine could not start: every waiting post learns why
            log.error("%s: the engine failed: %s", stage.value, _describe(exc), exc_info=exc)
            session.rollback()
            for post_id in todo:
                if post_id not in handled:
                    fail(post_id, stage_started(session, post_id, stage, attempt.ref), exc)
    if retry:
        raise StageRetry(
            f"{stage.value}: {len(retry)} of {len(todo)} posts will be retried: " + "; ".join(retry)
        )
    return results


# --- the stages --------------------------------------------------------------------------


def _post_texts(session: Session, post_ids: list[int]) -> dict[int, PostText]:
    posts = session.execute(
        select(Post.id, Post.title, Post.content).where(Post.id.in_(post_ids))
    ).all()
    comments = best_comments(session, post_ids, BEST_COMMENTS)
    return {
        pid: PostText(title, body, [(c.author, c.content) for c in comments.get(pid, [])])
        for pid, title, body in posts
    }


@contextlib.contextmanager
def script_engine(settings: Settings) -> Iterator[Callable[[PostText], Script]]:
    """The configured script engine, loaded once for the whole batch and released after."""
    if settings.llm_engine == "extractive":
        log.info("script engine: extractive (offline, no model)")
        yield extractive_script
        return
    from wagglebot.stages.llm import load_model, write_script

    loaded = load_model(settings.llm_model)
    try:
        yield lambda post: write_script(loaded, post, attempts=settings.llm_attempts)
    finally:
        loaded.close()


def _reviewed_scripts(
    session: Session, post_ids: list[int], owner: str | None
) -> dict[int, dict[str, str]]:
    """The scripts a person approved for these posts (still in this sweep), by post."""
    rows = session.execute(
        select(
            Content.post_id, Content.summary_text, Content.script_raw, Content.script_engine
        ).where(
            Content.post_id.in_(_in_status(session, post_ids, owner=owner)),
            Content.script_reviewed_at.is_not(None),
            Content.summary_text.is_not(None),
        )
    ).all()
    return {
        pid: {"text": text, "raw": raw or text, "engine": engine or "person"}
        for pid, text, raw, engine in rows
    }


def write_scripts(
    post_ids: list[int],
    attempt: TaskAttempt = TaskAttempt(),
    settings: Settings | None = None,
    review: bool | None = None,
) -> Outputs:
    """LLM stage: script.json (text, raw output, engine) per post.

    A post whose script a person already approved gets that script, no generation.
    With ``review`` (default: WAGGLE_SCRIPT_REVIEW) a newly written script is kept
    for a person and its post moves to SCRIPTED, leaving this sweep; only posts with
    an approved script go on to be voiced.
    """
    settings = settings or get_settings()
    review = settings.script_review if review is None else review
    output = lambda pid: post_folder(settings, pid) / "script.json"  # noqa: E731
    with settings_session(settings) as session:
        reviewed = _reviewed_scripts(session, post_ids, attempt.ref.run_id)
    results: Outputs = {}
    for post_id, script in reviewed.items():
        write_json(output(post_id), script)
        results[str(post_id)] = media_ref(settings, output(post_id))

    @contextlib.contextmanager
    def worker() -> Iterator[Worker]:
        with settings_session(settings) as session:
            texts = _post_texts(session, post_ids)
        with script_engine(settings) as engine:

            def work(post_id: int) -> str:
                script = engine(texts[post_id])
                write_json(output(post_id), asdict(script))
                return script.engine

            yield work

    todo = [p for p in post_ids if p not in reviewed]
    written = run_stage(Stage.LLM, todo, output, worker, attempt, settings)
    # Too thin for a Short (under 15 s of speech): a person decides, whatever the setting.
    held: Outputs = {}
    for key, path in written.items():
        thin = too_thin(read_json(settings, path)["text"])
        if thin:
            log.warning("post %s: %s; held for a person to decide", key, thin)
        if review or thin:
            held[key] = path
    if not held:
        return results | written
    with settings_session(settings) as session:
        for key, path in held.items():
            script = read_json(settings, path)
            try:
                hold_for_review(session, int(key), **script)
            except IllegalTransition as exc:  # someone moved it meanwhile: theirs stands
                session.rollback()
                log.warning("post %s not held for review: %s", key, exc)
    log.info("scripts waiting for a person's review: posts %s", sorted(map(int, held)))
    return results | {k: v for k, v in written.items() if k not in held}


def speak(
    scripts: Outputs, attempt: TaskAttempt = TaskAttempt(), settings: Settings | None = None
) -> Outputs:
    """TTS stage: voice.wav and voice.json (audio path, duration, cues, engine) per post."""
    settings = settings or get_settings()
    output = lambda pid: post_folder(settings, pid) / "voice.json"  # noqa: E731

    @contextlib.contextmanager
    def worker() -> Iterator[Worker]:
        if settings.tts_engine == "edge":
            from wagglebot.stages.tts_edge import edge_speech

            say = lambda text, wav: edge_speech(text, wav, voice=settings.tts_voice)  # noqa: E731
        else:
            from wagglebot.stages.tts import espeak_speech as say

        def work(post_id: int) -> str:
            text = read_json(settings, scripts[str(post_id)])["text"]
            speech = say(text, post_folder(settings, post_id) / "voice.wav")
            if speech.duration > MAX_SECONDS:  # the script's estimate was off: say by how much
                raise InvalidScript(
                    "length",
                    f"the voice lasts {speech.duration:.1f} s; a Short must stay under "
                    f"{MAX_SECONDS} s: shorten the script",
                )
            write_json(
                output(post_id),
                {
                    "audio": media_ref(settings, speech.audio_path),
                    "duration": speech.duration,
                    "cues": [asdict(c) for c in speech.cues],
                    "engine": speech.engine,
                },
            )
            return speech.engine

        yield work

    return run_stage(Stage.TTS, [int(p) for p in scripts], output, worker, attempt, settings)


def gather_pictures(post_ids: list[int], settings: Settings | None = None) -> dict[str, list[str]]:
    """The posts' pictures on disk (not a GPU stage: it runs beside the LLM)."""
    from wagglebot.stages.pictures import fetch_pictures

    settings = settings or get_settings()
    with settings_session(settings) as session:
        rows = session.execute(
            select(Post.id, Post.url, Post.images).where(Post.id.in_(post_ids))
        ).all()
    found = {}
    for post_id, url, images in rows:
        folder = post_folder(settings, post_id) / "pictures"
        kept = fetch_pictures(
            images or [],
            folder,
            referer=url,
            user_agent=settings.user_agent,
            # The bundled sample site serves its own pictures; a demo reaches nothing else.
            loopback_only=settings.crawl_target == "sample",
        )
        log.info("post %d: %d of %d pictures usable", post_id, len(kept), len(images or []))
        found[str(post_id)] = [media_ref(settings, p) for p in kept]
    return found


def _cards(session: Session, post_ids: list[int]) -> dict[int, tuple[TitleCard, list]]:
    """What each post's cards say: its title card, and its best comments as the script
    reads them (softened, nicknames removed), their authors never named."""
    from wagglebot.crawl.sites import all_sites
    from wagglebot.stages.cards import CommentCard, TitleCard
    from wagglebot.stages.script import anonymise, soften

    rows = session.execute(
        select(
            Post.id, Post.site_code, Post.title, Post.views, Post.likes, Post.comment_count
        ).where(Post.id.in_(post_ids))
    ).all()
    best = best_comments(session, post_ids, BEST_COMMENTS)
    sites = all_sites()
    cards = {}
    for pid, site_code, title, views, likes, count in rows:
        site = sites.get(site_code)
        names = [c.author for c in best.get(pid, []) if c.author]
        comments = [
            CommentCard(f"베스트 댓글 {n}", anonymise(soften(c.content), names), c.likes)
            for n, c in enumerate(best.get(pid, []), start=1)
        ]
        name = site.name if site else site_code
        cards[pid] = (TitleCard(name, site_code, title, views, likes, count), comments)
    return cards


def render(
    voices: Outputs,
    pictures: dict[str, list[str]] | None,
    attempt: TaskAttempt = TaskAttempt(),
    settings: Settings | None = None,
) -> Outputs:
    """Render stage: short.mp4 and its thumbnail short.jpg per post."""
    from wagglebot.stages.music import music_file
    from wagglebot.stages.render import render_short

    settings = settings or get_settings()
    output = lambda pid: post_folder(settings, pid) / "short.mp4"  # noqa: E731

    @contextlib.contextmanager
    def worker() -> Iterator[Worker]:
        with settings_session(settings) as session:
            cards = _cards(session, [int(p) for p in voices])
        music = music_file(settings.background_music, settings.media_root)

        def work(post_id: int) -> str:
            voice = read_json(settings, voices[str(post_id)])
            title, comments = cards.get(post_id, (None, []))
            done = render_short(
                media_path(settings, voice["audio"]),
                voice["duration"],
                [Cue.from_dict(c) for c in voice["cues"]],
                [media_path(settings, p) for p in (pictures or {}).get(str(post_id), [])],
                output(post_id),
                music=music,
                title=title,
                comments=comments,
                encoder_preference=settings.video_encoder,
            )
            return done.encoder.name

        yield work

    return run_stage(Stage.RENDER, [int(p) for p in voices], output, worker, attempt, settings)


# --- finishing ---------------------------------------------------------------------------


def finish(
    claimed: list[int],
    scripts: Outputs | None,
    voices: Outputs | None,
    videos: Outputs | None,
    settings: Settings | None = None,
    attempt: TaskAttempt = TaskAttempt(),
) -> dict[str, list[int]]:
    """Write each rendered post's contents row and move it to RENDERED. A claimed post
    that this sweep still holds in PROCESSING without a video was dropped by a stage
    task that ended without reporting it (killed, or timed out on its last try): it
    fails, saying so. A post another sweep holds now (its script was approved and it
    was claimed again meanwhile) is that sweep's to finish.
    """
    settings = settings or get_settings()
    scripts, voices, videos = scripts or {}, voices or {}, videos or {}
    rendered, failed = [], []
    with settings_session(settings) as session:
        awaiting_review = sorted(_in_status(session, claimed, PostStatus.SCRIPTED))
        for post_id in _in_status(session, claimed, owner=attempt.ref.run_id):
            key = str(post_id)
            try:
                if key not in videos:
                    missing = next(
                        name
                        for name, outputs in (("llm", scripts), ("tts", voices), ("render", videos))
                        if key not in outputs
                    )
                    transition(
                        session,
                        post_id,
                        PostStatus.FAILED,
                        error=(
                            f"{missing}: the stage task ended without finishing this post "
                            "(killed or timed out on its last try); see the task log"
                        ),
                    )
                    session.commit()
                    failed.append(post_id)
                    continue
                script, voice = read_json(settings, scripts[key]), read_json(settings, voices[key])
                video = media_path(settings, videos[key])
                finish_post(
                    session,
                    post_id,
                    summary_text=script["text"],
                    audio_path=voice["audio"],
                    video_path=media_ref(settings, video),
                    script_raw=script["raw"],
                    script_engine=script["engine"][:128],
                    thumbnail_path=media_ref(settings, video.with_suffix(".jpg")),
                    video_seconds=voice["duration"],
                )
                rendered.append(post_id)
            except IllegalTransition as exc:  # someone else moved it meanwhile: theirs stands
                session.rollback()
                log.warning("post %d not finished: %s", post_id, exc)
    log.info(
        "sweep finished: rendered %s, failed %s, scripts awaiting review %s",
        rendered,
        failed,
        awaiting_review,
    )
    return {"rendered": rendered, "failed": failed, "awaiting_review": awaiting_review}
