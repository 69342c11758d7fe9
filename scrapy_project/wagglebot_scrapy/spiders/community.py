"""The one spider: list pages -> detail pages [-> comments request] -> PostItem, as a site
description says.

scrapy crawl community -a site=nate_pann [-a base_url=http://127.0.0.1:8700] [-a pages=1]
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from wagglebot.crawl.antibot import block_signal
from wagglebot.crawl.extract import ListEntry, extract_list, extract_post, is_gone
from wagglebot.crawl.follow_up import FollowUpError, comments_from_answer, follow_up_request
from wagglebot.crawl.items import InvalidItem, PostItem
from wagglebot.crawl.sites import get_site


class CommunitySpider(scrapy.Spider):
    name = "community"

    def __init__(
        self, site: str, base_url: str | None = None, pages: int | str | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.site = get_site(site)
        self.base_url = (base_url or self.site.base_url).rstrip("/")
        self.pages = int(pages) if pages else self.site.list.pages
        self.seen: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        first = self.site.list.first_page
        for page in range(first, first + self.pages):
            yield scrapy.Request(
                self.site.list_url(page, self.base_url),
                callback=self.parse_list,
                errback=self.failed,
                cb_kwargs={"page": page},
            )

    def _text(self, response: Response) -> str:
        if self.site.encoding:  # only for sites whose pages mislabel their charset
            return response.body.decode(self.site.encoding, errors="replace")
        return response.text

    def blocked(self, response: Response) -> bool:
        """Count and log an answer that is the site's bot defence; it is never parsed."""
        signal = block_signal(response.status, response.headers, response.body)
        if signal is None:
            return False
        self.crawler.stats.inc_value(f"wagglebot/blocked/{signal}")
        self.logger.warning("blocked by the site on %s: %s", response.url, signal)
        return True

    def parse_list(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        if self.blocked(response):
            return
        entries, rows, linked = extract_list(self.site, self._text(response), response.url)
        self.crawler.stats.inc_value("wagglebot/list_pages")
        self.crawler.stats.inc_value("wagglebot/list_rows", rows)
        self.crawler.stats.inc_value("wagglebot/list_links", linked)
        if not rows:
            self.logger.warning(
                "list page %d (%s): selector %r matched no rows",
                page,
                response.url,
                self.site.list.row,
            )
        elif not linked:
            self.logger.warning(
                "list page %d (%s): no post link in %d rows (links %r, post address %r)",
                page,
                response.url,
                rows,
                self.site.list.link,
                self.site.list.post_url,
            )
        for entry in entries:
            if entry.origin_id in self.seen:  # the same post on two list pages
                continue
            self.seen.add(entry.origin_id)
            yield response.follow(
                entry.url, callback=self.parse_post, errback=self.failed, cb_kwargs={"entry": entry}
            )

    def parse_post(
        self, response: Response, entry: ListEntry
    ) -> Iterator[PostItem | scrapy.Request]:
        if self.blocked(response):
            return
        self.crawler.stats.inc_value("wagglebot/post_pages")
        html = self._text(response)
        if is_gone(self.site, html):
            self.crawler.stats.inc_value("wagglebot/posts_gone")
            return
        extraction = extract_post(self.site, html, entry)
        for field in extraction.missing:
            self.crawler.stats.inc_value(f"wagglebot/missing/{field}")
        if self.site.comments_request is None or not _storable(extraction.item):
            yield extraction.item  # (a post the pipeline will drop needs no comments)
            return
        try:
            ask = follow_up_request(self.site, html, response.url, entry.origin_id)
        except FollowUpError as exc:
            yield self.without_comments(extraction.item, exc)
            return
        # The item travels with its comments request and leaves from its callback or
        # errback: a post is stored once, with or without the comments.
        yield scrapy.Request(
            ask.url,
            method=ask.method,
            headers=ask.headers,
            body=ask.body,
            callback=self.parse_comments,
            errback=self.comments_failed,
            cb_kwargs={"item": extraction.item},
        )

    def parse_comments(self, response: Response, item: PostItem) -> Iterator[PostItem]:
        if self.blocked(response):
            yield self.without_comments(item, FollowUpError("blocked", response.url))
            return
        try:
            item.comments = comments_from_answer(self.site, self._text(response))
        except FollowUpError as exc:
            yield self.without_comments(item, exc)
            return
        yield item

    def comments_failed(self, failure: Failure) -> Iterator[PostItem]:
        item = failure.request.cb_kwargs["item"]
        if failure.check(HttpError):
            response = failure.value.response
            reason = "blocked" if self.blocked(response) else f"http_{response.status}"
        elif failure.check(IgnoreRequest):  # robots.txt, or a Retry-After over the cap
            reason = "robots_txt" if "robots.txt" in failure.getErrorMessage() else "ignored"
        else:
            reason = failure.type.__name__
        yield self.without_comments(item, FollowUpError(reason, failure.getErrorMessage()))

    def without_comments(self, item: PostItem, exc: FollowUpError) -> PostItem:
        """The post as it is, its comments lost and counted (never the post)."""
        self.crawler.stats.inc_value(f"wagglebot/comments_unfetched/{exc.reason}")
        self.logger.warning("comments of %s not fetched, post kept without them: %s", item.url, exc)
        item.comments = []
        return item

    def failed(self, failure: Failure) -> None:
        """Count a failed request; none of them stops the crawl.

        A deleted post (404/410) is news, not an error; robots.txt refusals are counted
        by Scrapy itself; anything else (5xx after retries, network errors) is an error.
        """
        stats = self.crawler.stats
        if failure.check(HttpError) and self.blocked(failure.value.response):
            return
        if failure.check(HttpError) and failure.value.response.status in (404, 410):
            stats.inc_value("wagglebot/posts_gone")
        elif failure.check(IgnoreRequest) and not failure.check(HttpError):
            return
        else:
            stats.inc_value(f"wagglebot/request_failed/{failure.type.__name__}")
            self.logger.warning("request failed: %s", failure.getErrorMessage())


def _storable(item: PostItem) -> bool:
    try:
        item.validated()
    except InvalidItem:
        return False
    return True
