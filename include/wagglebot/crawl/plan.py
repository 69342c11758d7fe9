"""Which sites a crawl run takes and how many list pages each: the trigger form's params
over the settings over each site description's own default.

The DAG only passes its params here, so the choice is tested without Airflow.
"""

from __future__ import annotations

from wagglebot.core.config import Settings
from wagglebot.crawl.sites import site_codes


def sites_to_crawl(requested: list[str], settings: Settings) -> list[str]:
    """The form's sites, else WAGGLE_CRAWL_SITES, else every bundled site."""
    known = site_codes()
    chosen = requested or settings.crawl_sites or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"unknown sites {unknown}; known: {known}")
    return list(chosen)


def pages_for(
    site: str, settings: Settings, pages: int | None = None, site_pages: dict | None = None
) -> int | None:
    """List pages for one site: the form's per-site number, its number for every site,
    WAGGLE_CRAWL_PAGES for this site; None leaves the site description's default."""
    unknown = sorted(set(site_pages or {}) - set(site_codes()))
    if unknown:
        raise ValueError(f"site_pages names unknown sites {unknown}")
    return (site_pages or {}).get(site) or pages or settings.crawl_pages.get(site)
