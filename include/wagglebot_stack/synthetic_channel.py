"""A synthetic channel history: Shorts with known effects on their views, for tests and
benchmarks of the expected-views model and the publishing hours.

First-day views are log-normal around a base, moved by the post's community, site score,
reach across communities, pictures, video, text length and publish hour (the constants
below are the truth a model should recover), with log-normal noise (sigma NOISE) so that
a model is useful but never exact. The 30 daily rows carry the YouTube Analytics metric
names, day 0 being the first 24 hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from wagglebot.analytics.expected import ShortFeatures

KST = timezone(timedelta(hours=9))  # Korea keeps no summer time
DEFAULT_START = datetime(2025, 3, 1, tzinfo=UTC)
BASE_VIEWS = 1500.0
NOISE = 0.6
DAYS = 30
# Log effects on first-day views. The codes are include/wagglebot/crawl/sites/*.yaml's.
SITE_EFFECTS = {
    "nate_pann": 0.8,
    "theqoo": 0.45,
    "nate_tok": 0.2,
    "fmkorea": 0.1,
    "dcinside": 0.0,
    "ruliweb": -0.15,
    "ppomppu": -0.25,
    "bobaedream": -0.35,
    "clien": -0.6,
}
SITE_SHARES = {  # how often the channel picks each community
    "nate_pann": 0.2,
    "theqoo": 0.14,
    "nate_tok": 0.1,
    "fmkorea": 0.12,
    "dcinside": 0.12,
    "ruliweb": 0.08,
    "ppomppu": 0.08,
    "bobaedream": 0.08,
    "clien": 0.08,
}
SCORE_EFFECT = 0.35  # per unit of site score
STORY_SITE_EFFECT = 0.25  # per extra community, up to four
PICTURE_EFFECT = 0.1  # per log(1 + pictures)
VIDEO_EFFECT = 0.15
LONG_TEXT_EFFECT = -0.35  # per doubling past LONG_TEXT characters
LONG_TEXT = 1200
HOUR_EFFECTS = (  # Korea time: evenings best, the small hours worst
    0.1, 0.0, -0.15, -0.4, -0.5, -0.5, -0.4, -0.25,  # 00-07
    -0.2, -0.15, -0.1, -0.05, 0.05, 0.05, -0.05, -0.05,  # 08-15
    0.0, 0.1, 0.3, 0.4, 0.45, 0.5, 0.45, 0.3,  # 16-23
)  # fmt: skip
HOUR_SHARES = np.array([0.5 if 1 <= h <= 6 else 1.0 for h in range(24)])
VIDEO_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
TOPICS = ("시댁", "회사 동료", "중고거래", "남자친구", "층간소음", "군대", "결혼식", "알바", "이웃")
HOOKS = ("썰 푼다", "이거 제가 예민한 건가요", "레전드", "후기", "실화냐", "어떻게 생각하세요")


@dataclass(frozen=True)
class SyntheticShort:
    features: ShortFeatures
    uploaded_at: datetime  # UTC
    video_id: str
    title: str
    days: list[dict]  # DAYS rows of YouTube Analytics metrics; day 0 is the first 24 h


def views_24h(short: SyntheticShort) -> float:
    return float(short.days[0]["views"])


def log_effect(f: ShortFeatures) -> float:
    """The generator's true effect on log first-day views (noise aside)."""
    score = f.site_score if f.site_score is not None else 0.0
    return (
        SITE_EFFECTS.get(f.site_code, 0.0)
        + SCORE_EFFECT * score
        + STORY_SITE_EFFECT * min(f.story_sites - 1, 4)
        + PICTURE_EFFECT * math.log1p(f.pictures)
        + VIDEO_EFFECT * f.has_video
        + LONG_TEXT_EFFECT * max(0.0, math.log2(max(f.text_chars, 1) / LONG_TEXT))
        + HOUR_EFFECTS[f.publish_hour]
    )


def synthetic_history(n: int, seed: int = 0, start: datetime | None = None) -> list[SyntheticShort]:
    """n Shorts, about two a day from start (UTC), oldest first; the same for a seed."""
    rng = np.random.default_rng(seed)
    start = start or DEFAULT_START
    sites = list(SITE_SHARES)
    shares = np.array(list(SITE_SHARES.values()))
    first_day = start.astimezone(KST).replace(hour=0, minute=0, second=0, microsecond=0)
    shorts = []
    for i in range(n):
        hour = int(rng.choice(24, p=HOUR_SHARES / HOUR_SHARES.sum()))
        features = ShortFeatures(
            site_code=str(rng.choice(sites, p=shares / shares.sum())),
            # Picked posts are popular ones; a few were never scored.
            site_score=None if rng.random() < 0.05 else round(float(rng.normal(0.6, 0.8)), 3),
            story_sites=int(1 + min(rng.geometric(0.55) - 1, 6)),
            text_chars=int(np.clip(rng.lognormal(math.log(600), 0.7), 40, 8000)),
            pictures=int(min(rng.poisson(1.5), 12)),
            has_video=bool(rng.random() < 0.15),
            publish_hour=hour,
        )
        views = BASE_VIEWS * math.exp(log_effect(features) + rng.normal(0.0, NOISE))
        local = first_day + timedelta(days=i // 2, hours=hour, minutes=int(rng.integers(60)))
        shorts.append(
            SyntheticShort(
                features=features,
                uploaded_at=local.astimezone(UTC),
                video_id="".join(rng.choice(list(VIDEO_ID_CHARS), 11)),
                title=f"{rng.choice(TOPICS)} {rng.choice(HOOKS)}",
                days=_days(rng, round(views)),
            )
        )
    shorts.sort(key=lambda s: s.uploaded_at)  # an hour late in the day may pass the next one
    return shorts


def _days(rng: np.random.Generator, first_day_views: int) -> list[dict]:
    """Daily Analytics rows: a fast decay after day 0, the ratios of a typical Short."""
    length = float(rng.uniform(25, 59))  # seconds
    rows = []
    for day in range(DAYS):
        if day == 0:
            views = first_day_views
        else:
            mean = first_day_views * 0.45 * math.exp(-0.35 * (day - 1))
            views = round(float(mean * rng.lognormal(0.0, 0.3)))
        percentage = float(np.clip(rng.normal(75, 15), 20, 140)) if views else 0.0
        duration = length * percentage / 100
        rows.append(
            {
                "views": views,
                "engagedViews": int(rng.binomial(views, 0.7)),
                "estimatedMinutesWatched": round(views * duration / 60),
                "averageViewDuration": round(duration, 1),
                "averageViewPercentage": round(percentage, 2),
                "likes": int(rng.binomial(views, 0.03)),
                "shares": int(rng.binomial(views, 0.003)),
                "subscribersGained": int(rng.binomial(views, 0.001)),
                "comments": int(rng.binomial(views, 0.002)),
            }
        )
    return rows
