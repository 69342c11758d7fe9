"""The app database schema (MariaDB, utf8mb4). Alembic migrations are generated from and
checked against these models; nothing else creates tables.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.mysql import DATETIME, MEDIUMTEXT
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from wagglebot.core.statuses import PostStatus, Stage, StageOutcome, UploadState

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
NOW = text("CURRENT_TIMESTAMP(6)")
NOW_ON_UPDATE = text("CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")
# Long bodies (a huge post) must fit: MEDIUMTEXT holds 16 MiB.
LongText = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")
# Microsecond timestamps, so stage timings and "oldest first" orderings are exact.
Timestamp = DateTime().with_variant(DATETIME(fsp=6), "mysql", "mariadb")


def utcnow() -> datetime:
    """Now as every Timestamp column holds it: UTC, naive (the sessions' time zone is +00:00)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _created() -> Mapped[datetime]:
    return mapped_column(Timestamp, nullable=False, server_default=NOW)


def _updated() -> Mapped[datetime]:
    return mapped_column(Timestamp, nullable=False, server_default=NOW_ON_UPDATE)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # VARCHAR plus a CHECK: adding a member later is a small migration, not an ALTER of ENUM.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("site_code", "origin_id"),
        Index(None, "site_code", "status"),
        Index(None, "status", "created_at"),
        Index(None, "status", "status_changed_at"),
        Index(None, "status", "views"),
        Index(None, "status", "likes"),
        Index(None, "status", "posted_at"),
        Index(None, "status", "dated_at"),
        Index(None, "status", "score"),
        Index(None, "story_id", "status"),
        Index(None, "status", "expected_views"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    site_code: Mapped[str] = mapped_column(String(32), nullable=False)
    origin_id: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(String(1024), nullable=False)
    title: Mapped[str] = mapped_column(String(512), nullable=False)
    content: Mapped[str] = mapped_column(LongText, nullable=False)
    images: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # The post's videos: {"kind": "file" | "player" | "youtube", "url", "poster"}
    # (crawl.extract.post_videos).
    videos: Mapped[list[dict]] = mapped_column(
        JSON, nullable=False, default=list, server_default=text("'[]'")
    )
    # Counts the page does not show stay NULL, never 0.
    views: Mapped[int | None] = mapped_column(Integer)
    likes: Mapped[int | None] = mapped_column(Integer)
    comment_count: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[datetime | None] = mapped_column(Timestamp)  # the site's post time
    # The post's date for sorting and filtering: the site's time, or when we first saw it.
    dated_at: Mapped[datetime] = mapped_column(
        Timestamp, Computed("coalesce(`posted_at`,`created_at`)", persisted=True)
    )
    image_count: Mapped[int] = mapped_column(
        Integer, Computed("json_length(`images`)", persisted=True)
    )
    # How popular the post is among its own site's posts (mean z-score of the log
    # counts it shows; see crawl.store.refresh_scores), so sites of different sizes mix.
    score: Mapped[float | None] = mapped_column(Float)
    # The story the post tells (the same post reposted on other communities shares it);
    # NULL until crawl.story_table has compared it with the stored posts.
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), nullable=True
    )
    # Views its Short would get in its first 24 h, by this channel's expected-views model
    # (analytics.expected); NULL until the model has scored it.
    expected_views: Mapped[float | None] = mapped_column(Float)

    status: Mapped[PostStatus] = mapped_column(
        _enum(PostStatus, "post_status"), nullable=False, server_default=PostStatus.COLLECTED
    )
    status_changed_at: Mapped[datetime] = _created()
    status_changed_by: Mapped[str | None] = mapped_column(String(64))  # a person, or NULL
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    # The sweep (Airflow run id) holding the post while it is PROCESSING; NULL otherwise.
    claimed_by: Mapped[str | None] = mapped_column(String(250))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    comments: Mapped[list[Comment]] = relationship(
        back_populates="post", cascade="all, delete-orphan", passive_deletes=True
    )
    content_row: Mapped[Content | None] = relationship(
        back_populates="post", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.site_code}/{self.origin_id} {self.status}>"


