"""One read-back run (the collect_stats DAG): every published Short that is due, read.

When a Short is due: its running totals (videos.list) hourly for its first
``stats_hourly_hours`` after it went up, then daily until ``stats_days``; its
YouTube Analytics days once a day for the same ``stats_days`` plus the three days
Analytics takes to settle. Each reading is a ``video_stats`` row (totals at their
time; a day's figures at their day, rewritten as they settle), and the run is a
``stats_runs`` row saying what it read and why a part was off.

A part whose scope the token lacks is off, with the reason, and the rest runs. The
quota: each videos.list call is one unit of the Data API's daily allowance, which
uploads share (publish.quota), checked before and counted after; quotaExceeded marks
the day spent for uploads too. Analytics calls are counted on their own line
(``yt-analytics``), Google publishing no unit cost for them. A call that still
fails after its retries is kept in ``problems`` and fails the task once the rest is
read, so Airflow shows it and retries.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.analytics.youtube_stats import (
    IDS_PER_CALL,
    StatsCallFailed,
    StatsOff,
    YouTubeStats,
    granted_off,
)
from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import StatsRun, Upload, VideoStat, utcnow
from wagglebot.publish import PublishingOff, QuotaExhausted
from wagglebot.publish.quota import count_units, mark_spent, pacific_day, today

log = logging.getLogger(__name__)

SETTLE_DAYS = 3  # Analytics figures arrive 48-72 h late
ANALYTICS_LINE = "yt-analytics"  # its calls' line in publish_quota
# Analytics' names -> our columns.
DAY_COLUMNS = {
    "views": "views",
    "engagedViews": "engaged_views",
    "estimatedMinutesWatched": "minutes_watched",
    "averageViewDuration": "average_view_seconds",
    "averageViewPercentage": "average_view_percentage",
    "likes": "likes",
    "shares": "shares",
    "subscribersGained": "subscribers_gained",
    "comments": "comments",
}


class StatsProblems(RuntimeError):
    """Some calls failed after their retries; what was read is kept."""


@dataclass
class StatsReport:
    videos: int = 0
    totals: int = 0
    days: int = 0
    data_calls: int = 0
    analytics_calls: int = 0
    totals_off: str | None = None
    analytics_off: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Due:
    post_id: int
    video_id: str
    uploaded_at: datetime
    totals: bool
    analytics: bool


def due_videos(session: Session, settings: Settings, now: datetime) -> list[Due]:
    """Published Shorts whose totals or Analytics days are due now (``now``: naive UTC)."""
    hourly = now - timedelta(hours=settings.stats_hourly_hours)
    daily = now - timedelta(days=settings.stats_days)
    settle = now - timedelta(days=settings.stats_days + SETTLE_DAYS)
    # "An hour" and "a day" with a little slack: a run a minute early still reads.
    hour_ago, day_ago = now - timedelta(minutes=55), now - timedelta(hours=23)
    totals_due = or_(
        Upload.stats_read_at.is_(None),
        and_(Upload.uploaded_at >= hourly, Upload.stats_read_at <= hour_ago),
        and_(Upload.uploaded_at >= daily, Upload.stats_read_at <= day_ago),
    )
    analytics_due = or_(Upload.analytics_read_at.is_(None), Upload.analytics_read_at <= day_ago)
    rows = session.execute(
        select(
            Upload.post_id,
            Upload.video_id,
            Upload.uploaded_at,
            (totals_due & (Upload.uploaded_at >= daily)).label("totals"),
            analytics_due.label("analytics"),
        )
        .where(
            Upload.platform == "youtube",
            Upload.video_id.is_not(None),
            Upload.uploaded_at.is_not(None),
            Upload.uploaded_at >= settle,
        )
        .order_by(Upload.uploaded_at)
    ).all()
    return [
        Due(r.post_id, r.video_id, r.uploaded_at, bool(r.totals), bool(r.analytics))
        for r in rows
        if r.totals or r.analytics
    ]


def make_reader(settings: Settings) -> YouTubeStats:
    """The read-back client on the stored credentials (the same as publishing's)."""
    from wagglebot.publish.credentials import load_credentials, youtube_endpoint

    endpoint = youtube_endpoint(settings)
    return YouTubeStats(
        load_credentials(settings, endpoint),
        api_url=endpoint.api_url,
        retries=settings.stats_retries,
    )


def collect_stats(
    settings: Settings | None = None,
    reader: YouTubeStats | None = None,
    now: datetime | None = None,
) -> dict:
    """Read what is due; record the run. Raises StatsProblems after recording when calls
    failed for good (not for a scope or the quota: those are said, not failures)."""
    settings = settings or get_settings()
    now = now or utcnow()
    started = utcnow()
    report = StatsReport()
    with settings_session(settings) as session:
        due = due_videos(session, settings, now)
    report.videos = len(due)
    if due:
        try:
            reader = reader or make_reader(settings)
        except PublishingOff as exc:
            report.totals_off = report.analytics_off = str(exc)
        else:
            report.totals_off, report.analytics_off = granted_off(reader.credentials)
            if not report.totals_off:
                _read_totals(settings, reader, [d for d in due if d.totals], now, report)
            if not report.analytics_off:
                _read_days(settings, reader, [d for d in due if d.analytics], now, report)
            report.data_calls = reader.calls["videos.list"]
            report.analytics_calls = reader.calls["reports.query"]
    with settings_session(settings) as session:
        session.add(
            StatsRun(
                started_at=started,
                finished_at=utcnow(),
                **{k: v for k, v in asdict(report).items() if k != "problems"},
                problems="\n".join(report.problems) or None,
            )
        )
    log.info("stats run: %s", asdict(report))
    for part, why in (("totals", report.totals_off), ("analytics", report.analytics_off)):
        if why:
            log.warning("%s off: %s", part, why)
    if report.problems:
        raise StatsProblems("; ".join(report.problems))
    return asdict(report)


def _read_totals(
    settings: Settings, reader: YouTubeStats, due: list[Due], now: datetime, report: StatsReport
) -> None:
    for i in range(0, len(due), IDS_PER_CALL):
        batch = due[i : i + IDS_PER_CALL]
        with settings_session(settings) as session:
            quota = today(session, settings)
        if quota.exhausted or quota.units + 1 > quota.unit_limit:
            report.totals_off = "the Data API's daily quota is spent (resets at midnight Pacific)"
            return
        calls = reader.calls["videos.list"]
        try:
            found = {t.video_id: t for t in reader.totals([d.video_id for d in batch])}
        except QuotaExhausted as exc:
            with settings_session(settings) as session:
                mark_spent(session, str(exc))
            report.totals_off = str(exc)
            return
        except StatsOff as exc:
            report.totals_off = str(exc)
            return
        except StatsCallFailed as exc:
            report.problems.append(str(exc))
            return
        finally:
            _count_calls(settings, "youtube", reader.calls["videos.list"] - calls)
        with settings_session(settings) as session:
            for d in batch:
                if (totals := found.get(d.video_id)) is None:
                    log.warning("post %d: YouTube no longer lists video %s (deleted or "
                                "removed?)", d.post_id, d.video_id)  # fmt: skip
                    continue
                _upsert(session, d, "totals", now, views=totals.views, likes=totals.likes,
                        comments=totals.comments)  # fmt: skip
                if now - d.uploaded_at >= timedelta(hours=24):
                    _set_views_24h(session, d)
            session.execute(
                update(Upload)
                .where(Upload.post_id.in_([d.post_id for d in batch]), Upload.platform == "youtube")
                .values(stats_read_at=now)
            )
        report.totals += len(found)


def _read_days(
    settings: Settings, reader: YouTubeStats, due: list[Due], now: datetime, report: StatsReport
) -> None:
    end = pacific_day(now.replace(tzinfo=UTC))  # Analytics counts days in Pacific time
    for d in due:
        start = pacific_day(d.uploaded_at.replace(tzinfo=UTC))
        calls = reader.calls["reports.query"]
        try:
            rows = reader.days(d.video_id, start, end)
        except StatsOff as exc:
            report.analytics_off = str(exc)
            return
        except QuotaExhausted as exc:
            report.analytics_off = f"YouTube Analytics' quota is spent: {exc}"
            return
        except StatsCallFailed as exc:
            report.problems.append(f"post {d.post_id} ({d.video_id}): {exc}")
            continue
        finally:
            _count_calls(settings, ANALYTICS_LINE, reader.calls["reports.query"] - calls)
        with settings_session(settings) as session:
            for row in rows:
                values = {DAY_COLUMNS[k]: v for k, v in row.items() if k in DAY_COLUMNS}
                _upsert(session, d, "day", _midnight(row["day"]), **values)
            session.execute(
                update(Upload)
                .where(Upload.post_id == d.post_id, Upload.platform == "youtube")
                .values(analytics_read_at=now)
            )
        report.days += len(rows)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _upsert(session: Session, due: Due, source: str, at: datetime, **values: object) -> None:
    stmt = insert(VideoStat).values(
        post_id=due.post_id,
        platform="youtube",
        video_id=due.video_id,
        source=source,
        measured_at=at,
        collected_at=func.now(6),
        **values,
    )
    session.execute(stmt.on_duplicate_key_update(collected_at=func.now(6), **values))


def _set_views_24h(session: Session, due: Due) -> None:
    """The views 24 h after it went up: the first totals read at or after then (hourly
    reads make it at most an hour late), set once."""
    first_after = session.scalar(
        select(VideoStat.views)
        .where(
            VideoStat.post_id == due.post_id,
            VideoStat.source == "totals",
            VideoStat.measured_at >= due.uploaded_at + timedelta(hours=24),
        )
        .order_by(VideoStat.measured_at)
        .limit(1)
    )
    if first_after is not None:
        session.execute(
            update(Upload)
            .where(
                Upload.post_id == due.post_id,
                Upload.platform == "youtube",
                Upload.views_24h.is_(None),
            )
            .values(views_24h=first_after)
        )


def _count_calls(settings: Settings, line: str, calls: int) -> None:
    """A unit per videos.list call, a refused one too (Google counts those), or the
    Analytics calls on their own line."""
    if calls:
        with settings_session(settings) as session:
            count_units(session, calls, line)
