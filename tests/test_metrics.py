"""The /metrics endpoint scraped over HTTP and read with prometheus_client's own parser."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.config import Settings
from wagglebot.core.db.models import CrawlRun, PublishQuota, StageRun, Upload
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome
from wagglebot.ops.metrics import registry_for
from wagglebot.publish.quota import pacific_day

from conftest import free_ports
from factories import add_posts

T0 = datetime(2026, 12, 6, 3, 0, 0)


def _scrape(settings: Settings) -> dict[str, list]:
    port = free_ports()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry_for(settings))
    try:
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        server.shutdown()
        thread.join(5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.text)
    return {f.name: [(s.name, s.labels, s.value) for s in f.samples] for f in families}


@pytest.fixture
def settings(db_settings: Settings, tmp_path) -> Settings:
    return db_settings.model_copy(update={"media_root": tmp_path / "media"})


def _value(found: dict, family: str, sample: str, **labels: str) -> float:
    return next(v for n, lb, v in found[family] if n == sample and lb == labels)


def test_posts_crawls_stage_times_uploads_quota_and_disk(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        add_posts(session, 3, status=PostStatus.COLLECTED, site_code="fmkorea")
        [made] = add_posts(session, status=PostStatus.UPLOADED, site_code="clien")
        for stage, seconds in [(Stage.LLM, 12.5), (Stage.TTS, 3.0), (Stage.RENDER, 70.0)]:
            session.add(
                StageRun(post_id=made, stage=stage, attempt=1, outcome=StageOutcome.SUCCEEDED,
                         started_at=T0, finished_at=T0 + timedelta(seconds=seconds))
            )  # fmt: skip
        session.add(
            StageRun(post_id=made, stage=Stage.RENDER, attempt=2, outcome=StageOutcome.FAILED,
                     started_at=T0, finished_at=T0 + timedelta(seconds=1))
        )  # fmt: skip
        session.add(Upload(post_id=made, platform="youtube", uploaded_at=T0, video_id="v1"))
        session.add(PublishQuota(platform="youtube", day=pacific_day(), uploads=1, units=1600))
        session.add_all(
            [
                CrawlRun(site_code="fmkorea", started_at=T0, finished_at=T0, ok=True, stored=3),
                CrawlRun(site_code="fmkorea", started_at=T0, finished_at=T0 + timedelta(hours=1),
                         ok=False, stored=0),
            ]
        )  # fmt: skip
        session.commit()
    found = _scrape(settings)
    assert _value(found, "wagglebot_db_up", "wagglebot_db_up") == 1
    assert _value(found, "wagglebot_posts", "wagglebot_posts", status="COLLECTED") == 3
    assert _value(found, "wagglebot_posts", "wagglebot_posts", status="UPLOADED") == 1
    assert _value(found, "wagglebot_posts", "wagglebot_posts", status="FAILED") == 0
    assert _value(found, "wagglebot_site_posts", "wagglebot_site_posts", site="fmkorea") == 3
    last = "wagglebot_site_last_crawl_timestamp_seconds"
    assert _value(found, last, last, site="fmkorea", outcome="ok") == 1796526000.0
    assert _value(found, last, last, site="fmkorea", outcome="failed") == 1796529600.0
    hist, bucket = "wagglebot_stage_duration_seconds", "wagglebot_stage_duration_seconds_bucket"
    assert _value(found, hist, bucket, stage="llm", le="5.0") == 0
    assert _value(found, hist, bucket, stage="llm", le="15.0") == 1
    assert _value(found, hist, bucket, stage="render", le="60.0") == 0  # the failed try is out
    assert _value(found, hist, bucket, stage="render", le="+Inf") == 1
    assert _value(found, hist, f"{hist}_sum", stage="render") == pytest.approx(70.0)
    assert _value(found, hist, f"{hist}_count", stage="tts") == 1
    assert _value(found, "wagglebot_uploads", "wagglebot_uploads_total") == 1
    assert _value(found, "wagglebot_quota_used", "wagglebot_quota_used", unit="api_units") == 1600
    assert _value(found, "wagglebot_quota_limit", "wagglebot_quota_limit", unit="uploads") == 100
    disk = _value(found, "wagglebot_disk_free_bytes", "wagglebot_disk_free_bytes",
                  path=str(settings.media_root))  # fmt: skip
    assert disk > 0


def test_a_database_that_does_not_answer_is_a_zero_not_an_error_page(settings: Settings) -> None:
    down = settings.model_copy(update={"db_url": SecretStr("mysql+mysqldb://x:y@127.0.0.1:1/x")})
    found = _scrape(down)
    assert _value(found, "wagglebot_db_up", "wagglebot_db_up") == 0
    assert "wagglebot_posts" not in found
    assert "wagglebot_disk_free_bytes" in found
