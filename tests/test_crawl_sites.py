"""Every site's saved-structure pages parse to exactly the hand-written expected values.

Pages are decoded as Scrapy decodes them (HTTP header, then <meta>), from the
Content-Type each route is served with; no network.
"""

from __future__ import annotations

from collections import Counter

import pytest
from scrapy.http import HtmlResponse
from wagglebot_stack.sample_site import route_for

from wagglebot.crawl.extract import extract_list, extract_post, is_gone
from wagglebot.crawl.follow_up import FollowUpError, comments_from_answer, follow_up_request
from wagglebot.crawl.items import CommentItem, InvalidItem
from wagglebot.crawl.sites import get_site

from crawl_support import SAMPLE_DIR, SITES, expected, item_shape, routes

BASE = "http://127.0.0.1:9"


def _page(site_code: str, route: dict, url: str) -> str:
    body = (SAMPLE_DIR / site_code / route["file"]).read_bytes()
    headers = {"Content-Type": route.get("content_type", "text/html; charset=utf-8")}
    return HtmlResponse(url=url, body=body, headers=headers).text


@pytest.mark.parametrize("site_code", SITES)
def test_pages_parse_to_the_expected_posts(site_code: str) -> None:
    site, table, want = get_site(site_code), routes(site_code), expected(site_code, BASE)
    # robots.txt refusals only happen in a real crawl (tests/test_crawl_e2e.py).
    robots = {d["origin_id"] for d in want["dropped"] if d["why"] == "robots_txt"}
    posts, dropped, seen = [], [], set(robots)
    unfetched: Counter[str] = Counter()
    pages = sorted(int(n) for n in want["list_rows"])
    first = site.list.first_page
    assert pages == list(range(first, first + site.list.pages)), "the pages a crawl reads"
    for n in pages:
        rows_expected = want["list_rows"][str(n)]
        path = site.list.url.format(page=int(n))
        entries, rows, _ = extract_list(
            site, _page(site_code, table[path], BASE + path), BASE + path
        )
        assert rows == rows_expected, f"list page {n}"
        for entry in entries:
            if entry.origin_id in seen:
                continue
            seen.add(entry.origin_id)
            route = table[entry.url.removeprefix(BASE)]
            if route.get("status", 200) != 200:
                dropped.append({"origin_id": entry.origin_id, "why": f"http_{route['status']}"})
                continue
            html = _page(site_code, route, entry.url)
            if is_gone(site, html):
                dropped.append({"origin_id": entry.origin_id, "why": "gone"})
                continue
            item = extract_post(site, html, entry).item
            try:
                item.validated()
            except InvalidItem as exc:
                dropped.append({"origin_id": entry.origin_id, "why": exc.reason})
                continue
            if site.comments_request:
                item.comments, why = _follow_up(site_code, html, entry.url, entry.origin_id)
                unfetched.update([why] if why else [])
            posts.append(item_shape(item.validated()))
    assert posts == want["posts"]
    assert dropped == [d for d in want["dropped"] if d["why"] != "robots_txt"]
    assert dict(unfetched) == want.get("comments_unfetched", {})


def _follow_up(
    site_code: str, html: str, page_url: str, origin_id: str
) -> tuple[list[CommentItem], str | None]:
    """The comments the site's follow-up request brings from the sample site's routes,
    answered as the sample server answers it, and why none came when none did."""
    site = get_site(site_code)
    try:
        ask = follow_up_request(site, html, page_url, origin_id)
    except FollowUpError as exc:
        return [], exc.reason
    path = ask.url.removeprefix(BASE)
    route = route_for(routes(site_code), ask.method, path, ask.headers, ask.body)
    if route is None or route.get("status", 200) != 200:
        return [], f"http_{route['status'] if route else 404}"
    try:
        return comments_from_answer(site, _page(site_code, route, ask.url)), None
    except FollowUpError as exc:
        return [], exc.reason


@pytest.mark.parametrize("site_code", SITES)
def test_fixtures_cover_the_edge_cases(site_code: str) -> None:
    want = expected(site_code, BASE)
    posts, whys = want["posts"], {d["why"] for d in want["dropped"]}
    if site_code != "nate_tok":  # nate_tok shares nate_pann's pages; these live there
        assert whys & {"http_404", "gone"}, "a deleted post (a 404, or the site's notice)"
        assert whys & {"missing_title", "empty_post"}, "a malformed page"
        assert any(p["images"] == [] for p in posts), "a post without images"
        assert any(p["images"] for p in posts), "a post with images"
    assert any(None in (p["views"], p["likes"], p["comment_count"]) for p in posts), (
        "a missing count"
    )
    assert any(p["comments"] for p in posts), "best comments"
    if site_code != "ppomppu":  # EUC-KR cannot hold emoji bytes; ppomppu uses an entity
        assert any(any(ord(ch) > 0xFFFF for ch in p["title"] + p["content"]) for p in posts)
