"""Retries that wait as long as the server asks (Retry-After), within a cap."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

from wagglebot.crawl.report import RETRY_AFTER_TOO_LONG

logger = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX_SECONDS", 120)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        stats = self.crawler.stats
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is not None:
            if wait > self.max_wait:
                # The site wants us gone for longer than a run should wait: asking its
                # other pages meanwhile would only be more of what it refused. End the run.
                stats.inc_value("retry/retry_after_too_long")
                stats.max_value("wagglebot/retry_after_seconds", round(wait))
                logger.warning(
                    "%s answered HTTP %s asking to wait %.0fs (Retry-After), more than the "
                    "%.0fs cap: ending this site's run; the next scheduled crawl tries again",
                    request.url,
                    response.status,
                    wait,
                    self.max_wait,
                )
                self.crawler.engine.close_spider(self.crawler.spider, RETRY_AFTER_TOO_LONG)
                raise IgnoreRequest(f"Retry-After {wait:.0f}s is over the cap")
            stats.inc_value("retry/retry_after_waits")
            logger.info(
                "HTTP %s on %s: waiting %.1fs as Retry-After asks",
                response.status,
                request.url,
                wait,
            )
            await asyncio.sleep(wait)
        return self._retry(request, response_status_message(response.status)) or response
