"""The sweep's tasks that make things: the script (LLM), the voice (TTS), the pictures and
the video (render), each over the whole batch, writing each post's files.

Script review (WAGGLE_SCRIPT_REVIEW, on by default): a new script stops its post
at SCRIPTED for a person to read and edit; once they approve it the post is
queued again and the next sweep voices and renders the approved text.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Content, Post
from wagglebot.core.db.queries import best_comments
from wagglebot.core.post_files import (
    PICTURES,
    SCRIPT,
    THUMBNAIL,
    VIDEO,
    VOICE,
    VOICE_AUDIO,
    media_path,
    media_ref,
    music_folder,
    post_file,
    read_json,
    write_json,
)
from wagglebot.core.stage_runs import TaskAttempt
from wagglebot.core.states import IllegalTransition
from wagglebot.core.statuses import Stage
from wagglebot.produce.batch import hold_for_review
from wagglebot.produce.runner import Outputs, Worker, in_status, run_stage
from wagglebot.produce.stages.script import (
    MAX_SECONDS,
    InvalidScript,
    PostText,
    Script,
    extractive_script,
    too_thin,
)
from wagglebot.produce.stages.tts import Cue

if TYPE_CHECKING:
    from wagglebot.produce.stages.cards import TitleCard

log = logging.getLogger(__name__)

BEST_COMMENTS = 3


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
    from wagglebot.produce.stages.llm import load_model, write_script

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
            Content.post_id.in_(in_status(session, post_ids, owner=owner)),
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
    """LLM stage: SCRIPT (text, raw output, engine) per post.

    A post whose script a person already approved gets that script, no generation.
    With ``review`` (default: WAGGLE_SCRIPT_REVIEW) a newly written script is kept
    for a person and its post moves to SCRIPTED, leaving this sweep; only posts with
    an approved script go on to be voiced.
    """
    settings = settings or get_settings()
    review = settings.script_review if review is None else review
    output = lambda pid: post_file(settings, pid, SCRIPT)  # noqa: E731
    with settings_session(settings) as session:
        reviewed = _reviewed_scripts(session, post_ids, attempt.run_id)
    results: Outputs = {}
    for post_id, script in reviewed.items():
        write_json(output(post_id), script)
        results[post_id] = media_ref(settings, output(post_id))

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
    for post_id, path in written.items():
        thin = too_thin(read_json(settings, path)["text"])
        if thin:
            log.warning("post %d: %s; held for a person to decide", post_id, thin)
        if review or thin:
            held[post_id] = path
    if not held:
        return results | written
    with settings_session(settings) as session:
        for post_id, path in held.items():
            script = read_json(settings, path)
            try:
                hold_for_review(session, post_id, **script)
            except IllegalTransition as exc:  # someone moved it meanwhile: theirs stands
                session.rollback()
                log.warning("post %d not held for review: %s", post_id, exc)
    log.info("scripts waiting for a person's review: posts %s", sorted(held))
    return results | {k: v for k, v in written.items() if k not in held}


def speak(
    scripts: Outputs, attempt: TaskAttempt = TaskAttempt(), settings: Settings | None = None
) -> Outputs:
    """TTS stage: VOICE_AUDIO and VOICE (audio path, duration, cues, engine) per post."""
    settings = settings or get_settings()
    output = lambda pid: post_file(settings, pid, VOICE)  # noqa: E731

    @contextlib.contextmanager
    def worker() -> Iterator[Worker]:
        if settings.tts_engine == "edge":
            from wagglebot.produce.stages.tts_edge import edge_speech

            say = lambda text, wav: edge_speech(text, wav, voice=settings.tts_voice)  # noqa: E731
        else:
            from wagglebot.produce.stages.tts import espeak_speech as say

        def work(post_id: int) -> str:
            text = read_json(settings, scripts[post_id])["text"]
            speech = say(text, post_file(settings, post_id, VOICE_AUDIO))
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

    return run_stage(Stage.TTS, list(scripts), output, worker, attempt, settings)


def gather_pictures(post_ids: list[int], settings: Settings | None = None) -> dict[int, list[str]]:
    """The posts' pictures and clips of their videos on disk (not a GPU stage: it runs
    beside the LLM)."""
    from wagglebot.produce.stages.pictures import fetch_pictures

    settings = settings or get_settings()
    with settings_session(settings) as session:
        rows = session.execute(
            select(Post.id, Post.url, Post.images, Post.videos).where(Post.id.in_(post_ids))
        ).all()
    found: dict[int, list[str]] = {}
    for post_id, url, images, videos in rows:
        folder = post_file(settings, post_id, PICTURES)
        kept = fetch_pictures(
            images or [],
            folder,
            videos=videos or [],
            referer=url,
            user_agent=settings.user_agent,
            # The bundled sample site serves its own pictures; a demo reaches nothing else.
            loopback_only=settings.crawl_target == "sample",
        )
        log.info(
            "post %d: %d usable of %d pictures and %d videos",
            post_id,
            len(kept),
            len(images or []),
            len(videos or []),
        )
        found[post_id] = [media_ref(settings, p) for p in kept]
    return found


def post_cards(session: Session, post_ids: list[int]) -> dict[int, tuple[TitleCard, list]]:
    """What each post's cards say: its title card, and its best comments as the script
    reads them (softened, nicknames removed), their authors never named."""
    from wagglebot.crawl.sites import all_sites
    from wagglebot.produce.stages.cards import CommentCard, TitleCard
    from wagglebot.produce.stages.script import anonymise, soften

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
    pictures: dict[int, list[str]] | None,
    attempt: TaskAttempt = TaskAttempt(),
    settings: Settings | None = None,
) -> Outputs:
    """Render stage: VIDEO and its THUMBNAIL per post."""
    from wagglebot.produce.stages.music import music_file
    from wagglebot.produce.stages.render import render_short

    settings = settings or get_settings()
    output = lambda pid: post_file(settings, pid, VIDEO)  # noqa: E731

    @contextlib.contextmanager
    def worker() -> Iterator[Worker]:
        with settings_session(settings) as session:
            cards = post_cards(session, list(voices))
        music = music_file(settings.background_music, music_folder(settings))

        def work(post_id: int) -> str:
            voice = read_json(settings, voices[post_id])
            title, comments = cards.get(post_id, (None, []))
            done = render_short(
                media_path(settings, voice["audio"]),
                voice["duration"],
                [Cue.from_dict(c) for c in voice["cues"]],
                [media_path(settings, p) for p in (pictures or {}).get(post_id, [])],
                output(post_id),
                thumbnail=post_file(settings, post_id, THUMBNAIL),
                music=music,
                title=title,
                comments=comments,
                encoder_preference=settings.video_encoder,
                loop=settings.render_loop,
            )
            return done.encoder.name

        yield work

    return run_stage(Stage.RENDER, list(voices), output, worker, attempt, settings)
