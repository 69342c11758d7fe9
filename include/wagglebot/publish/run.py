"""One publish run on one platform: take the Shorts asked for there and upload them, one
after another.

Runs outside the GPU pool (an upload is network work); publish_shorts runs one of these
per platform, side by side, and one platform's trouble never touches another's. Each
post's attempt is a stage_runs row (stage ``upload``) with the Airflow task it ran in,
like the other stages. How a platform's run, and a post's upload in it, can end:

- the platform is off (no credentials): said in the task log and on each waiting
  request, nothing claimed, never a failure;
- not a whole Short (truncated, empty, the wrong size, silent; publish.video_check):
  failed as a render gone wrong, before any quota is counted or session opened;
- uploaded: published, the platform's id and URL in contents.upload_meta;
- the day's allowance is spent (counted here, or the platform said so): the run stops,
  this upload and the rest go back to waiting with a note, for the next day's run;
- the credentials were refused: the platform is off; the run stops, and this upload
  and the rest wait with the note, their sessions kept for the run after the platform's
  auth command, which asks each session where it stands first;
- refused for good (the platform's reason, metadata it would refuse): failed with the
  reason, its session (if any) kept until the platform says it is gone;
- a network failure that outlived the retries: the upload stays claimed, free to be
  resumed by the task's next try (Airflow retries it), and failed on the last try.

The post's status follows from its platforms' (core.states.settle_publishing).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import select

from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Upload
from wagglebot.core.stage_runs import StageRetry, TaskAttempt, stage_failed, stage_started
from wagglebot.core.statuses import Stage
from wagglebot.publish import (
    CredentialsRefused,
    Publisher,
    PublishError,
    PublishingOff,
    PublishRejected,
    QuotaExhausted,
    ShortUpload,
)
from wagglebot.publish.platform_rules import AS_RENDERED, adapt_video, check_caption
from wagglebot.publish.quota import check_upload, mark_spent, today
from wagglebot.publish.store import (
    DbJournal,
    claim_for_publish,
    fail_broken,
    fail_upload,
    finish_upload,
    give_back,
    note_off,
    rendered_short,
    request_publish,
    short_metadata,
)
from wagglebot.publish.video_check import BrokenShort

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    uploaded: dict[str, str] = field(default_factory=dict)  # post id -> video URL
    platform: str = "youtube"
    waiting: list[int] = field(default_factory=list)  # back to waiting (quota, a stop)
    failed: dict[str, str] = field(default_factory=dict)  # post id -> reason
    retry: list[int] = field(default_factory=list)  # left PUBLISHING for the next try
    stopped: str | None = None  # why the run stopped early
    off: str | None = None  # why the platform published nothing (no credentials)
    adapted: dict[str, str] = field(default_factory=dict)  # post id -> the copy it got instead
    uploads_left_today: int | None = None


def make_publisher(settings: Settings, platform: str = "youtube") -> Publisher:
    """The platform's publisher from the stored credentials, or PublishingOff."""
    from wagglebot.publish.platforms import make_publisher as made

    return made(settings, platform)


def publish_posts(
    post_ids: list[int] | None = None,
    attempt: TaskAttempt | None = None,
    *,
    privacy: str | None = None,
    settings: Settings | None = None,
    publisher: Publisher | None = None,
    platform: str = "youtube",
) -> dict:
    """Publish what was asked for on ``platform`` (``post_ids``: these, asked for now if
    need be)."""
    settings = settings or get_settings()
    attempt = attempt or TaskAttempt()
    report = PublishReport(platform=publisher.platform if publisher else platform)
    try:
        publisher = publisher or make_publisher(settings, platform)
    except PublishingOff as exc:  # said where people look; nothing is claimed
        log.warning("%s", exc)
        with settings_session(settings) as session:
            note_off(session, platform, str(exc), post_ids)
        report.off = str(exc)
        return asdict(report)
    platform = publisher.platform
    with settings_session(settings) as session:
        if post_ids:  # asked for by id: asked for now, unless someone asked already
            asked = set(session.scalars(select(Upload.post_id).where(
                Upload.post_id.in_(post_ids), Upload.platform == platform,
                Upload.requested_at.is_not(None),
            )))  # fmt: skip
            fresh = [p for p in post_ids if p not in asked]
            _, refused = request_publish(session, fresh, by=None, platforms=[platform])
            for exc in refused:
                log.warning("not published: %s", exc)
        claimed = claim_for_publish(
            session,
            timedelta(seconds=settings.upload_stale_seconds),
            post_ids=post_ids or None,
            platform=platform,
        )
    log.info("publishing %d posts to %s: %s", len(claimed), platform, claimed)
    for i, post_id in enumerate(claimed):
        try:
            url, how = _publish_one(settings, publisher, post_id, attempt, privacy)
        except QuotaExhausted as exc:
            report.stopped = str(exc)
            _wait_all(settings, platform, claimed[i:], f"waits for tomorrow's quota: {exc}",
                      report)  # fmt: skip
            break
        except CredentialsRefused as exc:
            report.stopped = str(exc)
            report.waiting.append(post_id)  # given back by _publish_one, its session kept
            _wait_all(settings, platform, claimed[i + 1 :], f"not tried: {exc}", report)
            break
        except PublishRejected as exc:
            report.failed[str(post_id)] = str(exc)
        except PublishError as exc:
            if attempt.final:
                report.failed[str(post_id)] = str(exc)
            else:
                report.retry.append(post_id)
        else:
            report.uploaded[str(post_id)] = url
            if how != AS_RENDERED:
                report.adapted[str(post_id)] = how
    with settings_session(settings) as session:
        report.uploads_left_today = today(session, settings, platform).uploads_left
    log.info("publish run: %s", asdict(report))
    if report.retry:
        raise StageRetry(f"posts {report.retry}: the upload will be resumed by the next try")
    return asdict(report)


