"""The daily publishing allowance of each platform, counted in the database per day.

YouTube gives each API project an allowance that resets at midnight Pacific time, and
has changed its size more than once (an upload cost about 1,600 of 10,000 units until
late 2025 and about 100 since; uploads are also counted on their own). TikTok lets a
creator post "around 15" videos a day through the API, Instagram a number per rolling
24 h that the account's ``content_publishing_limit`` says (the publisher reads it too).
So the limits are settings, never constants (``allowance``), counted per day in the
platform's zone (Pacific for YouTube, UTC for the others). Before a session is asked
for, a run checks that one more upload fits, and stops cleanly when it would not; the
upload is counted once the platform has accepted the session, never for an initiation
it refused. Once a platform itself says its allowance is spent, the day is marked spent
for every run of that platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db.models import PublishQuota
from wagglebot.publish import QuotaExhausted
from wagglebot.publish.platforms import NAMES

PACIFIC = ZoneInfo("America/Los_Angeles")


def pacific_day(now: datetime | None = None) -> date:
    return (now or datetime.now(PACIFIC)).astimezone(PACIFIC).date()


def platform_day(platform: str, now: datetime | None = None) -> date:
    """Today as the platform counts its allowance: YouTube in Pacific time, others in UTC."""
    zone = PACIFIC if platform == "youtube" else UTC
    return (now or datetime.now(UTC)).astimezone(zone).date()


@dataclass(frozen=True)
class Allowance:
    """A platform's daily limits, from the settings (its days: ``platform_day``)."""

    uploads: int
    units: int
    upload_cost: int
    resets: str


def allowance(settings: Settings, platform: str) -> Allowance:
    if platform == "youtube":
        return Allowance(
            settings.youtube_daily_uploads,
            settings.youtube_daily_units,
            settings.youtube_upload_cost,
            "midnight Pacific time",
        )
    posts = {"tiktok": settings.tiktok_daily_posts, "instagram": settings.instagram_daily_posts}
    if platform not in posts:
        raise ValueError(f"no daily allowance is known for {platform!r}")
    return Allowance(posts[platform], 0, 0, "midnight UTC")


@dataclass(frozen=True)
class QuotaDay:
    day: date
    uploads: int
    units: int
    upload_limit: int
    unit_limit: int
    upload_cost: int
    exhausted: str | None

    @property
    def uploads_left(self) -> int:
        if self.exhausted:
            return 0
        by_units = (self.unit_limit - self.units) // self.upload_cost if self.upload_cost else 10**9
        return max(0, min(self.upload_limit - self.uploads, by_units))


def _locked_row(session: Session, platform: str, day: date) -> PublishQuota:
    session.execute(insert(PublishQuota).values(platform=platform, day=day).prefix_with("IGNORE"))
    query = select(PublishQuota).where(PublishQuota.platform == platform, PublishQuota.day == day)
    return session.scalars(query.with_for_update()).one()


def today(session: Session, settings: Settings, platform: str = "youtube") -> QuotaDay:
    """What today's allowance has spent and has left (a read: nothing is written)."""
    limits = allowance(settings, platform)
    day = platform_day(platform)
    row = session.scalars(
        select(PublishQuota).where(PublishQuota.platform == platform, PublishQuota.day == day)
    ).first() or PublishQuota(platform=platform, day=day, uploads=0, units=0)
    return QuotaDay(
        row.day,
        row.uploads,
        row.units,
        limits.uploads,
        limits.units,
        limits.upload_cost,
        row.exhausted,
    )


def check_upload(session: Session, settings: Settings, platform: str = "youtube") -> QuotaDay:
    """Raise QuotaExhausted when one more upload would go over today's allowance; else
    what is left. Nothing is counted: ``count_upload`` does, once the platform accepts."""
    limits = allowance(settings, platform)
    row = _locked_row(session, platform, platform_day(platform))
    name = NAMES.get(platform, platform)
    problem = None
    if row.exhausted:
        problem = f"{name} said today's allowance is spent ({row.exhausted})"
    elif row.uploads + 1 > limits.uploads:
        problem = f"{row.uploads} of {limits.uploads} uploads used today"
    elif row.units + limits.upload_cost > limits.units:
        problem = f"{row.units} of {limits.units} units used; an upload costs {limits.upload_cost}"
    session.rollback()  # the row lock: nothing was written
    if problem:
        raise QuotaExhausted(f"daily {name} quota: {problem} (resets at {limits.resets})", "local")
    return today(session, settings, platform)


def count_upload(session: Session, settings: Settings, platform: str = "youtube") -> None:
    """Count one upload against today: the platform accepted its session. In the caller's
    transaction (with the session's URI), row-locked against runs counting at once."""
    limits = allowance(settings, platform)
    row = _locked_row(session, platform, platform_day(platform))
    row.uploads += 1
    row.units += limits.upload_cost


def count_units(session: Session, units: int, platform: str = "youtube") -> None:
    """Count API units beside the uploads (a read-back call costs one), row-locked; the
    caller commits. (Only YouTube counts units.)"""
    _locked_row(session, platform, platform_day(platform)).units += units


def mark_spent(
    session: Session, reason: str, platform: str = "youtube", day: date | None = None
) -> None:
    """The platform said its allowance is spent (quotaExceeded, spam_risk_too_many_posts,
    the publishing limit): nothing more today, for any run of that platform."""
    day = day or platform_day(platform)
    _locked_row(session, platform, day)
    session.execute(
        update(PublishQuota)
        .where(PublishQuota.platform == platform, PublishQuota.day == day)
        .values(exhausted=reason[:2000])
    )
    session.commit()
