"""Parsing helpers, item validation and the crawl diagnosis, without a network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from wagglebot_scrapy.middlewares import retry_after_seconds

from wagglebot.crawl.items import MAX_CONTENT, CommentItem, InvalidItem, PostItem
from wagglebot.crawl.parsing import (
    SITE_ZONE,
    clean_text,
    image_url,
    parse_count,
    parse_time,
    squash,
)
from wagglebot.crawl.report import CrawlReport
from wagglebot.crawl.sites import Site, SiteError, all_sites, load_site


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("조회 74,428", 74428),
        ("(98)", 98),
        ("추천 0", 0),
        ("1.2만", 12000),
        ("3천", 3000),
        ("1.2 k", 1200),
        ("조회수 25634", 25634),
        ("", None),
        (None, None),
        ("조회 -", None),
    ],
)
def test_counts(text: str | None, value: int | None) -> None:
    assert parse_count(text) == value


def test_clean_text_strips_markup_but_keeps_lines() -> None:
    fragment = (
        "<div><p>첫 줄&nbsp;&nbsp;입니다</p><script>var x = '<p>no</p>';</script>"
        "<p>둘째<br/>셋째</p><style>p{}</style>  <p>  &lt;b&gt;굵게 아님&lt;/b&gt; 😂 </p></div>"
    )
    assert clean_text(fragment) == "첫 줄 입니다\n둘째\n셋째\n<b>굵게 아님</b> 😂"
    assert clean_text("") == ""
    assert squash("  <b>제목</b>\n  & 더 ") == "<b>제목</b> & 더"


def test_inline_styling_inside_a_word_does_not_split_it() -> None:
    fragment = '<p><b>바삭</b>합니다 <span style="color:red">정말</span><font size=3>로</font></p>'
    assert clean_text(fragment) == "바삭합니다 정말로"
    assert clean_text("<td>셀</td><td>둘</td><img src=x>끝") == "셀 둘 끝"  # others still part


# The crawl's clock for the relative forms: 2026-11-20 14:30 in Seoul (05:30 UTC).
NOW = datetime(2026, 11, 20, 14, 30, tzinfo=SITE_ZONE)


def _seoul(*args: int) -> datetime:
    """A time as a Korean page shows it, as stored: naive UTC."""
    return datetime(*args, tzinfo=SITE_ZONE).astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026.11.20 12:41", _seoul(2026, 11, 20, 12, 41)),
        ("등록일 2026-11-20 13:05", _seoul(2026, 11, 20, 13, 5)),
        ("조회 추천 2026.11.20 (금) 13:05", _seoul(2026, 11, 20, 13, 5)),
        ("2026.11.20 (13:05:09)", _seoul(2026, 11, 20, 13, 5, 9)),
        ("2026/1/2", _seoul(2026, 1, 2)),
        ("26.11.19 23:50", _seoul(2026, 11, 19, 23, 50)),
        ("방금", _seoul(2026, 11, 20, 14, 30)),
        ("방금 전", _seoul(2026, 11, 20, 14, 30)),
        ("3 시간 전", _seoul(2026, 11, 20, 11, 30)),
        ("15분 전", _seoul(2026, 11, 20, 14, 15)),
        ("2일 전", _seoul(2026, 11, 18, 14, 30)),
        ("어제 13:20", _seoul(2026, 11, 19, 13, 20)),
        ("오늘 09:05", _seoul(2026, 11, 20, 9, 5)),
        ("11.30", _seoul(2025, 11, 30)),  # still to come this year: last year's
        ("11.19", _seoul(2026, 11, 19)),
        ("11-19 08:15", _seoul(2026, 11, 19, 8, 15)),
        ("13:20", _seoul(2026, 11, 20, 13, 20)),
        ("23:10", _seoul(2026, 11, 19, 23, 10)),  # later than now: yesterday's
        ("2026.13.45 10:00", None),
        ("어제", None),
        ("25:61", None),
        ("추천 12", None),
        (None, None),
    ],
)
def test_times_as_the_sites_write_them_stored_in_utc(
    text: str | None, when: datetime | None
) -> None:
    assert parse_time(text, now=NOW) == when


def test_relative_times_read_against_the_crawl_clock_in_seoul() -> None:
    # 23:30 UTC on the 19th is already 08:30 on the 20th in Seoul: "오늘" is the 20th.
    late_utc = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert parse_time("오늘 08:00", now=late_utc) == datetime(2026, 11, 19, 23, 0)
    assert parse_time("1 시간 전", now=late_utc) == datetime(2026, 11, 19, 22, 30)


@pytest.mark.parametrize(
    ("attrs", "url"),
    [
        ({"src": "/img/a.jpg"}, "https://site.kr/img/a.jpg"),
        ({"src": "//cdn.kr/a.jpg"}, "https://cdn.kr/a.jpg"),
        (
            {"src": "/img/loading.gif", "data-original": "https://cdn.kr/real.jpg"},
            "https://cdn.kr/real.jpg",
        ),
        (
            {"src": "https://cdn.kr/blank.gif", "data-src": "https://cdn.kr/b.png"},
            "https://cdn.kr/b.png",
        ),
        ({"src": "https://nate.zza.kr/log.gif"}, None),  # excluded tracker host
        ({"src": "https://cdn.kr/x.gif", "width": "1", "height": "1"}, None),
        ({"src": "https://cdn.kr/pixel.gif"}, None),
        ({"src": "data:image/gif;base64,R0lGOD"}, None),
        ({"src": "javascript:void(0)"}, None),
        ({}, None),
    ],
)
def test_image_urls(attrs: dict, url: str | None) -> None:
    assert image_url(attrs, "https://site.kr/talk/1", frozenset({"nate.zza.kr"})) == url


def _post(**fields: object) -> PostItem:
    values = {
        "site_code": "s",
        "origin_id": "1",
        "url": "https://s/1",
        "title": "제목",
        "content": "본문",
    }
    return PostItem(**(values | fields))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": ""}, "missing_title"),
        ({"origin_id": ""}, "missing_origin_id"),
        ({"content": "", "images": []}, "empty_post"),
        ({"views": -3}, "bad_views"),
        ({"likes": 2**40}, "bad_likes"),
    ],
)
def test_invalid_items_say_why(fields: dict, reason: str) -> None:
    with pytest.raises(InvalidItem) as info:
        _post(**fields).validated()
    assert info.value.reason == reason


def test_huge_posts_are_trimmed_and_comments_deduplicated() -> None:
    best = CommentItem(content="같은 댓글", author="a", likes=3)
    item = _post(
        title="제" * 600,
        content="본" * (MAX_CONTENT + 5000),
        images=["https://i/1"] * 3,
        comments=[
            best,
            CommentItem(content="같은 댓글", author="a", likes=3),
            CommentItem(content="", author="b"),
        ],
    ).validated()
    assert len(item.title) == 512
    assert item.title.endswith("…")
    assert len(item.content) == MAX_CONTENT
    assert item.images == ["https://i/1"]
    assert [c.key for c in item.comments] == [best.key]
    assert best.key == "sha256:" + best.content_hash
    assert CommentItem(content="x", origin_comment_id="77").key == "id:77"
    assert _post(content="", images=["https://i/1"]).validated().content == ""  # images only


def test_retry_after_values() -> None:
    assert retry_after_seconds(b"120") == 120
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(soon) <= 31
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


ROWS_SITE = Site.model_validate({
    "site_code": "rows_site", "name": "s", "base_url": "https://s.example",
    "list": {"url": "/l?page={page}", "row": "ul.rows > li", "link": "a.t",
             "post_url": r"^/p/(\d+)$"},
    "detail": {"title": "h1::text", "body": "div.view"},
})  # fmt: skip


@pytest.mark.parametrize(
    ("stats", "cause"),
    [
        ({"robotstxt/forbidden": 2}, "robots.txt forbids the list pages"),
        (
            {
                "downloader/response_status_count/200": 2,
                "wagglebot/list_pages": 2,
                "wagglebot/list_rows": 20,
            },
            r"no post link in 20 list rows (selector a.t, pattern ^/p/(\d+)$): the site's list "
            "layout changed; no post page was requested",
        ),
        (
            {
                "downloader/response_status_count/200": 7,
                "wagglebot/list_pages": 2,
                "wagglebot/list_rows": 5,
                "wagglebot/list_links": 5,
                "wagglebot/post_pages": 5,
                "wagglebot/missing/body": 5,
                "item_dropped_count": 5,
                "wagglebot/dropped/empty_post": 5,
            },
            "5 post pages loaded but none gave a post: the body selector 'div.view' found "
            "nothing on 5 pages: the site's post page layout changed",
        ),
        (
            {"downloader/response_status_count/403": 2},
            "blocked or rate-limited by the site (HTTP 403 ×2)",
        ),
        ({}, "site unreachable"),
        (
            {"downloader/response_status_count/200": 2, "wagglebot/list_pages": 2},
            "layout changed: the list row selector 'ul.rows > li' matched nothing on 2 list "
            "page(s)",
        ),
        (
            {
                "downloader/response_status_count/200": 6,
                "wagglebot/list_pages": 1,
                "wagglebot/list_rows": 5,
                "wagglebot/list_links": 5,
                "item_dropped_count": 5,
                "wagglebot/dropped/missing_title": 5,
            },
            "every post was rejected (missing_title ×5)",
        ),
        (
            {
                "downloader/response_status_count/200": 6,
                "wagglebot/list_pages": 1,
                "wagglebot/list_rows": 5,
                "wagglebot/posts_new": 5,
            },
            None,
        ),
    ],
)
def test_likely_cause(stats: dict, cause: str | None) -> None:
    found = CrawlReport.from_stats("s", stats).likely_cause(ROWS_SITE)
    assert found == cause if cause is None else found.startswith(cause)


def test_every_bundled_site_loads() -> None:
    sites = all_sites()
    assert {"nate_pann", "nate_tok", "bobaedream", "ruliweb", "ppomppu"} <= set(sites)


def test_a_bad_site_description_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("site_code: broken\nname: x\nbase_url: https://x\nlist: {url: /l}\n")
    with pytest.raises(
        SiteError, match=r"broken.yaml: list.row: Field required; list.link: Field required"
    ):
        load_site(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        (Path(__file__).parents[1] / "include/wagglebot/crawl/sites/nate_pann.yaml")
        .read_text()
        .replace("site_code: nate_pann", "site_code: typo")
        .replace("  row:", "  rwo:", 1)
    )
    with pytest.raises(SiteError, match=r"typo\.yaml: list\.row: Field required; list\.rwo: Extra"):
        load_site(typo)


def test_brotli_is_installed_so_advertising_br_is_safe() -> None:
    # A peer advertised `br` without brotli installed and got undecodable pages.
    from scrapy.downloadermiddlewares.httpcompression import ACCEPTED_ENCODINGS

    assert b"br" in ACCEPTED_ENCODINGS


@pytest.mark.parametrize(
    ("size", "kept"),
    [
        ({}, True),
        ({"width": "640", "height": "480"}, True),
        ({"width": "64"}, True),
        ({"width": "100%"}, True),  # relative: says nothing of the picture's size
        ({"width": "63"}, False),
        ({"height": "20px"}, False),  # a level icon
        ({"width": "1", "height": "1"}, False),  # a tracking pixel
    ],
)
def test_images_the_page_declares_smaller_than_64_px_are_no_pictures(
    size: dict, kept: bool
) -> None:
    url = image_url({"src": "/files/p.jpg", **size}, "https://s.example/post/1")
    assert (url == "https://s.example/files/p.jpg") is kept
