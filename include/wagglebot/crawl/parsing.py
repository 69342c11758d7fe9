"""Turning page fragments into clean values: text, counts, times, image URLs."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/h\d|/tr|/blockquote)\b[^>]*>", re.I)
# Dropped with what they hold: code, the browser's fallback text inside a player ("Your
# browser does not support the video tag.", "Video 태그를 지원하지 않는 브라우저입니다."), and
# buttons' labels (clien's "GIF" download button beside a converted GIF).
_DROP_BLOCKS = re.compile(
    r"<\s*(script|style|noscript|template|video|audio|iframe|object|button)\b.*?"
    r"<\s*/\s*\1\s*>",
    re.I | re.S,
)
# A video file, whatever element names it: ppomppu ships an uploaded .mov as an <img>,
# clien hides an <img> of the MP4 it made of a GIF beside the <video>.
VIDEO_FILE = re.compile(r"\.(?:mp4|m4v|mov|webm|mkv|avi)$", re.I)
_TAGS = re.compile(r"<[^>]+>")
# Tags that style a run of text inside a word: "<b>바삭</b>합니다" reads "바삭합니다".
_INLINE_TAGS = re.compile(
    r"<\s*/?\s*(b|i|u|s|em|strong|font|span|mark|small|sub|sup|strike|del|ins)\b[^>]*>", re.I
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b\u3000]+")
_NEWLINES = re.compile(r"\n\s*\n+")


def clean_text(fragment: str | None) -> str:
    """Plain text from an HTML fragment: tags stripped, entities decoded, whitespace normalised.

    Paragraph and line breaks survive as single newlines; scripts and styles vanish.
    """
    if not fragment:
        return ""
    text = _DROP_BLOCKS.sub(" ", fragment)
    text = _BLOCK_TAGS.sub("\n", text)
    text = html.unescape(_TAGS.sub(" ", _INLINE_TAGS.sub("", text)))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _NEWLINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def squash(text: str | None) -> str:
    """Whitespace collapsed to single spaces, for text that is already plain.

    Text nodes and attribute values come decoded: a title that reads "<b>" on
    the page must stay "<b>", so it is never run through tag stripping again.
    """
    return " ".join((text or "").split())


_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(만|천|[kK])?")
_UNITS = {"만": 10_000, "천": 1_000, "k": 1_000, "K": 1_000}


def parse_count(text: str | None) -> int | None:
    """'조회 74,428' -> 74428, '(98)' -> 98, '1.2만' -> 12000, '1.2 k' -> 1200.

    None when there is no number: a count the page does not show is unknown, not 0.
    """
    if not text:
        return None
    match = _NUMBER.search(text)
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    return round(value * _UNITS.get(match.group(2) or "", 1))


def json_count(value: Any) -> int | None:
    """A count from a JSON value: 12, "1,204" -> ints; negatives, booleans, junk -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        return parse_count(value)
    return None


