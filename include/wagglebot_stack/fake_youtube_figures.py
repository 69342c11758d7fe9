"""The read-back half of the loopback fake YouTube: each video's daily figures, and the
answers to videos.list and reports.query built from them (pure functions; the HTTP side
is fake_youtube). Day d of a video is the Pacific date d days after its upload's; its
figures are loaded (``load_history``) or made up from its id and upload time, the part
of today gone by counting pro rata, so totals only ever grow between calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

MAX_IDS = 50  # videos.list's limit on id
PACIFIC = ZoneInfo("America/Los_Angeles")  # the day YouTube Analytics counts in
SHORT_SECONDS = 45  # the made-up series' Short length
# The Analytics metrics the fake knows, with the dataType Google gives their column.
METRICS = {
    "views": "INTEGER",
    "engagedViews": "INTEGER",
    "estimatedMinutesWatched": "INTEGER",
    "averageViewDuration": "INTEGER",  # seconds
    "averageViewPercentage": "FLOAT",  # a Short loops: past 100 is common
    "likes": "INTEGER",
    "shares": "INTEGER",
    "subscribersGained": "INTEGER",
    "comments": "INTEGER",
}
AVERAGES = ("averageViewDuration", "averageViewPercentage")  # weighted by views, not summed
_UNSUPPORTED = "The query is not supported."


class Refused(Exception):
    """A reports.query Google would refuse: its status and error detail."""

    def __init__(self, code: int, message: str, reason: str = "badRequest", **more: str) -> None:
        super().__init__(message)
        self.code = code
        self.error = {"message": message, "domain": "global", "reason": reason, **more}


def etag(data: object) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")


def videos_refusal(parts: list[str], ids: list[str]) -> dict | None:
    """The error detail Google gives a videos.list it refuses, or None."""
    if not parts:
        return {"message": "Required parameter: part", "domain": "global", "reason": "required",
                "locationType": "parameter", "location": "part"}  # fmt: skip
    if unknown := [p for p in parts if p not in ("id", "snippet", "status", "statistics")]:
        return {"message": unknown[0], "domain": "youtube.part", "reason": "unknownPart",
                "locationType": "parameter", "location": "part"}  # fmt: skip
    if not ids:
        return {"message": "No filter selected. Expected one of: chart, id, myRating",
                "domain": "youtube.parameter", "reason": "missingRequiredParameter",
                "location": "parameters.", "locationType": "other"}  # fmt: skip
    if len(ids) > MAX_IDS:
        # Google's answer to more than 50 ids is not documented (nor found): this is
        # a plain 400 badRequest in its shape, with our own words.
        return {"message": f"The request specifies more than {MAX_IDS} video ids.",
                "domain": "global", "reason": "badRequest"}  # fmt: skip
    return None


def video_item(video: dict, parts: list[str], now: datetime) -> dict:
    item = {"kind": "youtube#video", "etag": "", "id": video["id"]}
    if "snippet" in parts:
        item["snippet"] = {"publishedAt": video["uploaded_at"], **video["snippet"]}
    if "status" in parts:
        item["status"] = video["status"]
    if "statistics" in parts:
        total = _combined([f for _, f in _days(video, date.min, _pacific_day(now), now)])
        item["statistics"] = {  # uint64, sent as strings
            "viewCount": str(total["views"]),
            "likeCount": str(total["likes"]),
            "favoriteCount": "0",
            "commentCount": str(total["comments"]),
        }
    item["etag"] = etag(item)
    return item


def report_table(
    asked: dict[str, str], videos: dict[str, dict], now: datetime, lag: int, missing: set
) -> dict:
    """A youtubeAnalytics#resultTable, or Refused as Google words its refusals."""
    dimension, ids, metrics, start, end = _report_query(asked)
    last = min(end, _pacific_day(now) - timedelta(days=lag))  # later days are not in yet
    rows = []
    for video_id in dict.fromkeys(ids):
        video = videos.get(video_id)
        days = [(day, figures) for day, figures in _days(video, start, last, now)
                if (video_id, day.isoformat()) not in missing] if video else []  # fmt: skip
        if dimension == "day":
            rows += [[day.isoformat(), *(_cell(m, f[m]) for m in metrics)] for day, f in days]
        elif days:
            total = _combined([figures for _, figures in days])
            rows.append([video_id, *(_cell(m, total[m]) for m in metrics)])
    rows = _sorted(rows, [dimension, *metrics], asked.get("sort", ""))
    first = _number(asked, "startIndex", 1) - 1  # 1-based
    rows = rows[first : first + _number(asked, "maxResults", len(rows) or 1)]
    headers = [{"name": dimension, "columnType": "DIMENSION", "dataType": "STRING"}]
    headers += [{"name": m, "columnType": "METRIC", "dataType": METRICS[m]} for m in metrics]
    table = {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers}
    return table | {"rows": rows} if rows else table  # no rows: no "rows" key, as Google


