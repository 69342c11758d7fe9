"""Run one site's crawl in this process and report its figures as JSON (the last line).

    python -m wagglebot_scrapy.run nate_pann [--pages 1] [--base-url URL] [--impolite]

Exit status: 0 when posts were stored, 3 when the site yielded none (the JSON
then carries `likely_cause`), 1 on a crash. One crawl per process: Twisted's
reactor cannot be restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "wagglebot_scrapy.settings")

from wagglebot.crawl.run_site import EXIT_NOTHING_STORED

# For benchmarks and tests against the local sample site only.
IMPOLITE = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
}


def crawl(
    site_code: str,
    *,
    pages: int | None = None,
    base_url: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.utils.project import get_project_settings

    from wagglebot.core.config import get_settings
    from wagglebot.crawl.report import CrawlReport
    from wagglebot.crawl.sites import base_url_for, get_site
    from wagglebot_scrapy.spiders.community import CommunitySpider

    config = get_settings()
    site = get_site(site_code)
    base_url = base_url or base_url_for(site, config)
    settings = get_project_settings()
    settings.set("USER_AGENT", config.user_agent)
    settings.setdict(dict(site.settings), priority="spider")
    settings.setdict(overrides or {}, priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(CommunitySpider)
    process.crawl(crawler, site=site_code, base_url=base_url, pages=pages)
    process.start()
    report = CrawlReport.from_stats(site_code, crawler.stats.get_stats())
    result = report.as_dict() | {"base_url": base_url, "stored": report.stored}
    result["likely_cause"] = report.likely_cause(site)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site")
    parser.add_argument("--pages", type=int)
    parser.add_argument("--base-url")
    parser.add_argument("--impolite", action="store_true", help="no delays (local servers only)")
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra Scrapy setting",
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = dict(IMPOLITE) if args.impolite else {}
    overrides.update(kv.split("=", 1) for kv in args.set)
    result = crawl(args.site, pages=args.pages, base_url=args.base_url, overrides=overrides)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0 if result["stored"] else EXIT_NOTHING_STORED


if __name__ == "__main__":
    sys.exit(main())
