"""Publishing in the database: requests, claims, the upload journal, and how an upload ends.

A post is published at most once per platform: it has one ``uploads`` row per platform,
and each row moves through its own states (core.states: waiting -> uploading ->
published or failed) by guarded UPDATEs whose row count says who won. The post's status
follows from its platforms' (RENDERED -> PUBLISHING -> UPLOADED, or FAILED once every
platform asked for has failed), so a failure on one platform leaves the others alone.
The upload's session is written before the first byte, and the platform's id goes to
``contents.upload_meta`` with the move to published, in one transaction. An upload left
"uploading" by a run that died (its heartbeat, moved by every chunk, has gone stale) is
taken over by the next run of that platform, which resumes the same session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Content, Post, StageRun, Upload
from wagglebot.core.db.queries import TakenBy, story_taken_by
from wagglebot.core.post_files import VOICE, media_path, post_file, read_json
from wagglebot.core.stage_runs import TaskAttempt, stage_failed, stage_started, stage_succeeded
from wagglebot.core.states import (
    PostNotFound,
    TransitionError,
    lock_post,
    move_upload,
    settle_publishing,
)
from wagglebot.core.statuses import PostStatus, Stage, UploadState
from wagglebot.crawl.sites import all_sites
from wagglebot.publish import Published, PublishRejected
from wagglebot.publish.metadata import (
    InvalidMetadata,
    ShortMetadata,
    check_description,
    check_release,
    check_title,
    clean_tags,
    clean_title,
    credit_line,
    describe,
)
from wagglebot.publish.platform_rules import AS_RENDERED
from wagglebot.publish.quota import count_upload
from wagglebot.publish.video_check import BrokenShort, check_short

log = logging.getLogger(__name__)
S = PostStatus
U = UploadState
Outcome = tuple[list[int], list[TransitionError]]
# A post whose Short is made: it may be asked for on any platform it is not on yet.
MADE = (S.RENDERED, S.PUBLISHING, S.UPLOADED)


class NotPublishable(TransitionError):
    def __init__(self, post_id: int, status: PostStatus) -> None:
        super().__init__(f"post {post_id} is {status}: only a rendered Short can be published")
        self.post_id, self.current = post_id, status


class StoryPublished(TransitionError):
    """Another member of the post's story is published: one story, one Short."""

    def __init__(self, post_id: int, taken: TakenBy) -> None:
        super().__init__(f"post {post_id} is not published: {taken.reason()}")
        self.post_id, self.taken = post_id, taken


class AlreadyThere(TransitionError):
    """The post is already on this platform, or on its way there."""

    def __init__(self, post_id: int, platform: str, state: UploadState) -> None:
        where = "already published" if state is U.PUBLISHED else "being published now"
        super().__init__(f"post {post_id} is {where} on {platform}")
        self.post_id, self.platform = post_id, platform


def request_publish(
    session: Session,
    post_ids: Iterable[int],
    *,
    by: str | None,
    platforms: Sequence[str] = ("youtube",),
    title: str | None = None,
    description: str | None = None,
    privacy: str | None = None,
    publish_at: datetime | None = None,
) -> Outcome:
    """Mark made posts to be published on ``platforms`` (with a person's title, description
    and privacy, checked here; None keeps what is made from the post). A platform the
    post is already on, or failed on, is asked again only in the second case. Returns the
    posts asked for on at least one platform, and the refusals."""
    if title is not None:
        title = check_title(title)
    if description is not None:
        description = check_description(description)
    if privacy is not None or publish_at is not None:
        check_release(privacy or "private", publish_at, datetime.now(UTC))
    release = publish_at.astimezone(UTC).replace(tzinfo=None) if publish_at else None
    edits = {"title": title, "description": description, "privacy": privacy, "publish_at": release}
    moved: list[int] = []
    refused: list[TransitionError] = []
    for post_id in post_ids:
        status = session.scalar(select(Post.status).where(Post.id == post_id))
        if status is None:
            refused.append(PostNotFound(post_id))
            continue
        if status not in MADE:
            refused.append(NotPublishable(post_id, status))
            continue
        if taken := story_taken_by(session, post_id, published_only=True):
            refused.append(StoryPublished(post_id, taken))
            continue
        asked = False
        for platform in platforms:
            state = session.scalar(select(Upload.state).where(
                Upload.post_id == post_id, Upload.platform == platform
            ))  # fmt: skip
            if state in (U.UPLOADING, U.PUBLISHED):
                refused.append(AlreadyThere(post_id, platform, state))
                continue
            values: dict[str, object] = {
                "requested_by": by, "requested_at": func.now(6), "note": None, "state": U.WAITING
            }  # fmt: skip
            values |= {k: v for k, v in edits.items() if v is not None}  # None: keep it
            stmt = insert(Upload).values(post_id=post_id, platform=platform, **values)
            session.execute(stmt.on_duplicate_key_update(values))
            asked = True
        if asked:
            moved.append(post_id)
    session.commit()
    return moved, refused


