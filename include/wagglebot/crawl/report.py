"""A crawl's figures from Scrapy's stats, and a plain-language cause when it found nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wagglebot.crawl.sites import Site

BLOCKING_STATUSES = (401, 403, 429, 430, 503)
# The finish reason of a run the site asked to wait longer than the cap (the middleware).
RETRY_AFTER_TOO_LONG = "retry_after_too_long"


@dataclass
class CrawlReport:
    site: str
    new: int = 0
    updated: int = 0
    dropped: int = 0
    dropped_reasons: dict[str, int] = field(default_factory=dict)
    gone: int = 0
    errors: int = 0
    list_pages: int = 0
    list_rows: int = 0
    list_links: int = 0  # list rows that held a link to a post
    post_pages: int = 0  # post pages that answered (not blocked)
    detail_missing: dict[str, int] = field(default_factory=dict)
    http_statuses: dict[str, int] = field(default_factory=dict)
    robots_forbidden: int = 0
    blocked: dict[str, int] = field(default_factory=dict)  # bot-defence answers, by signal
    # Posts stored without the comments their follow-up request should have brought, by why.
    comments_unfetched: dict[str, int] = field(default_factory=dict)
    retry_after_seconds: int | None = None  # the longest wait a site asked for over the cap
    finish_reason: str | None = None
    seconds: float = 0.0

    @property
    def stored(self) -> int:
        return self.new + self.updated

    @classmethod
    def from_stats(cls, site: str, stats: dict[str, Any]) -> CrawlReport:
        def prefixed(prefix: str) -> dict[str, int]:
            return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}

        failed = sum(prefixed("wagglebot/request_failed/").values())
        return cls(
            site=site,
            new=stats.get("wagglebot/posts_new", 0),
            updated=stats.get("wagglebot/posts_updated", 0),
            dropped=stats.get("item_dropped_count", 0),
            dropped_reasons=prefixed("wagglebot/dropped/"),
            gone=stats.get("wagglebot/posts_gone", 0),
            errors=stats.get("log_count/ERROR", 0) + failed,
            list_pages=stats.get("wagglebot/list_pages", 0),
            list_rows=stats.get("wagglebot/list_rows", 0),
            list_links=stats.get("wagglebot/list_links", 0),
            post_pages=stats.get("wagglebot/post_pages", 0),
            detail_missing=prefixed("wagglebot/missing/"),
            http_statuses=prefixed("downloader/response_status_count/"),
            robots_forbidden=stats.get("robotstxt/forbidden", 0),
            blocked=prefixed("wagglebot/blocked/"),
            comments_unfetched=prefixed("wagglebot/comments_unfetched/"),
            retry_after_seconds=stats.get("wagglebot/retry_after_seconds"),
            finish_reason=stats.get("finish_reason"),
            seconds=round(float(stats.get("elapsed_time_seconds", 0.0)), 2),
        )

    def likely_cause(self, site: Site) -> str | None:
        """Why nothing was stored, naming the step that failed and the selector or pattern
        it used, as a person would want it said; None if posts were stored."""
        if self.finish_reason == RETRY_AFTER_TOO_LONG:
            return (
                f"rate-limited: the site asked us to wait {self.retry_after_seconds}s "
                "(Retry-After), more than the cap, so this site's run ended; the next "
                "scheduled crawl tries again"
            ) + (f" ({self.stored} posts stored before that)" if self.stored else "")
        if self.stored:
            return None
        if self.blocked and not self.list_rows:
            signals = ", ".join(f"{s} ×{n}" for s, n in sorted(self.blocked.items()))
            return f"blocked by the site's bot defence: {signals}"
        blocked = {s: n for s, n in self.http_statuses.items() if int(s) in BLOCKING_STATUSES}
        if self.robots_forbidden and not self.list_pages:
            return f"robots.txt forbids the list pages ({self.robots_forbidden} requests refused)"
        if blocked and not self.list_pages:
            codes = ", ".join(f"HTTP {s} ×{n}" for s, n in sorted(blocked.items()))
            return f"blocked or rate-limited by the site ({codes})"
        if not self.http_statuses:
            return "site unreachable: no response at all (DNS, connection refused or timeout)"
        if not self.list_pages:
            codes = ", ".join(f"HTTP {s} ×{n}" for s, n in sorted(self.http_statuses.items()))
            return f"the list pages did not load ({codes})"
        if not self.list_rows:
            return (
                f"layout changed: the list row selector {site.list.row!r} matched nothing on "
                f"{self.list_pages} list page(s)"
            )
        if not self.list_links:
            return (
                f"no post link in {self.list_rows} list rows (selector {site.list.link}, "
                f"pattern {site.list.post_url}): the site's list layout changed; no post page "
                "was requested"
            )
        if self.robots_forbidden and not self.dropped:
            return f"robots.txt forbids the post pages ({self.robots_forbidden} requests refused)"
        empty = self._empty_detail_fields(site)
        if empty:
            return (
                f"{self.post_pages} post pages loaded but none gave a post: "
                + "; ".join(empty)
                + ": the site's post page layout changed"
            )
        if self.dropped:
            reasons = ", ".join(f"{r} ×{n}" for r, n in sorted(self.dropped_reasons.items()))
            return f"every post was rejected ({reasons})"
        return (
            f"{self.list_links} post links were found but no post page gave a post "
            "(deleted, blocked or failed to load)"
        )

    def _empty_detail_fields(self, site: Site) -> list[str]:
        """The detail selectors a post needs (title, body) that found nothing on every page
        asked for, e.g. "the body selector 'div.view' found nothing on 20 pages"."""
        needed = {"title": site.detail.title, "body": site.detail.body}
        pages = self.post_pages - self.gone
        return [
            f"the {name} selector {css!r} found nothing on {pages} pages"
            for name, css in needed.items()
            if pages > 0 and self.detail_missing.get(name, 0) >= pages
        ]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
