"""Retries that wait as long as the server asks (Retry-After), within a cap."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

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
                stats.inc_value("retry/retry_after_too_long")
                logger.warning(
                    "%s asks to wait %.0fs (Retry-After) before %s; more than the %.0fs cap, "
                    "giving up on it for this run",
                    request.url,
                    wait,
                    response.status,
                    self.max_wait,
                )
                return response
            stats.inc_value("retry/retry_after_waits")
            logger.info(
                "HTTP %s on %s: waiting %.1fs as Retry-After asks",
                response.status,
                request.url,
                wait,
            )
            await asyncio.sleep(wait)
        return self._retry(request, response_status_message(response.status)) or response
