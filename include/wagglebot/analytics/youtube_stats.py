"""Reading a channel's Shorts' figures back from YouTube (google-api-python-client).

Two APIs, two kinds of figure:

- the Data API's ``videos.list`` (``part=statistics``, up to 50 ids a call, 1 quota
  unit): each video's running totals now (views, likes, comments), minutes fresh;
  it needs the ``youtube.readonly`` scope (an upload-only token cannot read them);
- the Analytics API's ``reports.query`` (``ids=channel==MINE``, ``dimensions=day``,
  ``filters=video==ID``): one row per day with views, engaged views (the Shorts view
  before 2025's recount), minutes watched, average view duration and percentage,
  likes, shares and subscribers gained. Those rows arrive 48-72 hours late, so each
  keeps its own day; it needs ``yt-analytics.readonly``.

A token without a scope turns that part off with the reason (``StatsOff``), never a
failure; so does YouTube answering 403 for the scope. 5xx and rate limits are retried
with backoff; ``quotaExceeded`` raises ``QuotaExhausted`` (the Data API's daily
allowance is shared with uploads).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError

from wagglebot.publish import QuotaExhausted
from wagglebot.publish.youtube import (
    ANALYTICS_SCOPE,
    QUOTA_REASONS,
    READ_SCOPE,
    RETRY_REASONS,
    RETRY_STATUSES,
    TRANSIENT,
    _reason,
    google_service,
)

log = logging.getLogger(__name__)

IDS_PER_CALL = 50  # videos.list takes at most 50 ids
# The YouTube Analytics metrics a Short's day row carries, in the order asked for.
DAY_METRICS = (
    "views",
    "engagedViews",
    "estimatedMinutesWatched",
    "averageViewDuration",
    "averageViewPercentage",
    "likes",
    "shares",
    "subscribersGained",
)
SCOPE_REASONS = frozenset(
    {"insufficientPermissions", "forbidden", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
)
AGAIN = "run ./wagglebot youtube-auth to allow it"


class StatsOff(RuntimeError):
    """A part of the read-back cannot run (a scope not granted, a token refused)."""


class StatsCallFailed(RuntimeError):
    """A call still failed after its retries (YouTube's answer or the network's error)."""


@dataclass(frozen=True)
class Totals:
    """videos.list's running totals for one video, as YouTube counts them now."""

    video_id: str
    views: int | None
    likes: int | None
    comments: int | None


def _count(statistics: dict, name: str) -> int | None:
    value = statistics.get(name)  # uint64 sent as a JSON string; absent when hidden
    return int(value) if value is not None else None


def granted_off(credentials: Credentials) -> tuple[str | None, str | None]:
    """(why totals are off, why analytics is off) from the token's granted scopes."""
    scopes = set(credentials.scopes or ())
    totals = None if READ_SCOPE in scopes else f"the YouTube token lacks {READ_SCOPE}; {AGAIN}"
    analytics = (
        None if ANALYTICS_SCOPE in scopes else f"the YouTube token lacks {ANALYTICS_SCOPE}; {AGAIN}"
    )
    return totals, analytics


class YouTubeStats:
    """The two read-back calls, each retried on what a retry can fix."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_url: str = "",
        retries: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials, self.api_url = credentials, api_url
        self.retries, self.backoff_s, self.timeout_s, self.sleep = (
            retries,
            backoff_s,
            timeout_s,
            sleep,
        )
        self._data: Any = None
        self._analytics: Any = None
        self.calls = {"videos.list": 0, "reports.query": 0}
        self._metrics = DAY_METRICS

    def totals(self, video_ids: list[str]) -> list[Totals]:
        """The running totals of up to 50 videos, in one call. A video YouTube no longer
        has (deleted, removed) is left out of its answer."""
        if len(video_ids) > IDS_PER_CALL:
            raise ValueError(f"videos.list takes at most {IDS_PER_CALL} ids a call")
        if self._data is None:
            self._data = google_service("youtube", "v3", self.credentials, self.api_url,
                                        self.timeout_s).videos()  # fmt: skip
        request = self._data.list(part="statistics", id=",".join(video_ids))
        answer = self._call("videos.list", request.execute)
        return [
            Totals(
                item["id"],
                _count(item.get("statistics") or {}, "viewCount"),
                _count(item.get("statistics") or {}, "likeCount"),
                _count(item.get("statistics") or {}, "commentCount"),
            )
            for item in answer.get("items", [])
        ]

    def days(self, video_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """One row per day YouTube Analytics has figures for, ``{"day": date, metric: value}``.

        ``engagedViews`` is asked for; were a query with it refused as unsupported, the
        day rows are read without it (its column stays empty)."""
        if self._analytics is None:
            self._analytics = google_service("youtubeAnalytics", "v2", self.credentials,
                                             self.api_url, self.timeout_s).reports()  # fmt: skip
        while True:
            request = self._analytics.query(
                ids="channel==MINE",
                startDate=start.isoformat(),
                endDate=end.isoformat(),
                metrics=",".join(self._metrics),
                dimensions="day",
                filters=f"video=={video_id}",
                sort="day",
            )
            try:
                answer = self._call("reports.query", request.execute)
            except StatsCallFailed as exc:
                if "engagedViews" in self._metrics and "query is not supported" in str(exc):
                    log.warning("YouTube Analytics refused engagedViews here: reading without")
                    self._metrics = tuple(m for m in self._metrics if m != "engagedViews")
                    continue
                raise
            names = [h["name"] for h in answer.get("columnHeaders", [])]
            rows = [dict(zip(names, row, strict=True)) for row in answer.get("rows") or []]
            for row in rows:
                row["day"] = date.fromisoformat(row["day"])
            return rows

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        problem = ""
        for attempt in range(self.retries + 1):
            self.calls[what] += 1
            try:
                return call()
            except HttpError as exc:
                reason, message = _reason(exc)
                status = exc.resp.status
                if reason in QUOTA_REASONS:
                    raise QuotaExhausted(f"YouTube: {reason}: {message}", reason) from None
                if status == 403 and reason in SCOPE_REASONS:
                    raise StatsOff(f"YouTube refused {what} ({status} {reason}: {message}); "
                                   f"{AGAIN}") from None  # fmt: skip
                if status == 401:
                    raise StatsOff(f"YouTube refused the token for {what} (401: {message}); "
                                   "run ./wagglebot youtube-auth") from None  # fmt: skip
                problem = f"YouTube answered {status} {reason}: {message}".strip()
                if status not in RETRY_STATUSES and reason not in RETRY_REASONS:
                    raise StatsCallFailed(f"{what}: {problem}") from None
            except RefreshError as exc:
                said = exc.args[0] if exc.args else exc
                raise StatsOff(f"the YouTube token was refused ({said}); "
                               "run ./wagglebot youtube-auth") from None  # fmt: skip
            except TRANSIENT as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                delay = random.uniform(0, self.backoff_s * 2**attempt)  # noqa: S311 - jitter
                log.warning("%s: %s; try %d of %d in %.1f s", what, problem, attempt + 2,
                            self.retries + 1, delay)  # fmt: skip
                self.sleep(delay)
        raise StatsCallFailed(f"{what}: gave up after {self.retries + 1} tries; last: {problem}")
