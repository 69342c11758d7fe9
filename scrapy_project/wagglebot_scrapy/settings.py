"""Scrapy settings: polite by default. The runner relaxes them only when asked (benchmarks)."""

from wagglebot.core.config import USER_AGENT_TEMPLATE

BOT_NAME = "wagglebot"
SPIDER_MODULES = ["wagglebot_scrapy.spiders"]
NEWSPIDER_MODULE = "wagglebot_scrapy.spiders"

# Who we are and how to reach us: run.py fills in WAGGLE_CRAWL_CONTACT (set it before
# crawling real sites).
USER_AGENT = USER_AGENT_TEMPLATE.format(contact="https://github.com/wagglebot/wagglebot")
ROBOTSTXT_OBEY = True
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5",
}

# One request at a time per site, a second and a half apart (randomised), slower if
# the site slows down.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Retries: 429 and fmkorea's 430 included, honouring Retry-After up to a cap.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429, 430]
RETRY_AFTER_MAX_SECONDS = 120
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "wagglebot_scrapy.middlewares.RetryAfterMiddleware": 550,
}

# Bounds for one hourly run.
DOWNLOAD_TIMEOUT = 20
CLOSESPIDER_TIMEOUT = 1500
CLOSESPIDER_PAGECOUNT = 200

# Scrapy starts this many asyncio workers for every callback's output; the default 100
# cost more than the parsing did (one item per post page, a page of links per list).
CONCURRENT_ITEMS = 16

ITEM_PIPELINES = {
    "wagglebot_scrapy.pipelines.ValidatePipeline": 100,
    "wagglebot_scrapy.pipelines.StorePipeline": 300,
}
STORE_BATCH_SIZE = 50

TELNETCONSOLE_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
