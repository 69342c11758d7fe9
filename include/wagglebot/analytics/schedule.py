"""The hours of the day (Korea time) at which the channel's Shorts have done best."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wagglebot.core.config import Settings


def best_hours(history: Sequence[tuple[int, float]], n: int = 3, min_shorts: int = 3) -> list[int]:
    """The n hours (0-23) whose Shorts had the highest median views in their first 24 h.

    Only hours with at least min_shorts Shorts count (one lucky Short says little about
    its hour); with fewer such hours it returns as many as there are, and the caller
    falls back to its own default hours. Medians, not means: one viral Short would
    otherwise make its hour look best for months.
    """
    by_hour: dict[int, list[float]] = defaultdict(list)
    for hour, views in history:
        if not 0 <= hour <= 23:
            raise ValueError(f"hour {hour} is not 0-23")
        by_hour[hour].append(views)
    medians = {h: statistics.median(v) for h, v in by_hour.items() if len(v) >= min_shorts}
    # Ties go to the earlier hour, so the answer does not depend on the history's order.
    return sorted(medians, key=lambda h: (-medians[h], h))[: max(n, 0)]


@dataclass(frozen=True)
class PublishingHours:
    hours: list[int]  # sorted, in the settings' time zone
    reason: str  # where they come from, for the dashboard and the skipped run's log
    best: int  # the hour whose Shorts did best (the first of WAGGLE_PUBLISH_HOURS without)


def publishing_hours(session: Session, settings: Settings) -> PublishingHours:
    """The channel's best ``publish_best_hours`` hours by first-day views, topped up from
    WAGGLE_PUBLISH_HOURS while its history has too few Shorts per hour to say."""
    from wagglebot.analytics.history import published_shorts

    want = settings.publish_best_hours
    history = [
        (s.local(settings.timezone).hour, float(s.views_24h))
        for s in published_shorts(session)
        if s.views_24h is not None
    ]
    best = best_hours(history, n=want)
    if len(best) >= want:
        why = f"the channel's best hours by views in the first 24 h, from {len(history)} Shorts"
        return PublishingHours(sorted(best), why, best[0])
    fill = [h for h in settings.publish_hours if h not in best][: want - len(best)]
    why = (
        f"{len(best)} of the channel's hours have enough Shorts ({len(history)} a day old) to "
        "rank; the rest from WAGGLE_PUBLISH_HOURS"
        if best
        else f"WAGGLE_PUBLISH_HOURS: {len(history)} Shorts a day old, too few to rank hours yet"
    )
    return PublishingHours(sorted(best + fill), why, (best + fill)[0])


def publishing_now(
    settings: Settings | None = None, now: datetime | None = None
) -> tuple[bool, str]:
    """Whether this hour is a publishing hour (WAGGLE_PUBLISH_SCHEDULE=auto), and why."""
    from wagglebot.core.config import get_settings
    from wagglebot.core.db import settings_session

    settings = settings or get_settings()
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(settings.timezone))
    with settings_session(settings) as session:
        chosen = publishing_hours(session, settings)
    listed = ", ".join(f"{h:02d}:00" for h in chosen.hours)
    if local.hour in chosen.hours:
        return True, f"{local:%H}:00 is a publishing hour ({listed}: {chosen.reason})"
    return False, (
        f"not a publishing hour: it is {local:%H:%M} {settings.timezone}; Shorts go up at "
        f"{listed} ({chosen.reason})"
    )
