"""Validate items (dropping bad ones with a counted reason), then store them in batches."""

from __future__ import annotations

import asyncio

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from wagglebot.crawl.items import InvalidItem, PostItem
from wagglebot.crawl.store import StoreResult, refresh_scores, upsert_posts


class ValidatePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler)

    def process_item(self, item: PostItem) -> PostItem:
        try:
            return item.validated()
        except InvalidItem as exc:
            self.stats.inc_value(f"wagglebot/dropped/{exc.reason}")
            raise DropItem(str(exc)) from None


class StorePipeline:
    """Buffers items and upserts them in batches off the reactor thread."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.batch_size = crawler.settings.getint("STORE_BATCH_SIZE", 50)
        self.batch: list[PostItem] = []
        self.sites: set[str] = set()
        self.engine = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        from wagglebot.core.config import get_settings
        from wagglebot.core.db import make_engine

        self.engine = make_engine(get_settings().db_url.get_secret_value(), pool_size=2)

    async def process_item(self, item: PostItem) -> PostItem:
        self.batch.append(item)
        if len(self.batch) >= self.batch_size:
            await self.flush()
        return item

    async def flush(self) -> None:
        batch, self.batch = self.batch, []
        if batch:
            result = await asyncio.to_thread(self._store, batch)
            self.stats.inc_value("wagglebot/posts_new", result.new)
            self.stats.inc_value("wagglebot/posts_updated", result.updated)
            self.stats.inc_value("wagglebot/comments_upserted", result.comments)

    def _store(self, batch: list[PostItem]) -> StoreResult:
        from wagglebot.core.db import session_factory

        self.sites.update(item.site_code for item in batch)
        with session_factory(self.engine)() as session:
            return upsert_posts(session, batch)

    def _score(self, sites: list[str]) -> None:
        # Once per crawl, not per batch: a score compares a post with its whole site.
        from wagglebot.core.db import session_factory

        with session_factory(self.engine)() as session:
            for site in sites:
                refresh_scores(session, site)

    async def close_spider(self) -> None:
        try:
            await self.flush()
            if self.sites:
                await asyncio.to_thread(self._score, sorted(self.sites))
        finally:
            if self.engine is not None:
                self.engine.dispose()