class Story(Base):
    """One story, told by one post or reposted on several communities (crawl.stories).

    ``main_post_id`` is kept by crawl.story_table; ``members``, ``sites``, ``popularity``
    and ``standing`` by core.db.story_rows whenever members, scores or statuses change.
    ``decided_by`` marks a story a person split or merged, which automatic merges then
    leave alone.
    """

    __tablename__ = "stories"
    # The Inbox walks waiting stories in popularity order.
    __table_args__ = (Index(None, "standing", "popularity"), TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Not a foreign key: posts already point here, and a cycle would order every delete.
    main_post_id: Mapped[int | None] = mapped_column(BigInteger)
    sites: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    members: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    # The best member's site score, plus a bonus for each further community it reached.
    popularity: Mapped[float | None] = mapped_column(Float)
    # statuses.StoryStanding: its members' highest (kept by core.db.story_rows).
    standing: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class StoryBand(Base):
    """A post's MinHash LSH bands: posts sharing a (band, bucket) are candidates."""

    __tablename__ = "story_bands"
    __table_args__ = (TABLE_OPTIONS,)

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class StoryPicture(Base):
    """A post's picture as a 64-bit perceptual hash (stored signed)."""

    __tablename__ = "story_pictures"
    __table_args__ = (TABLE_OPTIONS,)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    phash: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("post_id", "comment_key"),
        Index(None, "post_id", "likes"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    # The site's comment id when it has one ("id:123"), else "sha256:<content_hash>".
    comment_key: Mapped[str] = mapped_column(String(80), nullable=False)
    author: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    likes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    post: Mapped[Post] = relationship(back_populates="comments")


class Content(Base):
    """What production made of a post (1:1)."""

    __tablename__ = "contents"
    __table_args__ = (TABLE_OPTIONS,)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    summary_text: Mapped[str | None] = mapped_column(Text)  # the narration script
    # What the script engine really produced, and which engine: kept for the reviewer.
    script_raw: Mapped[str | None] = mapped_column(LongText)
    script_engine: Mapped[str | None] = mapped_column(String(128))
    # A person read the script (and maybe edited it) before it was voiced.
    script_reviewed_by: Mapped[str | None] = mapped_column(String(64))
    script_reviewed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    script_edited: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="0")
    audio_path: Mapped[str | None] = mapped_column(String(1024))
    video_path: Mapped[str | None] = mapped_column(String(1024))
    thumbnail_path: Mapped[str | None] = mapped_column(String(1024))
    video_seconds: Mapped[float | None] = mapped_column(Float)
    upload_meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # platform ids, urls
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    post: Mapped[Post] = relationship(back_populates="content_row")


class StageRun(Base):
    """One attempt of one stage on one post: when, how long, how it ended and why.

    The Airflow identifiers let the dashboard link a failure to its task log.
    """

    __tablename__ = "stage_runs"
    __table_args__ = (
        UniqueConstraint("post_id", "stage", "attempt"),
        Index(None, "outcome", "started_at"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"), nullable=False)
    attempt: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    outcome: Mapped[StageOutcome] = mapped_column(
        _enum(StageOutcome, "stage_outcome"), nullable=False, server_default="running"
    )
    started_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    error: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(64))  # e.g. espeak-ng, libx264
    dag_id: Mapped[str | None] = mapped_column(String(250))
    run_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))
    map_index: Mapped[int | None] = mapped_column(Integer)
    try_number: Mapped[int | None] = mapped_column(SmallInteger)


