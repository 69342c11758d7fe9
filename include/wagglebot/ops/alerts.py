"""What alerts say and when they go: the owner hears when a health check turns red and when
it is green again, when a task fails, and (from the supervisor) when a service stops.

Delivery is apprise's: through Airflow's apprise connection inside Airflow
(wagglebot.orchestration.notify), directly from WAGGLE_ALERT_URLS outside it (the supervisor's
listener, which must work while Airflow is down). Nothing secret is ever in a message:
every body passes ``redact``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db.models import utcnow
from wagglebot.ops.health import Check, Level

log = logging.getLogger(__name__)
Deliver = Callable[[str, str, str], None]  # (title, body, kind: info|success|warning|failure)
ALERT_TAG = "alerts"  # the apprise tag every alert service is added under
DIGEST = "_digest"  # the health_states row that remembers the last daily digest
_URL_CREDENTIALS = re.compile(r"(?<=://)([^/\s:@]+):([^/\s@]+)@")


class AlertNotDelivered(RuntimeError):
    pass


def alert_urls(settings: Settings) -> list[str]:
    """The apprise URLs in WAGGLE_ALERT_URLS (space- or comma-separated)."""
    raw = settings.alert_urls.get_secret_value() if settings.alert_urls else ""
    return [u for u in re.split(r"[\s,]+", raw) if u]


def apprise_connection(settings: Settings) -> str | None:
    """Airflow's apprise_default connection (AIRFLOW_CONN_APPRISE_DEFAULT) for the alert
    URLs; the provider's hook reads each entry's ``path`` and ``tag``."""
    urls = alert_urls(settings)
    if not urls:
        return None
    config = [{"path": url, "tag": ALERT_TAG} for url in urls]
    return json.dumps({"conn_type": "apprise", "extra": {"config": config}})


def redact(text: str, settings: Settings) -> str:
    """``text`` with every secret the settings hold, and any user:password in a URL, hidden."""
    secrets = [*alert_urls(settings)]
    for value in (settings.db_url, settings.airflow_password):
        if value is not None:
            secrets.append(value.get_secret_value())
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    return _URL_CREDENTIALS.sub(r"\1:[secret]@", text)


def _line(check: Check) -> str:
    detail = f" {check.detail}" if check.detail else ""
    return f"- {check.name}: {check.value} ({check.threshold}).{detail}"


def changes(session: Session, checks: list[Check]) -> tuple[list[Check], list[Check]]:
    """(turned red, green again) since the last notification, from health_states."""
    from wagglebot.core.db.models import HealthState

    told = dict(session.execute(select(HealthState.name, HealthState.notified_level)).all())
    red = [c for c in checks if c.level is Level.RED and told.get(c.name) != Level.RED.value]
    green = [c for c in checks if c.level is Level.GREEN and told.get(c.name) == Level.RED.value]
    return red, green


def health_message(red: list[Check], green: list[Check]) -> tuple[str, str, str]:
    """(title, body, kind) for checks that turned red or green again."""
    said, body = [], []
    if red:
        said.append(f"{len(red)} check(s) red")
        body += ["Red now:", *map(_line, red)]
    if green:
        said.append(f"{len(green)} check(s) green again")
        body += ["Green again:", *map(_line, green)]
    return f"WaggleBot: {', '.join(said)}", "\n".join(body), "failure" if red else "success"


def watch_health(settings: Settings, deliver: Deliver | None, now: datetime | None = None) -> dict:
    """Evaluate every check and notify what changed (a check turned red, or green again);
    a second run with no change sends nothing. Without ``deliver`` (no alert URLs) it
    only logs what it would say, and remembers nothing as told. Returns what was sent."""
    from wagglebot.core.db import settings_session
    from wagglebot.core.db.models import HealthState
    from wagglebot.ops.health import evaluate

    now = now or utcnow()
    checks = evaluate(settings, now)
    sent: dict = {"red": [], "green": [], "digest": False}
    with settings_session(settings) as session:
        red, green = changes(session, checks)
        title, body, kind = health_message(red, green)
        if (red or green) and deliver is None:
            log.warning("no alert URLs (WAGGLE_ALERT_URLS): %s", title)
        elif red or green:
            deliver(title, redact(body, settings), kind)
            for check, level in [(c, Level.RED) for c in red] + [(c, Level.GREEN) for c in green]:
                state = session.get(HealthState, check.name)
                if state is not None:
                    state.notified_level, state.notified_at = level.value, now
            sent.update(red=[c.name for c in red], green=[c.name for c in green])
        if deliver is not None and _digest_due(session, settings, now):
            deliver(*_digest(checks, settings))
            _mark_digest(session, now)
            sent["digest"] = True
    return sent


def _local_day(settings: Settings, when: datetime) -> tuple[str, int]:
    local = when.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(settings.timezone))
    return local.date().isoformat(), local.hour


def _digest_due(session: Session, settings: Settings, now: datetime) -> bool:
    from wagglebot.core.db.models import HealthState

    if settings.alert_digest_hour is None:
        return False
    day, hour = _local_day(settings, now)
    if hour != settings.alert_digest_hour:
        return False
    last = session.get(HealthState, DIGEST)
    return (
        last is None or last.notified_at is None or _local_day(settings, last.notified_at)[0] != day
    )


def _mark_digest(session: Session, now: datetime) -> None:
    from wagglebot.core.db.models import HealthState

    row = session.get(HealthState, DIGEST) or HealthState(
        name=DIGEST, level=Level.GREEN.value, since=now, checked_at=now
    )
    row.notified_at, row.checked_at = now, now
    session.add(row)


def _digest(checks: list[Check], settings: Settings) -> tuple[str, str, str]:
    from wagglebot.ops.health import summary_line

    failing = [c for c in checks if c.failing]
    body = [summary_line(checks), *map(_line, failing)]
    return "WaggleBot: daily health", redact("\n".join(body), settings), "info"
