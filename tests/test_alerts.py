"""Alerts through apprise to a loopback json:// receiver: health changes, task failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack.alert_listener import Listener

from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db.models import CrawlRun
from wagglebot.ops.alerts import apprise_connection, redact, watch_health
from wagglebot.orchestration.notify import TaskFailureNotifier, deliver

from alert_receiver import AlertReceiver

NOW = datetime(2026, 12, 6, 12, 0, 0)


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    found = AlertReceiver()
    yield found
    found.stop()


@pytest.fixture
def settings(
    db_settings: Settings, tmp_path: Path, receiver: AlertReceiver, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    chosen = db_settings.model_copy(
        update={
            "crawl_sites": ["theqoo"],
            "media_root": tmp_path / "media",
            "backup_dir": tmp_path / "backups",
            "alert_urls": SecretStr(f"{receiver.url}?token=alert-secret-123"),
            "health_disk_amber_gib": 0.001,
            "health_disk_red_gib": 0.0001,
        }
    )
    # As the stack gives every Airflow process its apprise connection.
    monkeypatch.setenv("AIRFLOW_CONN_APPRISE_DEFAULT", apprise_connection(chosen))
    return chosen


def _crawls(session: Session, stored: list[int], until: datetime) -> None:
    for i, n in enumerate(stored):
        ended = until - timedelta(hours=len(stored) - 1 - i)
        session.add(
            CrawlRun(site_code="theqoo", started_at=ended, finished_at=ended, ok=n > 0, stored=n)
        )
    session.commit()


def test_a_check_turning_red_is_told_once_and_again_when_green(
    sessions: sessionmaker[Session], settings: Settings, receiver: AlertReceiver
) -> None:
    with sessions() as session:
        _crawls(session, [15, 14, 16, 15, 0], NOW)  # the last crawl stored nothing
    first = watch_health(settings, deliver, NOW)
    assert "yield:theqoo" in first["red"]
    [message] = receiver.messages()
    assert message["type"] == "failure"
    assert message["title"].startswith("WaggleBot: ")
    assert "- yield:theqoo: last crawl stored 0, usually 15 " in message["message"]
    assert "degraded: the site may have changed its layout or blocked us" in message["message"]
    assert "alert-secret-123" not in message["message"]
    assert "t3st-pw" not in message["message"]

    receiver.clear()
    again = watch_health(settings, deliver, NOW + timedelta(minutes=10))
    assert again == {"red": [], "green": [], "digest": False}
    assert receiver.messages() == []  # nothing changed: nothing sent

    with sessions() as session:
        _crawls(session, [15], NOW + timedelta(minutes=15))  # it stores again
    back = watch_health(settings, deliver, NOW + timedelta(minutes=20))
    assert back["green"] == ["yield:theqoo"]
    [message] = receiver.messages()
    assert message["type"] == "success"
    assert "Green again:\n- yield:theqoo: last crawl stored 15, usually 15" in message["message"]


def test_without_alert_urls_nothing_is_sent_nor_remembered_as_told(
    sessions: sessionmaker[Session], settings: Settings, receiver: AlertReceiver
) -> None:
    with sessions() as session:
        _crawls(session, [15, 14, 16, 15, 0], NOW)
    quiet = watch_health(settings.model_copy(update={"alert_urls": None}), None, NOW)
    assert quiet["red"] == []
    assert receiver.messages() == []
    told = watch_health(settings, deliver, NOW + timedelta(minutes=10))  # URLs set later
    assert "yield:theqoo" in told["red"]


def test_a_daily_digest_at_the_chosen_hour_once(
    sessions: sessionmaker[Session], settings: Settings, receiver: AlertReceiver
) -> None:
    digest = settings.model_copy(update={"alert_digest_hour": 21})  # Seoul: 12:00 UTC
    watch_health(digest, deliver, NOW)
    watch_health(digest, deliver, NOW + timedelta(minutes=10))
    digests = [m for m in receiver.messages() if m["title"] == "WaggleBot: daily health"]
    assert len(digests) == 1
    assert digests[0]["message"].startswith("health: ")


def test_a_refused_delivery_fails_loudly(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_APPRISE_DEFAULT",
        '{"conn_type": "apprise", "extra": {"config": {"path": "json://127.0.0.1:1/"}}}',
    )
    with pytest.raises(RuntimeError, match="no alert service took the message"):
        deliver("t", "b", "info")


def test_a_failed_task_is_told_with_its_posts_error_and_log_link(
    settings: Settings, receiver: AlertReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAGGLE_ALERT_URLS", settings.alert_urls.get_secret_value())
    monkeypatch.setenv("WAGGLE_AIRFLOW_UI_URL", "http://airflow.example:8080")
    monkeypatch.setenv("WAGGLE_DB_URL", settings.db_url.get_secret_value())
    get_settings.cache_clear()
    ti = SimpleNamespace(  # what Airflow hands a callback: the task instance's identity
        dag_id="produce_shorts", task_id="render", run_id="manual__2026-12-06T12:00:00+00:00",
        map_index=-1, try_number=3, xcom_pull=lambda task_ids: [41, 42],
    )  # fmt: skip
    error = RuntimeError(f"ffmpeg failed; db {settings.db_url.get_secret_value()}")
    try:
        TaskFailureNotifier().notify({"ti": ti, "exception": error})
    finally:
        get_settings.cache_clear()
    [message] = receiver.messages()
    assert message["title"] == "WaggleBot: produce_shorts.render failed"
    body = message["message"]
    assert "Posts: #41, #42" in body
    assert "Error: RuntimeError: ffmpeg failed" in body
    assert (
        "Log: http://airflow.example:8080/dags/produce_shorts/runs/"
        "manual__2026-12-06T12%3A00%3A00%2B00%3A00/tasks/render?try_number=3" in body
    )
    assert "t3st-pw" not in body  # the database password never leaves


def test_redaction_hides_every_secret(settings: Settings) -> None:
    text = (
        f"{settings.db_url.get_secret_value()} {settings.alert_urls.get_secret_value()} "
        "https://user:hunter2@example.com/x"
    )
    clean = redact(text, settings)
    assert "t3st-pw" not in clean
    assert "alert-secret-123" not in clean
    assert "hunter2" not in clean
    assert "https://user:[secret]@example.com/x" in clean


def test_the_supervisors_listener_tells_a_fatal_service_and_a_crash_loop() -> None:
    sent: list[tuple[str, str]] = []
    listener = Listener(lambda t, b: sent.append((t, b)) or True, lambda name: f"{name}: boom")
    fatal = "processname:dashboard groupname:dashboard from_state:BACKOFF"
    assert listener.handle("PROCESS_STATE_FATAL", fatal) == "WaggleBot: service dashboard is FATAL"
    assert "Last lines of its log:\ndashboard: boom" in sent[0][1]
    crash = "processname:airflow-scheduler groupname:x from_state:RUNNING expected:0 pid:{}"
    clean = "processname:airflow-scheduler groupname:x from_state:RUNNING expected:1 pid:9"
    assert listener.handle("PROCESS_STATE_EXITED", clean, now=0) is None  # asked to stop
    assert listener.handle("PROCESS_STATE_EXITED", crash.format(1), now=0) is None
    assert listener.handle("PROCESS_STATE_EXITED", crash.format(2), now=700) is None  # old one out
    assert listener.handle("PROCESS_STATE_EXITED", crash.format(3), now=750) is None
    said = listener.handle("PROCESS_STATE_EXITED", crash.format(4), now=800)
    assert said == "WaggleBot: service airflow-scheduler keeps crashing"
    assert "exited unexpectedly 3 times within 10 min" in sent[1][1]
    assert listener.handle("PROCESS_STATE_EXITED", crash.format(5), now=801) is None  # counted anew
    assert len(sent) == 2
