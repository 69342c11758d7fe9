"""Turning page fragments into clean values: text, counts, times, image URLs."""

from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/h\d|/tr|/blockquote)\b[^>]*>", re.I)
_DROP_BLOCKS = re.compile(r"<\s*(script|style|noscript|template)\b.*?<\s*/\s*\1\s*>", re.I | re.S)
_TAGS = re.compile(r"<[^>]+>")
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
    text = html.unescape(_TAGS.sub(" ", text))
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


_DATE_TIME = re.compile(
    r"(\d{4})[./-](\d{1,2})[./-](\d{1,2})(?:\D{1,8}?(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


def parse_time(text: str | None) -> datetime | None:
    """The first date (and time) written in the text, in the sites' own forms:
    '2026.11.20 12:41', '등록일 2026-11-20 13:05', '2026.11.20 (금) 13:05', '2026.11.20 (13:05:09)'.
    """
    match = _DATE_TIME.search(text or "")
    if not match:
        return None
    try:
        return datetime(*(int(g) for g in match.groups() if g is not None))
    except ValueError:  # 2026.13.45
        return None


_PIXEL_HINTS = re.compile(
    r"(^|[/_.-])(pixel|spacer|blank|1x1|transparent|tracking)([/_.-]|$)", re.I
)
_PLACEHOLDER = re.compile(r"(lazy|loading|placeholder|blank|grey|gray)\.(gif|png|svg)$", re.I)


def image_url(
    attrs: dict[str, str], page_url: str, exclude_hosts: frozenset[str] = frozenset()
) -> str | None:
    """The real image URL of an <img>, or None for tracking pixels and placeholders.

    Lazy-loading attributes (data-original, data-src, data-lazy-src) win over a
    placeholder src; relative and protocol-relative URLs become absolute.
    """
    candidates = [attrs.get(k) for k in ("data-original", "data-src", "data-lazy-src", "src")]
    raw = next((c.strip() for c in candidates if c and c.strip()), None)
    if not raw or raw.startswith(("data:", "javascript:")):
        return None
    url = urljoin(page_url, raw)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    host = parts.hostname or ""
    if any(host == h or host.endswith("." + h) for h in exclude_hosts):
        return None
    if attrs.get("width") in ("0", "1") or attrs.get("height") in ("0", "1"):
        return None
    if _PIXEL_HINTS.search(parts.path) or _PLACEHOLDER.search(parts.path):
        return None
    return url
