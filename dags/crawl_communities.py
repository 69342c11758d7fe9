"""Crawl the enabled communities' best lists into MariaDB: hourly, and on demand.

One mapped task per site, each running its spider in its own process. A site
that yields no post fails its own task, with the likely cause in the message;
the other sites go on. Then group_stories puts the new posts into stories (a repost
joins the story it repeats; crawl.story_table). Trigger by hand with params to pick sites and pages.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task, teardown

from wagglebot.crawl.sites import site_codes
from wagglebot.orchestration.dag_ids import CRAWL_DAG
from wagglebot.orchestration.notify import TaskFailureNotifier
from wagglebot.orchestration.routing import DEFAULT_TASK

SITES = site_codes()


@dag(
    dag_id=CRAWL_DAG,
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
            description="List pages for every site; empty means each site's own default.",
        ),
        "site_pages": Param(
            {},
            type="object",
            propertyNames={"enum": SITES},
            additionalProperties={"type": "integer", "minimum": 1, "maximum": 20},
            title="List pages by site",
            description='Per site, over the number above, e.g. {"dcinside": 1}.',
        ),
    },
    # No task retries: Scrapy already retries each request (Retry-After included), and a
    # site that stored nothing is news for a person, not a blip; the next hour tries again.
    default_args={"retries": 0, **DEFAULT_TASK, "on_failure_callback": TaskFailureNotifier()},
)
def crawl_communities() -> None:
    @task
    def sites_to_crawl() -> list[str]:
        from wagglebot.core.config import get_settings
        from wagglebot.crawl.plan import sites_to_crawl

        return sites_to_crawl(get_current_context()["params"]["sites"], get_settings())

    @task(execution_timeout=timedelta(minutes=30), map_index_template="{{ site }}")
    def crawl_site(site: str) -> dict:
        from wagglebot.core.config import get_settings
        from wagglebot.crawl.plan import pages_for
        from wagglebot.crawl.runs import crawl_and_record

        params = get_current_context()["params"]
        settings = get_settings()
        pages = pages_for(site, settings, params["pages"], params["site_pages"])
        return crawl_and_record(settings, site, pages)

    # A teardown: it runs whatever the sites' tasks did (what was stored is grouped), and
    # the run's state stays theirs (a site that failed still fails the run).
    @teardown
    @task(execution_timeout=timedelta(minutes=20))
    def group_stories() -> dict:
        from wagglebot.core.config import get_settings
        from wagglebot.crawl.story_table import group_stored_posts

        return group_stored_posts(get_settings())

    crawl_site.expand(site=sites_to_crawl()) >> group_stories()


crawl_communities()
