"""The channel's own history, read from the database: each published Short with what it
was made from and how it did. The expected-views model, the publishing hours and the
dashboard's Analytics page all read it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from wagglebot.core.db.models import Content, Post, Story, Upload, VideoStat

UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class PublishedShort:
    post_id: int
    video_id: str
    title: str
    site_code: str
    site_score: float | None
    story_sites: int
    text_chars: int
    pictures: int
    has_video: bool
    uploaded_at: datetime  # naive UTC
    views_24h: int | None  # views 24 h after it went up; None until then
    views: int | None  # the latest running total
    likes: int | None
    comments: int | None
    engaged_views: int | None  # summed over the Analytics days read so far
    retention: float | None  # average view percentage, weighted by each day's views
    video_seconds: float | None

    def local(self, timezone: str) -> datetime:
        return self.uploaded_at.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))


# What the expected-views model knows of a post (analytics.expected.ShortFeatures).
FEATURE_COLUMNS = (
    Post.site_code,
    Post.score,
    func.coalesce(Story.sites, 1).label("story_sites"),
    (func.char_length(Post.title) + func.char_length(Post.content)).label("chars"),
    Post.image_count,
    (func.json_length(Post.videos) > 0).label("has_video"),
)


def published_shorts(session: Session, post_ids: list[int] | None = None) -> list[PublishedShort]:
    """Every Short on YouTube (or these posts'), newest first, with its latest figures."""
    latest = (
        select(VideoStat.post_id, func.max(VideoStat.measured_at).label("at"))
        .where(VideoStat.source == "totals")
        .group_by(VideoStat.post_id)
        .subquery()
    )
    totals = aliased(VideoStat)
    days = (
        select(
            VideoStat.post_id,
            func.sum(VideoStat.engaged_views).label("engaged"),
            (
                func.sum(VideoStat.average_view_percentage * VideoStat.views)
                / func.nullif(func.sum(VideoStat.views), 0)
            ).label("retention"),
        )
        .where(VideoStat.source == "day")
        .group_by(VideoStat.post_id)
        .subquery()
    )
    stmt = (
        select(
            Post.id,
            Upload.video_id,
            Post.title,
            *FEATURE_COLUMNS,
            Upload.uploaded_at,
            Upload.views_24h,
            totals.views,
            totals.likes,
            totals.comments,
            days.c.engaged,
            days.c.retention,
            Content.video_seconds,
        )
        .join(Upload, (Upload.post_id == Post.id) & (Upload.platform == "youtube"))
        .outerjoin(Story, Story.id == Post.story_id)
        .outerjoin(Content, Content.post_id == Post.id)
        .outerjoin(latest, latest.c.post_id == Post.id)
        .outerjoin(
            totals,
            (totals.post_id == Post.id)
            & (totals.source == "totals")
            & (totals.measured_at == latest.c.at),
        )
        .outerjoin(days, days.c.post_id == Post.id)
        .where(Upload.video_id.is_not(None), Upload.uploaded_at.is_not(None))
        .order_by(Upload.uploaded_at.desc())
    )
    if post_ids is not None:
        stmt = stmt.where(Post.id.in_(post_ids))
    return [_short(r) for r in session.execute(stmt)]


def _short(r) -> PublishedShort:
    return PublishedShort(
        post_id=r.id,
        video_id=r.video_id,
        title=r.title,
        site_code=r.site_code,
        site_score=r.score,
        story_sites=int(r.story_sites),
        text_chars=int(r.chars),
        pictures=int(r.image_count or 0),
        has_video=bool(r.has_video),
        uploaded_at=r.uploaded_at,
        views_24h=r.views_24h,
        views=r.views,
        likes=r.likes,
        comments=r.comments,
        engaged_views=None if r.engaged is None else int(r.engaged),
        retention=None if r.retention is None else float(r.retention),
        video_seconds=r.video_seconds,
    )


def totals_series(session: Session) -> list[tuple[int, datetime, int]]:
    """Every totals reading: (post id, when, views), oldest first."""
    rows = session.execute(
        select(VideoStat.post_id, VideoStat.measured_at, VideoStat.views)
        .where(VideoStat.source == "totals", VideoStat.views.is_not(None))
        .order_by(VideoStat.measured_at)
    )
    return [(r.post_id, r.measured_at, int(r.views)) for r in rows]


def day_series(session: Session) -> list[tuple[int, datetime, int | None, float | None]]:
    """Every Analytics day: (post id, day, views, average view percentage)."""
    rows = session.execute(
        select(
            VideoStat.post_id,
            VideoStat.measured_at,
            VideoStat.views,
            VideoStat.average_view_percentage,
        )
        .where(VideoStat.source == "day")
        .order_by(VideoStat.measured_at)
    )
    return [(r.post_id, r.measured_at, r.views, r.average_view_percentage) for r in rows]