def _publish_one(
    settings: Settings,
    publisher: Publisher,
    post_id: int,
    attempt: TaskAttempt,
    privacy: str | None,
) -> tuple[str, str]:
    platform = publisher.platform
    with settings_session(settings) as session:
        try:  # before any quota is counted or session opened
            video = rendered_short(session, settings, post_id)
        except BrokenShort as exc:
            fail_broken(session, post_id, str(exc), attempt, platform)
            log.error("post %d: not published: %s", post_id, exc)
            raise
        run_id = stage_started(session, post_id, Stage.UPLOAD, attempt)
        try:
            metadata = short_metadata(session, settings, post_id, privacy, platform)
            check_caption(metadata, platform)  # its limits, before anything is sent
            sent = adapt_video(video, platform, video.parent / "platforms")
            log.info("post %d: %s", post_id, sent.how)
            journal = DbJournal(settings, post_id, platform)
            if journal.session_uri is None:  # counted once the platform accepts the session
                left = check_upload(session, settings, platform).uploads_left
                log.info("post %d: today's quota has %d uploads left", post_id, left)
        except QuotaExhausted as exc:
            _stage_note(settings, run_id, f"waiting: {exc}")
            raise
        except PublishRejected as exc:
            fail_upload(session, post_id, f"{exc}", run_id, platform)
            log.error("post %d: %s", post_id, exc)
            raise
    short = ShortUpload(post_id, sent.video, metadata)
    try:
        published = publisher.upload(short, journal)
    except QuotaExhausted as exc:
        with settings_session(settings) as session:
            mark_spent(session, str(exc), platform)
        _stage_note(settings, run_id, f"waiting: {exc}")
        raise
    except CredentialsRefused as exc:
        _stage_note(settings, run_id, str(exc))
        with settings_session(settings) as session:
            give_back(session, post_id, str(exc), platform)  # RENDERED, its session kept
        log.error("post %d: %s", post_id, exc)
        raise
    except PublishRejected as exc:
        with settings_session(settings) as session:
            fail_upload(session, post_id, str(exc), run_id, platform)
        log.error("post %d: %s", post_id, exc)
        raise
    except PublishError as exc:
        with settings_session(settings) as session:
            if attempt.final:
                fail_upload(session, post_id, str(exc), run_id, platform)
            else:
                _stage_note(settings, run_id, str(exc))
                give_back(session, post_id, f"resumes on the next try: {exc}", platform,
                          keep_claim=True)  # fmt: skip
        log.error("post %d: %s", post_id, exc)
        raise
    with settings_session(settings) as session:
        finish_upload(session, post_id, published, run_id, sent=sent.how)
    log.info("post %d: published as %s (%s)", post_id, published.url, published.privacy)
    return published.url, sent.how


def _stage_note(settings: Settings, run_id: int, note: str) -> None:
    with settings_session(settings) as session:
        stage_failed(session, run_id, note, final=False)


def _wait_all(
    settings: Settings, platform: str, post_ids: list[int], note: str, report: PublishReport
) -> None:
    with settings_session(settings) as session:
        for post_id in post_ids:
            give_back(session, post_id, note, platform)
            report.waiting.append(post_id)
