"""Bot-defence answers are told apart from pages, and no sample page is taken for one."""

from __future__ import annotations

import pytest
from scrapy.http.headers import Headers

from wagglebot.crawl.antibot import block_signal

from crawl_support import SAMPLE_DIR

CF_PAGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b"<div id='challenge'></div><script src='/cdn-cgi/challenge-platform/h/b/orchestrate/'>"
    b"</script></body></html>"
)
JS_PAGE = b"<html><head></head><body><script>location.href='/login?r=1';</script></body></html>"


@pytest.mark.parametrize(
    ("status", "headers", "body", "signal"),
    [
        (
            403,
            {b"cf-mitigated": [b"challenge"]},
            b"",
            "Cloudflare challenge (cf-mitigated: challenge)",
        ),
        (503, {}, CF_PAGE, "Cloudflare challenge page (HTTP 503)"),
        (200, {}, CF_PAGE, "Cloudflare challenge page (HTTP 200)"),
        (430, {}, b"", "HTTP 430 (request blocked by the site's CDN)"),
        (200, {}, JS_PAGE, "JavaScript redirect page (to /login?r=1)"),
        (
            200,
            {},
            b"<html><body><script>window.location.replace('https://x.kr/');</script></body></html>",
            "JavaScript redirect page (to https://x.kr/)",
        ),
        # A page with text beside its script is a page, not a redirect.
        (200, {}, b"<body><p>\xea\xb8\x80</p><script>location.href='/x'</script></body>", None),
        (403, {}, b"Forbidden", None),  # a plain refusal: the status says it already
        (200, {}, b"<html><body>ok</body></html>", None),
    ],
)
def test_signals(status: int, headers: dict, body: bytes, signal: str | None) -> None:
    assert block_signal(status, Headers(headers), body) == signal


@pytest.mark.parametrize(
    "page", sorted(SAMPLE_DIR.glob("*/*.html")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_no_sample_page_looks_like_a_block(page) -> None:
    assert block_signal(200, Headers(), page.read_bytes()) is None