def waiting_to_publish(
    session: Session, post_ids: list[int], platform: str = "youtube"
) -> list[int]:
    """Which of these posts are asked for on ``platform`` and wait for a run."""
    return list(
        session.scalars(
            select(Upload.post_id)
            .join(Post, Post.id == Upload.post_id)
            .where(
                Upload.post_id.in_(post_ids),
                Upload.platform == platform,
                Upload.requested_at.is_not(None),
                Upload.state == U.WAITING,
                Post.status.in_(MADE),
            )
        )
    )


def claim_for_publish(
    session: Session,
    stale_after: timedelta,
    *,
    post_ids: list[int] | None = None,
    platform: str = "youtube",
    limit: int = 50,
) -> list[int]:
    """Take this run's posts for ``platform``: first those a dead run left mid-upload (to
    resume), then the waiting ones, oldest request first. Each is taken by exactly one
    run: candidates are read plainly, then each is taken by a guarded UPDATE whose row
    count says who won (SKIP LOCKED over a join could let two runs each skip what the
    other had half-locked, and leave a post to nobody)."""
    cutoff = session.scalar(select(func.now(6))) - stale_after
    mine = Upload.platform == platform
    chosen = [Upload.post_id.in_(post_ids)] if post_ids else []
    stale = or_(Upload.heartbeat_at.is_(None), Upload.heartbeat_at < cutoff)
    orphans = session.scalars(
        select(Upload.post_id)
        .where(mine, Upload.state == U.UPLOADING, stale, *chosen)
        .order_by(Upload.requested_at, Upload.post_id)
    ).all()
    session.commit()
    taken: list[int] = []
    for post_id in orphans:  # the heartbeat moves now: the next run to look sees it live
        beat = update(Upload).where(Upload.post_id == post_id, mine, Upload.state == U.UPLOADING,
                                    stale)  # fmt: skip
        if session.execute(beat.values(heartbeat_at=func.now(6))).rowcount == 1:
            taken.append(post_id)
        session.commit()
    waiting = session.scalars(
        select(Upload.post_id)
        .join(Post, Post.id == Upload.post_id)
        .where(
            mine,
            Upload.requested_at.is_not(None),
            Upload.state == U.WAITING,
            Post.status.in_(MADE),
            *chosen,
        )
        .order_by(Upload.requested_at, Upload.post_id)
        .limit(max(limit - len(taken), 0))
    ).all()
    session.commit()
    for post_id in waiting:
        # The story's row stays locked until this claim commits: of two members of one
        # story, claimed at once, the second sees the first one PUBLISHING.
        if published := story_taken_by(session, post_id, published_only=True, lock=True):
            _refuse_published(session, post_id, platform, published)
            continue
        if lock_post(session, post_id) not in MADE or not move_upload(
            session, post_id, platform, U.UPLOADING, heartbeat_at=func.now(6)
        ):
            session.rollback()  # another run took it first, or a person moved the post
            continue
        settle_publishing(session, post_id)
        session.commit()
        taken.append(post_id)
    return taken


