"""Answers that are a site's bot defence, not its pages: recognised before any parsing.

A challenge page served with HTTP 200 would otherwise match no list rows and be
reported as a layout change; the real signal (which defence, on which answer)
is what a person needs to decide what to do.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.http.headers import Headers  # case-insensitive, as header names are

_CF_BODY = re.compile(
    rb"/cdn-cgi/challenge-platform/"
    rb"|<title>\s*Just a moment\.\.\.\s*</title>"
    rb"|cf-browser-verification",
    re.I,
)
_JS_REDIRECT = re.compile(
    rb"""(?:window\.|document\.|top\.)?location(?:\.href)?\s*=\s*["']([^"']+)["']"""
    rb"""|location\.replace\(\s*["']([^"']+)["']\s*\)""",
    re.I,
)
_VISIBLE_TEXT = re.compile(rb"<body[^>]*>(.*?)</body>", re.I | re.S)
_TAGS_AND_SCRIPTS = re.compile(rb"<script\b.*?</script>|<[^>]+>", re.I | re.S)
JS_PAGE_MAX_BYTES = 4096  # a real post page is far larger than a bare redirect


def block_signal(status: int, headers: Headers, body: bytes) -> str | None:
    """What marks this answer as a bot block ('Cloudflare challenge (cf-mitigated header)',
    'HTTP 430', 'JavaScript redirect to /x'), or None for an ordinary page."""
    if (headers.get(b"cf-mitigated") or b"").lower() == b"challenge":
        return "Cloudflare challenge (cf-mitigated: challenge)"
    if _CF_BODY.search(body[:65536]):
        return f"Cloudflare challenge page (HTTP {status})"
    if status == 430:
        return "HTTP 430 (request blocked by the site's CDN)"
    if status == 200 and len(body) <= JS_PAGE_MAX_BYTES:
        redirect = _JS_REDIRECT.search(body)
        if redirect and not _visible_text(body):
            target = (redirect.group(1) or redirect.group(2) or b"").decode("latin-1")
            return f"JavaScript redirect page (to {target[:80]})"
    return None


def _visible_text(body: bytes) -> bytes:
    match = _VISIBLE_TEXT.search(body)
    inner = match.group(1) if match else b""
    return _TAGS_AND_SCRIPTS.sub(b"", inner).strip()