def _report_query(asked: dict[str, str]) -> tuple[str, list[str], list[str], date, date]:
    """(dimension, video ids, metrics, startDate, endDate) of a query the fake answers."""
    for name in ("ids", "startDate", "endDate", "metrics"):
        if not asked.get(name):
            raise Refused(400, f"Required parameter: {name}", "required",
                           locationType="parameter", location=name)  # fmt: skip
    if asked["ids"] != "channel==MINE":  # the fake has one channel: the token's own
        raise Refused(403, "Forbidden", "forbidden")
    metrics = asked["metrics"].split(",")
    for name in metrics:
        if name not in METRICS:
            raise Refused(400, f"Unknown identifier ({name}) given in field parameters.metrics.")
    start, end = _query_date(asked, "startDate"), _query_date(asked, "endDate")
    ids: list[str] = []
    for spec in (f for f in asked.get("filters", "").split(";") if f):
        key, _, value = spec.partition("==")
        if key == "video" and not ids:
            ids = [i for i in value.split(",") if i]
        elif spec != "creatorContentType==SHORTS":  # every video here is a Short
            raise Refused(400, _UNSUPPORTED)
    dimension = asked.get("dimensions", "")
    if not ids or dimension not in ("day", "video") or (dimension == "day" and len(ids) > 1):
        raise Refused(400, _UNSUPPORTED)
    return dimension, ids, metrics, start, end


def _query_date(asked: dict[str, str], name: str) -> date:
    try:
        return datetime.strptime(asked[name], "%Y-%m-%d").date()
    except ValueError:  # Google's words for this are not documented: ours
        raise Refused(400, f"Invalid value for {name}: {asked[name]} (want YYYY-MM-DD).") from None


def _number(asked: dict[str, str], name: str, default: int) -> int:
    try:
        return int(asked.get(name) or default)
    except ValueError:  # the client checks integers first: only a hand-made request gets here
        raise Refused(400, f"Invalid value for {name}: {asked[name]}.") from None


def _sorted(rows: list[list], columns: list[str], sort: str) -> list[list]:
    """Rows ordered by ``sort`` (columns, "-" for descending, the first key first)."""
    for key in reversed([k for k in sort.split(",") if k]):
        name = key.removeprefix("-")
        if name not in columns:
            raise Refused(400, _UNSUPPORTED)
        rows = sorted(rows, key=itemgetter(columns.index(name)), reverse=key.startswith("-"))
    return rows


def _cell(metric: str, value: float) -> float | int:
    return round(float(value), 2) if METRICS[metric] == "FLOAT" else round(value)


# --- read-back: the figures ----------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pacific_day(moment: datetime) -> date:
    return moment.astimezone(PACIFIC).date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PACIFIC).astimezone(UTC)


def _share(video: dict, day: date, now: datetime) -> float:
    """How much of ``day``'s figures exist at ``now``: the part of the video's time on
    YouTube that day gone by (1 for a day past, 0 for one to come)."""
    start = max(_midnight(day), datetime.fromisoformat(video["uploaded_at"]))
    end = _midnight(day + timedelta(days=1))
    return min(1.0, max(0.0, (now - start) / (end - start))) if end > start else 0.0


def _days(video: dict, first: date, last: date, now: datetime) -> list[tuple[date, dict]]:
    """The video's days from first to last (Pacific dates), as far as they exist at now;
    today's counts pro rata, rounded up, so a video a minute old already has a view."""
    upload_day = _pacific_day(datetime.fromisoformat(video["uploaded_at"]))
    rows, day = [], max(first, upload_day)
    while day <= last and (share := _share(video, day, now)) > 0:
        whole = _whole_day(video, (day - upload_day).days)
        rows.append((day, {m: v if m in AVERAGES else math.ceil(v * share)
                           for m, v in whole.items()}))  # fmt: skip
        day += timedelta(days=1)
    return rows


def _combined(days: list[dict]) -> dict[str, float]:
    """Figures over several days: counts add up, averages are weighted by views."""
    total = {m: sum(d[m] for d in days) for m in METRICS if m not in AVERAGES}
    views = total["views"]
    for m in AVERAGES:
        total[m] = sum(d[m] * d["views"] for d in days) / views if views else 0
    return total


def _whole_day(video: dict, d: int) -> dict[str, float]:
    """Day d's figures, the day being whole: the loaded ones, or made-up ones."""
    if video["days"] is None:
        return _made_up(video, d)
    row = video["days"][d] if d < len(video["days"]) else {}
    return {m: row.get(m, 0) for m in METRICS}


def _made_up(video: dict, d: int) -> dict[str, float]:
    """A plausible Short's day d, the same on every call for the same video and upload
    time: 200-5,000 views a whole first day, ~35 % fewer each day after."""
    seed = f"{video['id']}|{video['uploaded_at']}"
    first = random.Random(seed).randint(200, 5000)  # noqa: S311 - figures, not secrets
    rng = random.Random(f"{seed}|{d}")  # noqa: S311
    if d == 0:  # only the part of its first day it was up
        uploaded = datetime.fromisoformat(video["uploaded_at"])
        day = _pacific_day(uploaded)
        up = (_midnight(day + timedelta(days=1)) - uploaded) / timedelta(days=1)
        views = max(1, round(first * up))
    else:
        views = round(first * 0.65**d * rng.uniform(0.8, 1.2))
    percentage = round(rng.uniform(40, 110), 1)  # a Short loops: past 100 % happens
    return {
        "views": views,
        "engagedViews": round(views * rng.uniform(0.70, 0.85)),
        "estimatedMinutesWatched": round(views * percentage * SHORT_SECONDS / 100 / 60),
        "averageViewDuration": round(percentage * SHORT_SECONDS / 100),
        "averageViewPercentage": percentage,
        "likes": round(views * rng.uniform(0.02, 0.04)),
        "shares": round(views * rng.uniform(0.002, 0.01)),
        "subscribersGained": round(views * rng.uniform(0.001, 0.004)),
        "comments": round(views * rng.uniform(0.002, 0.008)),
    }