def _refuse_published(session: Session, post_id: int, platform: str, taken: TakenBy) -> None:
    """Withdraw the request, with the reason where a person looks (the Gallery's note)."""
    reason = StoryPublished(post_id, taken)
    session.execute(
        update(Upload)
        .where(Upload.post_id == post_id, Upload.platform == platform)
        .values(requested_at=None, note=str(reason))
    )
    session.commit()
    log.warning("%s", reason)


def note_off(session: Session, platform: str, reason: str, post_ids: list[int] | None) -> None:
    """Say on each waiting request why this platform published nothing (no credentials):
    the Gallery shows it; the request stays for the run after the platform is on."""
    chosen = [Upload.post_id.in_(post_ids)] if post_ids else []
    session.execute(
        update(Upload)
        .where(
            Upload.platform == platform,
            Upload.state == U.WAITING,
            Upload.requested_at.is_not(None),
            *chosen,
        )
        .values(note=reason[:10_000])
    )
    session.commit()


class DbJournal:
    """The upload journal of one post, in its uploads row; each write is its own commit.
    A session YouTube accepted is counted against today's quota with its URI, together."""

    def __init__(self, settings: Settings, post_id: int, platform: str = "youtube") -> None:
        self.settings, self.post_id, self.platform = settings, post_id, platform
        with settings_session(settings) as session:
            self.session_uri = session.scalar(self._row(select(Upload.session_uri)))

    def _row(self, stmt):  # a select or an update, narrowed to this row
        return stmt.where(Upload.post_id == self.post_id, Upload.platform == self.platform)

    def _set(self, **values: object) -> None:
        with settings_session(self.settings) as session:
            session.execute(self._row(update(Upload)).values(heartbeat_at=func.now(6), **values))
            session.commit()

    def started(self, session_uri: str, total_bytes: int) -> None:
        self.session_uri = session_uri
        with settings_session(self.settings) as session:
            count_upload(session, self.settings, self.platform)
            session.execute(self._row(update(Upload)).values(
                heartbeat_at=func.now(6), session_uri=session_uri, total_bytes=total_bytes,
                bytes_sent=0,
            ))  # fmt: skip
            session.commit()

    def progressed(self, bytes_sent: int) -> None:
        self._set(bytes_sent=bytes_sent)

    def gone(self) -> None:
        self.session_uri = None
        self._set(session_uri=None, bytes_sent=0)


def short_metadata(
    session: Session,
    settings: Settings,
    post_id: int,
    privacy: str | None = None,
    platform: str = "youtube",
) -> ShortMetadata:
    """What to publish the Short with on ``platform``: a person's choices, else made from
    the post."""
    post, content, upload = session.execute(
        select(Post, Content, Upload)
        .join(Content, Content.post_id == Post.id)
        .join(Upload, (Upload.post_id == Post.id) & (Upload.platform == platform))
        .where(Post.id == post_id)
    ).one()
    site = all_sites().get(post.site_code)
    site_name = site.name if site else post.site_code
    chosen = upload.privacy or privacy or settings.youtube_privacy
    publish_at = upload.publish_at.replace(tzinfo=UTC) if upload.publish_at else None  # UTC
    if publish_at and publish_at <= datetime.now(UTC):
        publish_at = None  # the release time passed while it waited: publish as chosen
    try:
        check_release(chosen, publish_at, datetime.now(UTC))
        metadata = ShortMetadata(
            title=check_title(upload.title) if upload.title else clean_title(post.title),
            description=check_description(
                upload.description
                if upload.description
                else describe(content.summary_text or "", site_name, post.url)
            ),
            tags=clean_tags([*settings.youtube_tags, site_name]),
            category_id=settings.youtube_category,
            privacy=chosen,  # type: ignore[arg-type]
            publish_at=publish_at,
            credit=credit_line(site_name, post.url),
        )
    except InvalidMetadata as exc:
        raise PublishRejected(f"the metadata would be refused: {exc}", "invalidMetadata") from None
    return metadata


