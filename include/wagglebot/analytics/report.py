"""What the dashboard's Analytics page shows, computed here so it is tested without a browser:
the channel's total views over time, its Shorts ranked, and how they did by community,
script length, pictures or video, and the hour and weekday they went up.

Groups compare Shorts by their views in their first 24 hours (a Short counts once it is
a day old), so a Short published last week is not "better" for being older.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wagglebot.analytics.history import PublishedShort

WEEKDAYS = ("월 Mon", "화 Tue", "수 Wed", "목 Thu", "금 Fri", "토 Sat", "일 Sun")


@dataclass(frozen=True)
class Group:
    label: str
    shorts: int
    median_views_24h: float
    retention: float | None  # mean average-view-percentage of those with Analytics days


def length_bucket(short: PublishedShort) -> str:
    seconds = short.video_seconds
    if seconds is None:
        return "unknown"
    return "under 30 s" if seconds < 30 else "30-45 s" if seconds < 45 else "45 s and over"


def media_kind(short: PublishedShort) -> str:
    if short.has_video:
        return "video"
    return "pictures" if short.pictures else "text only"


def performance_by(
    shorts: Sequence[PublishedShort], key: Callable[[PublishedShort], str]
) -> list[Group]:
    """Shorts a day old grouped by ``key``, best median first-day views first."""
    groups: dict[str, list[PublishedShort]] = defaultdict(list)
    for short in shorts:
        if short.views_24h is not None:
            groups[key(short)].append(short)
    found = []
    for label, members in groups.items():
        kept = [m.retention for m in members if m.retention is not None]
        found.append(
            Group(
                label,
                len(members),
                float(statistics.median(m.views_24h for m in members)),
                statistics.fmean(kept) if kept else None,
            )
        )
    return sorted(found, key=lambda g: (-g.median_views_24h, g.label))


def by_hour(shorts: Sequence[PublishedShort], timezone: str) -> list[Group]:
    return performance_by(shorts, lambda s: f"{s.local(timezone).hour:02d}:00")


def by_weekday(shorts: Sequence[PublishedShort], timezone: str) -> list[Group]:
    return performance_by(shorts, lambda s: WEEKDAYS[s.local(timezone).weekday()])


def channel_total(series: Sequence[tuple[int, datetime, int]]) -> list[tuple[datetime, int]]:
    """The channel's total views at each reading: every Short's latest count by then."""
    latest: dict[int, int] = {}
    total, found = 0, []
    for post_id, at, views in sorted(series, key=lambda r: r[1]):
        total += views - latest.get(post_id, 0)
        latest[post_id] = views
        if found and found[-1][0] == at:
            found[-1] = (at, total)
        else:
            found.append((at, total))
    return found


def ranked(shorts: Sequence[PublishedShort], n: int = 5) -> tuple[list, list]:
    """The top and bottom ``n`` Shorts by views so far (those with a count)."""
    counted = sorted((s for s in shorts if s.views is not None), key=lambda s: -(s.views or 0))
    return counted[:n], counted[::-1][:n] if len(counted) > n else []
