"""Site description + page HTML -> list entries and post items (parsel only, no Scrapy).

A selector that matches nothing gives a missing value, never an exception: a
redesigned page costs fields (counted by the spider), not the crawl.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector, SelectorList

from wagglebot.crawl.items import CommentItem, PostItem
from wagglebot.crawl.parsing import (
    VIDEO_FILE,
    clean_text,
    image_url,
    img_source,
    media_url,
    parse_count,
    parse_time,
    squash,
    youtube_embed,
    youtube_link,
)
from wagglebot.crawl.sites import Comments, Site

logger = logging.getLogger(__name__)


@dataclass
class ListEntry:
    origin_id: str
    url: str
    views: int | None = None
    likes: int | None = None
    comment_count: int | None = None


@dataclass
class Extraction:
    """A post item plus the names of the fields whose selectors matched nothing."""

    item: PostItem
    missing: list[str] = field(default_factory=list)


def _text(node: Selector | SelectorList, css: str | None) -> str | None:
    if not css:
        return None
    parts = [p for p in node.css(css).getall() if p and p.strip()]
    return " ".join(parts) if parts else None


def origin_id(site: Site, url: str) -> str | None:
    """The post's id from its address (path and query), or None when it is no post's."""
    parts = urlsplit(url)
    match = re.search(site.list.post_url, parts.path + (f"?{parts.query}" if parts.query else ""))
    if not match:
        return None
    return "_".join(g for g in match.groups() if g)


def post_link(site: Site, row: Selector, page_url: str) -> tuple[str, str] | None:
    """The row's post: the first candidate link whose address is a post's (url, id)."""
    for link in row.css(site.list.link):
        href = (link.attrib.get("href") or "").strip()
        if not href:
            continue
        url = urljoin(page_url, href)
        oid = origin_id(site, url)
        if oid:
            return _kept_query(url, site.list.keep_query), oid
    return None


def extract_list(site: Site, html: str, page_url: str) -> tuple[list[ListEntry], int, int]:
    """The posts linked from a list page, in page order; how many rows matched, and how
    many of them held a post link."""
    rows = Selector(text=html).css(site.list.row)
    entries: dict[str, ListEntry] = {}
    linked = 0
    for row in rows:
        found = post_link(site, row, page_url)
        if found is None:
            continue
        linked += 1
        url, oid = found
        if oid in entries:
            continue
        entries[oid] = ListEntry(
            origin_id=oid,
            url=url,
            views=parse_count(_text(row, site.list.views)),
            likes=parse_count(_text(row, site.list.likes)),
            comment_count=parse_count(_text(row, site.list.comment_count)),
        )
    return list(entries.values()), len(rows), linked


def _kept_query(url: str, keep: list[str] | None) -> str:
    if keep is None:
        return url
    parts = urlsplit(url)
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in keep]
    )
    return urlunsplit(parts._replace(query=query, fragment=""))


def is_gone(site: Site, html: str) -> bool:
    return bool(site.detail.gone and Selector(text=html).css(site.detail.gone))


def extract_post(site: Site, html: str, entry: ListEntry) -> Extraction:
    page = Selector(text=html)
    d = site.detail
    missing: list[str] = []

    def value(name: str, css: str | None) -> str | None:
        found = _text(page, css)
        if css and found is None:
            missing.append(name)
        return found

    title = squash(value("title", d.title))
    for css in d.exclude_text:
        page.css(css).drop()
    body_nodes = page.css(d.body)
    if not body_nodes:
        missing.append("body")
    content = clean_text("\n".join(body_nodes.getall()))
    # The elements themselves are kept: lxml hands out the same proxy for a node while one
    # is alive, so membership is identity.
    not_pictures = [n.root for css in d.exclude_images for n in page.css(css)]
    images = []
    for img in page.css(d.images) if d.images else []:
        if _among(img, not_pictures):
            continue
        url = image_url(dict(img.attrib), entry.url, site.exclude_image_hosts)
        if url:
            images.append(url)

    videos = post_videos(body_nodes, entry.url, d.video_player, not_pictures)

    def count(name: str, css: str | None, fallback: int | None) -> int | None:
        found = parse_count(value(name, css)) if css else None
        if found is None and name in d.inline_counts:
            stated = re.search(d.inline_counts[name], html)  # type: ignore[index]
            found = int(stated.group(1)) if stated else None
        return found if found is not None else fallback

    item = PostItem(
        site_code=site.site_code,
        origin_id=entry.origin_id,
        url=entry.url,
        title=title,
        content=content,
        images=images,
        videos=videos,
        views=count("views", d.views, entry.views),
        likes=count("likes", d.likes, entry.likes),
        comment_count=count("comment_count", d.comment_count, entry.comment_count),
        posted_at=parse_time(value("posted_at", d.posted_at)),
        comments=extract_comments(site, page, html),
    )
    return Extraction(item, missing)


def _among(node: Selector, elements: Sequence[object]) -> bool:
    return any(node.root is e for e in elements)


def post_videos(
    body: SelectorList,
    page_url: str,
    player: str | None = None,
    not_videos: Sequence[object] = (),
) -> list[dict[str, str | None]]:
    """The post's videos, in page order: each <video> (its src or first <source>, and its
    poster) as a "file"; each embedded YouTube player as "youtube"; each of the site's own
    players (``player``: a pattern on the iframe's path and query) as "player", its page
    holding the <video>. ``not_videos``: elements that are stickers, not videos."""
    found: list[dict[str, str | None]] = []
    for node in body.css("video, iframe, embed, img, a[href]"):
        if _among(node, not_videos):
            continue
        if node.root.tag == "a":  # a YouTube link the site's script turns into a player
            if watch := youtube_link(node.attrib.get("href"), page_url):
                found.append({"kind": "youtube", "url": watch, "poster": None})
            continue
        if node.root.tag == "img":  # an <img> naming a video file
            url = media_url(img_source(dict(node.attrib)), page_url)
            if url and VIDEO_FILE.search(urlsplit(url).path):
                found.append({"kind": "file", "url": url, "poster": None})
            continue
        if node.root.tag in ("iframe", "embed"):
            src = node.attrib.get("src") or node.attrib.get("data-src")
            if watch := youtube_embed(src, page_url):
                found.append({"kind": "youtube", "url": watch, "poster": None})
            elif player and (url := _own_player(src, page_url, player)):
                found.append({"kind": "player", "url": url, "poster": None})
            continue
        sources = [node.attrib.get("src"), *node.css("source::attr(src)").getall()]
        url = next((u for u in (media_url(s, page_url) for s in sources) if u), None)
        if url:
            poster = media_url(node.attrib.get("poster"), page_url)
            found.append({"kind": "file", "url": url, "poster": poster})
    unique: dict[str | None, dict[str, str | None]] = {}
    for video in found:  # the first mention wins: a <video> with its poster over a bare <img>
        unique.setdefault(video["url"], video)
    return list(unique.values())


def _own_player(src: str | None, page_url: str, pattern: str) -> str | None:
    url = media_url(src, page_url)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc != urlsplit(page_url).netloc:
        return None
    where = parts.path + (f"?{parts.query}" if parts.query else "")
    return url if re.search(pattern, where) else None


def extract_comments(site: Site, page: Selector, html: str) -> list[CommentItem]:
    """The best comments on the post page itself (none when they come by a follow-up)."""
    if site.comments_request:
        return []
    if site.comments_hook:
        return run_hook(site, html)
    return comments_in_html(site.comments, page) if site.comments else []


def run_hook(site: Site, text: str) -> list[CommentItem]:
    """The site's comments hook on a page or a follow-up answer; a broken hook costs the
    post its comments, not the post."""
    assert site.comments_hook
    try:
        return _hook(site.comments_hook)(text, site)
    except Exception:
        logger.exception("%s: comments hook %s failed", site.site_code, site.comments_hook)
        return []


def comments_in_html(spec: Comments, page: Selector) -> list[CommentItem]:
    rows = (
        (
            " ".join(row.css(spec.text).getall()),
            _text(row, spec.author),
            parse_count(_text(row, spec.likes)),
            _text(row, spec.id),
        )
        for row in page.css(spec.row)
    )
    return best_comments(spec, rows)


def best_comments(
    spec: Comments, rows: Iterable[tuple[str, str | None, int | None, str | None]]
) -> list[CommentItem]:
    """The first ``spec.limit`` comments with text, from (text HTML, author, likes, raw id)
    however a page or an answer holds them; the id is what ``spec.id_pattern`` finds. A
    comment shown twice (fmkorea repeats its best ones above the thread) counts once."""
    comments: list[CommentItem] = []
    seen: set[str] = set()
    for html, author, likes, raw_id in rows:
        text = clean_text(html)
        if not text:
            continue
        match = re.search(spec.id_pattern, raw_id) if raw_id else None
        if match and match.group(1) in seen:
            continue
        if match:
            seen.add(match.group(1))
        comments.append(
            CommentItem(
                content=text,
                author=squash(author) or None,
                likes=likes,
                origin_comment_id=match.group(1) if match else None,
            )
        )
        if len(comments) >= spec.limit:
            break
    return comments


def _hook(path: str) -> Callable[[str, Site], list[CommentItem]]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
