"""Every site's saved-structure pages parse to exactly the hand-written expected values.

Pages are decoded as Scrapy decodes them (HTTP header, then <meta>), from the
Content-Type each route is served with; no network.
"""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from wagglebot.crawl.extract import extract_list, extract_post
from wagglebot.crawl.items import InvalidItem
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
    for n, rows_expected in sorted(want["list_rows"].items()):
        path = site.list.url.format(page=int(n))
        entries, rows = extract_list(site, _page(site_code, table[path], BASE + path), BASE + path)
        assert rows == rows_expected, f"list page {n}"
        for entry in entries:
            if entry.origin_id in seen:
                continue
            seen.add(entry.origin_id)
            route = table[entry.url.removeprefix(BASE)]
            if route.get("status", 200) != 200:
                dropped.append({"origin_id": entry.origin_id, "why": f"http_{route['status']}"})
                continue
            item = extract_post(site, _page(site_code, route, entry.url), entry).item
            try:
                posts.append(item_shape(item.validated()))
            except InvalidItem as exc:
                dropped.append({"origin_id": entry.origin_id, "why": exc.reason})
    assert posts == want["posts"]
    assert dropped == [d for d in want["dropped"] if d["why"] != "robots_txt"]


@pytest.mark.parametrize("site_code", SITES)
def test_fixtures_cover_the_edge_cases(site_code: str) -> None:
    want = expected(site_code, BASE)
    posts, whys = want["posts"], {d["why"] for d in want["dropped"]}
    if site_code != "nate_tok":  # nate_tok shares nate_pann's pages; these live there
        assert "http_404" in whys, "a deleted post"
        assert whys & {"missing_title", "empty_post"}, "a malformed page"
        assert any(p["images"] == [] for p in posts), "a post without images"
        assert any(p["images"] for p in posts), "a post with images"
    assert any(None in (p["views"], p["likes"], p["comment_count"]) for p in posts), (
        "a missing count"
    )
    assert any(p["comments"] for p in posts), "best comments"
    if site_code != "ppomppu":  # EUC-KR cannot hold emoji bytes; ppomppu uses an entity
        assert any(any(ord(ch) > 0xFFFF for ch in p["title"] + p["content"]) for p in posts)
