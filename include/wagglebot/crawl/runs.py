"""Each crawl's outcome, kept: the health checks read a site's last good crawl and its
usual yield from here (wagglebot.ops.health)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from wagglebot.core.config import Settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import CrawlRun, utcnow
from wagglebot.crawl.run_site import CrawlFailed, run_crawl

log = logging.getLogger(__name__)


def crawl_and_record(settings: Settings, site_code: str, pages: int | None) -> dict[str, Any]:
    """Crawl one site (run_site.run_crawl) and record how it ended, success or failure."""
    started = utcnow()
    try:
        figures = run_crawl(site_code, pages=pages)
    except CrawlFailed as exc:
        record(settings, site_code, started, exc.report or {}, failure=str(exc))
        raise
    except BaseException as exc:  # a timeout, the task killed: the crawl did not finish
        record(settings, site_code, started, {}, failure=f"{type(exc).__name__}: {exc}")
        raise
    record(settings, site_code, started, figures)
    return figures


def record(
    settings: Settings,
    site_code: str,
    started: datetime,
    figures: dict[str, Any],
    failure: str | None = None,
) -> None:
    """Keep one crawl's outcome; a database that cannot take it costs the record only."""
    run = CrawlRun(
        site_code=site_code,
        started_at=started,
        finished_at=utcnow(),
        ok=failure is None,
        stored=(figures.get("new") or 0) + (figures.get("updated") or 0),
        new=figures.get("new") or 0,
        errors=figures.get("errors") or 0,
        cause=(failure or figures.get("likely_cause") or None),
    )
    try:
        with settings_session(settings) as session:
            session.add(run)
    except SQLAlchemyError as exc:
        log.warning("%s: the crawl's outcome was not recorded: %s", site_code, exc)