def json_id(value: Any) -> str | None:
    """An id from a JSON value (a number or a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def json_text(value: Any) -> str:
    """A JSON value that should be text; anything else reads as no text."""
    return value if isinstance(value, str) else ""


_ESCAPED_TAG = re.compile(r"&lt;\s*/?\s*[a-z][a-z0-9]*\b[^&<>]{0,300}?&gt;", re.I)


def json_html(value: Any) -> str:
    """A JSON value holding HTML, ready for ``clean_text``. Some sites send the markup
    escaped once more (dcinside's "사람 같음&lt;br&gt;"): escaped tags are unescaped,
    so they are dropped as tags, not shown as text."""
    text = json_text(value)
    return html.unescape(text) if _ESCAPED_TAG.search(text) else text


# Every bundled community writes its times in Korean time, often relative to now.
SITE_ZONE = ZoneInfo("Asia/Seoul")
_DATE_TIME = re.compile(
    r"(\d{4})[./-](\d{1,2})[./-](\d{1,2})(?:\D{1,8}?(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
_SHORT_YEAR = re.compile(r"(?<![\d.])(\d{2})[./-](\d{1,2})[./-](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?")
_AGO = re.compile(r"(\d+)\s*(초|분|시간|일|주)\s*전")
_AGO_UNITS = {"초": "seconds", "분": "minutes", "시간": "hours", "일": "days", "주": "weeks"}
_DAY_WORD = re.compile(
    r"(오늘|어제|그제|그저께)\s*(\d{1,2}):(\d{2})"
)  # a day alone says too little
_DAYS_BACK = {"오늘": 0, "어제": 1, "그제": 2, "그저께": 2}
_MONTH_DAY = re.compile(r"(?<![\d.])(\d{1,2})[./-](\d{1,2})(?![\d.])(?:\s+(\d{1,2}):(\d{2}))?")
_CLOCK = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])")


def parse_time(text: str | None, now: datetime | None = None) -> datetime | None:
    """When a post was written, from the text a site shows, in UTC (naive, as stored).

    Absolute forms: '2026.11.20 12:41', '등록일 2026-11-20 13:05', '2026.11.20 (금) 13:05',
    '26.11.20 13:05'. Forms read against ``now`` (the crawl time; default: this moment),
    in Korean time: '방금', '3 시간 전', '어제 13:20', '11.30' (this year, or last year
    when that is still to come), '13:20' (today, or yesterday when that is still to come).
    """
    if not text:
        return None
    here = (now or datetime.now(SITE_ZONE)).astimezone(SITE_ZONE).replace(tzinfo=None)
    local = _site_time(text, here)
    if local is None:
        return None
    return local.replace(tzinfo=SITE_ZONE).astimezone(UTC).replace(tzinfo=None)


def _site_time(text: str, now: datetime) -> datetime | None:
    try:
        if match := _DATE_TIME.search(text):
            return datetime(*(int(g) for g in match.groups() if g is not None))
        if match := _SHORT_YEAR.search(text):
            year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
            return datetime(2000 + year, month, day, hour, minute)
        if match := _AGO.search(text):
            amount, unit = int(match.group(1)), _AGO_UNITS[match.group(2)]
            return (now - timedelta(**{unit: amount})).replace(microsecond=0)
        if "방금" in text:
            return now.replace(microsecond=0)
        if match := _DAY_WORD.search(text):
            day = now - timedelta(days=_DAYS_BACK[match.group(1)])
            hour, minute = int(match.group(2)), int(match.group(3))
            return day.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if match := _MONTH_DAY.search(text):
            month, day = int(match.group(1)), int(match.group(2))
            hour, minute = int(match.group(3) or 0), int(match.group(4) or 0)
            when = datetime(now.year, month, day, hour, minute)
            # Lists leave out the year; a date still to come is last year's.
            return when.replace(year=now.year - 1) if when > now + timedelta(days=1) else when
        if match := _CLOCK.search(text):
            hour, minute, second = (int(g) if g else 0 for g in match.groups())
            when = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
            # A bare clock time is today's; one still to come was yesterday's.
            return when - timedelta(days=1) if when > now + timedelta(minutes=5) else when
    except ValueError:  # 2026.13.45, 25:61
        return None
    return None


_PIXEL_HINTS = re.compile(
    r"(^|[/_.-])(pixel|spacer|blank|1x1|transparent|tracking)([/_.-]|$)", re.I
)
_PLACEHOLDER = re.compile(r"(lazy|loading|placeholder|blank|grey|gray)\.(gif|png|svg)$", re.I)


MIN_PICTURE_PX = 64
_PX = re.compile(r"^\s*(\d+)\s*(px)?\s*$", re.I)


def _declared_px(value: str | None) -> float:
    """A width or height the page declares in pixels; infinity when it declares none."""
    match = _PX.match(value or "")
    return int(match.group(1)) if match else float("inf")


_VIDEO_ID = r"([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])"
# A player (<iframe>, <embed>) and a plain link name a YouTube video differently.
_YOUTUBE_EMBED = re.compile(
    r"^https?://(?:www\.)?(?:youtube(?:-nocookie)?\.com/(?:embed|shorts)/|youtu\.be/)" + _VIDEO_ID
)
_YOUTUBE_WATCH = re.compile(
    r"^https?://(?:(?:www\.|m\.)?youtube\.com/(?:watch\?(?:.*&)?v=|shorts/)|youtu\.be/)" + _VIDEO_ID
)


def _watch(pattern: re.Pattern[str], address: str | None, page_url: str) -> str | None:
    match = pattern.match(urljoin(page_url, address.strip())) if address else None
    return f"https://www.youtube.com/watch?v={match.group(1)}" if match else None


def youtube_embed(src: str | None, page_url: str) -> str | None:
    """The watch address of a YouTube player an <iframe> or <embed> shows, else None."""
    return _watch(_YOUTUBE_EMBED, src, page_url)


def youtube_link(href: str | None, page_url: str) -> str | None:
    """The watch address a plain link to a YouTube video names, else None."""
    return _watch(_YOUTUBE_WATCH, href, page_url)


def media_url(raw: str | None, page_url: str) -> str | None:
    """An absolute http(s) address for a video or poster attribute, else None."""
    if not raw or not raw.strip() or raw.strip().startswith(("data:", "javascript:", "blob:")):
        return None
    url = urljoin(page_url, raw.strip())
    return url if urlsplit(url).scheme in ("http", "https") else None


def img_source(attrs: dict[str, str]) -> str | None:
    """What an <img> really shows: a lazy-loading attribute (data-original, data-src,
    data-lazy-src) over the widest picture of its srcset over a placeholder src."""
    lazy = (attrs.get(k) for k in ("data-original", "data-src", "data-lazy-src"))
    candidates = (*lazy, _widest(attrs.get("srcset")), attrs.get("src"))
    return next((c for c in candidates if c and c.strip()), None)


def _widest(srcset: str | None) -> str | None:
    """The widest candidate of a srcset ("a.jpg 300w, b.jpg 1024w"), or its last one."""
    best, best_w = None, -1.0
    for candidate in (srcset or "").split(","):
        parts = candidate.split()
        if not parts:
            continue
        size = parts[1] if len(parts) > 1 else "1x"
        width = float(size[:-1]) if size[:-1].replace(".", "", 1).isdigit() else 0.0
        if width >= best_w:
            best, best_w = parts[0], width
    return best


def image_url(
    attrs: dict[str, str], page_url: str, exclude_hosts: frozenset[str] = frozenset()
) -> str | None:
    """The real image URL of an <img>, or None for tracking pixels and placeholders.

    Lazy-loading attributes (data-original, data-src, data-lazy-src) win over a
    placeholder src; relative and protocol-relative URLs become absolute.
    """
    source = img_source(attrs)
    if source is None or source.strip().startswith("?"):
        return None  # an editor's leftover (clien's src="?scale=width:740"): the page itself
    url = media_url(source, page_url)
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if any(host == h or host.endswith("." + h) for h in exclude_hosts):
        return None
    if any(_declared_px(attrs.get(side)) < MIN_PICTURE_PX for side in ("width", "height")):
        return None  # a pixel, an icon, a sticker: not a picture for a Short
    if _PIXEL_HINTS.search(parts.path) or _PLACEHOLDER.search(parts.path):
        return None
    if VIDEO_FILE.search(parts.path):
        return None  # a video (crawl.extract.post_videos keeps it as one)
    return url
