"""The daily upload allowance, counted in the database per Pacific day.

Google gives each API project an allowance that resets at midnight Pacific time,
and has changed its size more than once (an upload cost about 1,600 of 10,000
units until late 2025 and about 100 since; uploads are also counted on their own),
so the limits are settings, never constants. Before a session is asked for, a run
checks that one more upload fits, and stops cleanly when it would not; the upload
is counted once YouTube has accepted the session (that is when Google counts the
insert), never for an initiation it refused. Once YouTube itself answers
quotaExceeded the day is marked spent for every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db.models import PublishQuota
from wagglebot.publish import QuotaExhausted

PACIFIC = ZoneInfo("America/Los_Angeles")


def pacific_day(now: datetime | None = None) -> date:
    return (now or datetime.now(PACIFIC)).astimezone(PACIFIC).date()


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
    day = pacific_day()
    row = session.scalars(
        select(PublishQuota).where(PublishQuota.platform == platform, PublishQuota.day == day)
    ).first() or PublishQuota(platform=platform, day=day, uploads=0, units=0)
    return QuotaDay(
        row.day,
        row.uploads,
        row.units,
        settings.youtube_daily_uploads,
        settings.youtube_daily_units,
        settings.youtube_upload_cost,
        row.exhausted,
    )


def check_upload(session: Session, settings: Settings, platform: str = "youtube") -> QuotaDay:
    """Raise QuotaExhausted when one more upload would go over today's allowance; else
    what is left. Nothing is counted: ``count_upload`` does, once YouTube accepts."""
    row = _locked_row(session, platform, pacific_day())
    cost = settings.youtube_upload_cost
    problem = None
    if row.exhausted:
        problem = f"YouTube said today's allowance is spent ({row.exhausted})"
    elif row.uploads + 1 > settings.youtube_daily_uploads:
        problem = f"{row.uploads} of {settings.youtube_daily_uploads} uploads used today"
    elif row.units + cost > settings.youtube_daily_units:
        problem = (
            f"{row.units} of {settings.youtube_daily_units} units used; an upload costs {cost}"
        )
    session.rollback()  # the row lock: nothing was written
    if problem:
        raise QuotaExhausted(f"daily quota: {problem} (resets at midnight Pacific time)", "local")
    return today(session, settings, platform)


def count_upload(session: Session, settings: Settings, platform: str = "youtube") -> None:
    """Count one upload against today: YouTube accepted its session. In the caller's
    transaction (with the session's URI), row-locked against runs counting at once."""
    row = _locked_row(session, platform, pacific_day())
    row.uploads += 1
    row.units += settings.youtube_upload_cost


def count_units(session: Session, units: int, platform: str = "youtube") -> None:
    """Count API units beside the uploads (a read-back call costs one), row-locked; the
    caller commits."""
    _locked_row(session, platform, pacific_day()).units += units


def mark_spent(session: Session, reason: str, platform: str = "youtube") -> None:
    """YouTube answered quotaExceeded or the like: nothing more today, for any run."""
    _locked_row(session, platform, pacific_day())
    session.execute(
        update(PublishQuota)
        .where(PublishQuota.platform == platform, PublishQuota.day == pacific_day())
        .values(exhausted=reason[:2000])
    )
    session.commit()
