"""Prometheus metrics: one /metrics endpoint on 127.0.0.1, served by the stack's ``metrics``
service (``python -m wagglebot.ops.metrics``) with prometheus_client.

Every scrape reads the app database afresh (a collector, not counters kept in memory):
the numbers are the database's, so a restart loses nothing and the exporter holds no
state. A database that does not answer gives ``wagglebot_db_up 0``, never an error page.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from datetime import UTC

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db.models import CrawlRun, Post, PublishQuota, StageRun, Upload
from wagglebot.core.statuses import PostStatus, StageOutcome
from wagglebot.ops.health.checks import GpuQueryFailed, disk_free, nvidia_smi
from wagglebot.publish.quota import pacific_day

log = logging.getLogger(__name__)
# Stage durations, seconds: an LLM script or a render takes from seconds to many minutes.
BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def _epoch(when) -> float:
    return when.replace(tzinfo=UTC).timestamp()


class WaggleCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> list[Metric]:
        return []  # no database query when the collector is registered

    def collect(self) -> Iterator[Metric]:
        from wagglebot.core.db import settings_session

        up = 1
        try:
            with settings_session(self.settings) as session:
                yield from self._from_database(session)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", str(exc).splitlines()[0])
            up = 0
        yield GaugeMetricFamily(
            "wagglebot_db_up", "1 when the app database answered this scrape", value=up
        )
        yield from self._disks()
        yield from self._gpus()

    def _from_database(self, session: Session) -> Iterator[Metric]:
        by_status = dict(
            session.execute(select(Post.status, func.count()).group_by(Post.status)).all()
        )
        posts = GaugeMetricFamily("wagglebot_posts", "Posts by status", labels=["status"])
        for status in PostStatus:
            posts.add_metric([status.value], by_status.get(status, 0))
        yield posts

        stored = GaugeMetricFamily(
            "wagglebot_site_posts", "Posts stored, per site", labels=["site"]
        )
        for site, n in session.execute(
            select(Post.site_code, func.count()).group_by(Post.site_code)
        ):
            stored.add_metric([site], n)
        yield stored
        last = GaugeMetricFamily(
            "wagglebot_site_last_crawl_timestamp_seconds",
            "When each site's last crawl ended (Unix time), by how it ended",
            labels=["site", "outcome"],
        )
        rows = session.execute(
            select(CrawlRun.site_code, CrawlRun.ok, func.max(CrawlRun.finished_at)).group_by(
                CrawlRun.site_code, CrawlRun.ok
            )
        )
        for site, ok, when in rows:
            last.add_metric([site, "ok" if ok else "failed"], _epoch(when))
        yield last

        yield _stage_histogram(session)

        done = session.scalar(select(func.count()).where(Upload.uploaded_at.is_not(None))) or 0
        yield CounterMetricFamily("wagglebot_uploads", "Shorts uploaded, ever", value=done)
        today = session.get(PublishQuota, ("youtube", pacific_day()))
        used = GaugeMetricFamily(
            "wagglebot_quota_used", "Today's YouTube allowance spent", labels=["unit"]
        )
        used.add_metric(["uploads"], today.uploads if today else 0)
        used.add_metric(["api_units"], today.units if today else 0)
        yield used
        limit = GaugeMetricFamily(
            "wagglebot_quota_limit", "Today's YouTube allowance", labels=["unit"]
        )
        limit.add_metric(["uploads"], self.settings.youtube_daily_uploads)
        limit.add_metric(["api_units"], self.settings.youtube_daily_units)
        yield limit

    def _disks(self) -> Iterator[Metric]:
        free = GaugeMetricFamily(
            "wagglebot_disk_free_bytes", "Free space on the media folder's disk", labels=["path"]
        )
        free.add_metric([str(self.settings.media_root)], disk_free(self.settings.media_root)[1])
        yield free

    def _gpus(self) -> Iterator[Metric]:
        try:
            rows = nvidia_smi()
        except GpuQueryFailed as exc:  # no GPU figures this scrape, never an error page
            log.warning("metrics: nvidia-smi failed: %s", exc)
            return
        if not rows:
            return
        used = GaugeMetricFamily(
            "wagglebot_gpu_memory_used_bytes", "GPU memory in use", labels=["gpu"]
        )
        total = GaugeMetricFamily("wagglebot_gpu_memory_total_bytes", "GPU memory", labels=["gpu"])
        temp = GaugeMetricFamily(
            "wagglebot_gpu_temperature_celsius", "GPU temperature", labels=["gpu"]
        )
        for gpu in rows:
            used.add_metric([gpu.index], gpu.used_mib * 2**20)
            total.add_metric([gpu.index], gpu.total_mib * 2**20)
            temp.add_metric([gpu.index], gpu.celsius)
        yield from (used, total, temp)


def _stage_histogram(session: Session) -> Metric:
    seconds = (
        func.timestampdiff(text("MICROSECOND"), StageRun.started_at, StageRun.finished_at) / 1e6
    )
    columns = [
        func.sum(case((seconds <= bound, 1), else_=0)).label(f"le{i}")
        for i, bound in enumerate(BUCKETS)
    ]
    rows = session.execute(
        select(StageRun.stage, func.count(), func.coalesce(func.sum(seconds), 0), *columns)
        .where(StageRun.outcome == StageOutcome.SUCCEEDED, StageRun.finished_at.is_not(None))
        .group_by(StageRun.stage)
    )
    family = HistogramMetricFamily(
        "wagglebot_stage_duration_seconds",
        "How long each production stage took per post (succeeded attempts)",
        labels=["stage"],
    )
    for stage, count, total, *cumulative in rows:
        buckets = [(str(b), int(n or 0)) for b, n in zip(BUCKETS, cumulative, strict=True)]
        family.add_metric([stage.value], [*buckets, ("+Inf", count)], float(total))
    return family


def registry_for(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WaggleCollector(settings))
    return registry


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve WaggleBot's Prometheus metrics")
    parser.add_argument("--port", type=int, help="default: WAGGLE_METRICS_PORT")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    port = args.port or settings.metrics_port
    start_http_server(port, addr="127.0.0.1", registry=registry_for(settings))
    log.info("metrics at http://127.0.0.1:%d/metrics", port)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