def rendered_short(session: Session, settings: Settings, post_id: int) -> Path:
    """The post's rendered Short, checked whole (BrokenShort says what is wrong)."""
    ref = session.scalar(select(Content.video_path).where(Content.post_id == post_id))
    if not ref:
        raise BrokenShort("the post has no rendered video")
    video = media_path(settings, ref)
    try:
        voice = read_json(settings, post_file(settings, post_id, VOICE))
        seconds = float(voice["duration"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BrokenShort(
            f"its voice record cannot be read ({type(exc).__name__}: {exc}): the video's "
            "length cannot be checked"
        ) from None
    check_short(video, seconds)
    return video


def fail_broken(
    session: Session, post_id: int, error: str, attempt: TaskAttempt, platform: str = "youtube"
) -> None:
    """The Short is not whole: this platform's upload fails as a render that went wrong
    (a retry of the post renders it again), nothing counted, no session opened."""
    run_id = stage_started(session, post_id, Stage.RENDER, attempt)
    fail_upload(session, post_id, f"not published: {error}", run_id, platform)


def finish_upload(
    session: Session,
    post_id: int,
    published: Published,
    stage_run_id: int,
    sent: str = AS_RENDERED,
) -> None:
    """Record where the video lives on its platform (and ``sent``: whether the platform
    got the rendered file or a copy mended for its rules) and settle the post, together."""
    lock_post(session, post_id)
    now = session.scalar(select(func.now(6)))
    meta = {
        "id": published.video_id,
        "url": published.url,
        "privacy": published.privacy,
        "uploaded_at": now.isoformat(timespec="seconds") + "Z",
        "video": sent,
    }
    old = session.scalar(select(Content.upload_meta).where(Content.post_id == post_id)) or {}
    session.execute(
        update(Content)
        .where(Content.post_id == post_id)
        .values(upload_meta={**old, published.platform: meta})
    )
    if not move_upload(session, post_id, published.platform, U.PUBLISHED,
                       video_id=published.video_id, video_url=published.url, uploaded_at=now,
                       heartbeat_at=None, note=None):  # fmt: skip
        session.rollback()
        raise TransitionError(f"post {post_id}: its {published.platform} upload was not ours")
    settle_publishing(session, post_id)
    session.commit()
    stage_succeeded(session, stage_run_id, engine=published.platform)


def give_back(
    session: Session,
    post_id: int,
    note: str,
    platform: str = "youtube",
    *,
    keep_claim: bool = False,
) -> None:
    """The upload waits (quota, a stop): back to waiting, its session kept for the next
    run. ``keep_claim``: stay uploading, free for the next try of this task to resume at
    once."""
    values = {"heartbeat_at": None, "note": note[:10_000]}
    if keep_claim:
        session.execute(
            update(Upload)
            .where(Upload.post_id == post_id, Upload.platform == platform)
            .values(**values)
        )
    else:
        lock_post(session, post_id)
        move_upload(session, post_id, platform, U.WAITING, **values)
        settle_publishing(session, post_id)
    session.commit()


def fail_upload(
    session: Session, post_id: int, error: str, stage_run_id: int, platform: str = "youtube"
) -> None:
    """The platform refused for good: this platform's upload is failed with the reason,
    and the post is FAILED only when no other platform published it, uploads it or waits
    for it; a retry (review.retry, or asking for the platform again) makes it wait
    again. Its upload session, if any, is kept: the next run asks it first."""
    stage_failed(session, stage_run_id, error, final=False)  # the attempt ends; not the post
    run = session.get(StageRun, stage_run_id)
    why = f"{run.stage.value} (attempt {run.attempt}): {run.error}" if run else error
    lock_post(session, post_id)
    move_upload(session, post_id, platform, U.FAILED, heartbeat_at=None, note=error[:10_000])
    settle_publishing(session, post_id, error=why)
    session.commit()
