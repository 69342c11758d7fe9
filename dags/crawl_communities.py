"""Crawl the enabled communities' best lists into MariaDB: hourly, and on demand.

One mapped task per site, each running its spider in its own process. A site
that yields no post fails its own task, with the likely cause in the message;
the other sites go on. Trigger by hand with params to pick sites and pages.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from wagglebot.crawl.sites import site_codes
from wagglebot.routing import DEFAULT_TASK

SITES = site_codes()


@dag(
    dag_id="crawl_communities",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=55),
    tags=["wagglebot", "crawl"],
    params={
        "sites": Param(
            [],
            type="array",
            items={"type": "string", "enum": SITES},
            uniqueItems=True,
            title="Sites",
            description="Which sites to crawl; empty means every enabled site.",
        ),
        "pages": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=20,
            title="List pages",
            description="List pages per site; empty means each site's own default.",
        ),
    },
    # No task retries: Scrapy already retries each request (Retry-After included), and a
    # site that stored nothing is news for a person, not a blip; the next hour tries again.
    default_args={"retries": 0, **DEFAULT_TASK},
)
def crawl_communities() -> None:
    @task
    def sites_to_crawl() -> list[str]:
        from wagglebot.config import get_settings

        chosen = get_current_context()["params"]["sites"] or get_settings().crawl_sites or SITES
        unknown = sorted(set(chosen) - set(SITES))
        if unknown:
            raise ValueError(f"WAGGLE_CRAWL_SITES names unknown sites {unknown}; known: {SITES}")
        return list(chosen)

    @task(execution_timeout=timedelta(minutes=30), map_index_template="{{ site }}")
    def crawl_site(site: str) -> dict:
        from wagglebot.crawl.run_site import run_crawl

        return run_crawl(site, pages=get_current_context()["params"]["pages"])

    crawl_site.expand(site=sites_to_crawl())


crawl_communities()