class Upload(Base):
    """A post's publication on one platform: what a person asked for, and how far it got.

    The resumable session is kept before the first byte is sent, so a run that dies
    mid-upload is resumed by the next one (never started again as a second video);
    ``heartbeat_at`` moves with every chunk and tells a live upload from a dead one.
    """

    __tablename__ = "uploads"
    __table_args__ = (
        Index(None, "platform", "requested_at"),
        Index(None, "platform", "state"),
        CheckConstraint("bytes_sent >= 0", name="bytes_sent_positive"),
        TABLE_OPTIONS,
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    # This platform's own state (core.states moves it); the post's status follows from
    # its platforms', so a failure on one leaves the others alone.
    state: Mapped[UploadState] = mapped_column(
        _enum(UploadState, "upload_state"), nullable=False, server_default="waiting"
    )
    # The metadata to publish with, as a person left it (None: made from the post).
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    privacy: Mapped[str | None] = mapped_column(String(16))
    publish_at: Mapped[datetime | None] = mapped_column(Timestamp)  # a scheduled release
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime | None] = mapped_column(Timestamp)  # None: not asked
    session_uri: Mapped[str | None] = mapped_column(String(2048))
    total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    video_id: Mapped[str | None] = mapped_column(String(64))
    video_url: Mapped[str | None] = mapped_column(String(512))
    uploaded_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # The read-back (analytics.collect): when each API was last asked, and the views the
    # Short had 24 h after it went up (the model's and the schedule's measure).
    stats_read_at: Mapped[datetime | None] = mapped_column(Timestamp)
    analytics_read_at: Mapped[datetime | None] = mapped_column(Timestamp)
    views_24h: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)  # why it waits (quota), or what failed
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class PublishQuota(Base):
    """What a platform's daily allowance has spent, per day in the platform's time zone."""

    __tablename__ = "publish_quota"
    __table_args__ = (TABLE_OPTIONS,)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    uploads: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    units: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # The platform itself said the allowance is spent (quotaExceeded...): nothing more today.
    exhausted: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _updated()


class CrawlRun(Base):
    """One site's crawl as the crawl task ended it: what it stored, or why it failed.

    The health checks read the last good crawl's age and a site's usual yield here.
    """

    __tablename__ = "crawl_runs"
    __table_args__ = (Index(None, "site_code", "finished_at"), TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    site_code: Mapped[str] = mapped_column(String(32), nullable=False)
    started_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    stored: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")  # new+updated
    new: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    cause: Mapped[str | None] = mapped_column(Text)  # why it failed, or the report's likely cause


class HealthState(Base):
    """Each health check's last level, since when it has held, and what was last told.

    A check's "failing since" survives between evaluations, and watch_health notifies
    only when a level differs from the one it last notified.
    """

    __tablename__ = "health_states"
    __table_args__ = (TABLE_OPTIONS,)

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    level: Mapped[str] = mapped_column(String(8), nullable=False)
    since: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    value: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    notified_level: Mapped[str | None] = mapped_column(String(8))
    notified_at: Mapped[datetime | None] = mapped_column(Timestamp)


class VideoStat(Base):
    """One reading of a published Short's figures, a time series by video, time and source.

    ``source`` "totals": the Data API's running totals (videos.list) when they were read
    (``measured_at``); "day": YouTube Analytics' figures for one day (``measured_at`` is
    that day, Pacific time, as Analytics counts), which arrive 48-72 h late and are
    rewritten as they settle.
    """

    __tablename__ = "video_stats"
    __table_args__ = (
        UniqueConstraint("platform", "video_id", "source", "measured_at"),
        Index(None, "post_id", "source", "measured_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    video_id: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    measured_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    collected_at: Mapped[datetime] = _created()
    views: Mapped[int | None] = mapped_column(BigInteger)
    engaged_views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    shares: Mapped[int | None] = mapped_column(Integer)
    subscribers_gained: Mapped[int | None] = mapped_column(Integer)
    minutes_watched: Mapped[float | None] = mapped_column(Float)
    average_view_seconds: Mapped[float | None] = mapped_column(Float)
    average_view_percentage: Mapped[float | None] = mapped_column(Float)


class StatsRun(Base):
    """One read-back run: what it read, and why a part was off (a scope, the quota)."""

    __tablename__ = "stats_runs"
    __table_args__ = (TABLE_OPTIONS,)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    videos: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    totals: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    data_calls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    analytics_calls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    totals_off: Mapped[str | None] = mapped_column(Text)
    analytics_off: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[str | None] = mapped_column(Text)


class ViewModel(Base):
    """An expected-views model as trained (analytics.expected): the latest one is in use."""

    __tablename__ = "view_models"
    __table_args__ = (TABLE_OPTIONS,)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    trained_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    basis: Mapped[str] = mapped_column(String(16), nullable=False)  # "model" | "site score"
    shorts: Mapped[int] = mapped_column(Integer, nullable=False)  # published Shorts it knew
    reason: Mapped[str | None] = mapped_column(Text)
    model: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
