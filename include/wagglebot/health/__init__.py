"""The one health model: every check with its value, its threshold, its level and since when
it has been failing. The dashboard's Health page and banner, the watch_health DAG's alerts,
`./wagglebot up`'s summary and the metrics read it; nothing else judges health.

Levels: green (fine), amber (look soon), red (act now). A check's "failing since" is kept
in health_states between evaluations (``remember``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from wagglebot.db.models import HealthState

if TYPE_CHECKING:
    from wagglebot.config import Settings


class Level(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def rank(self) -> int:
        return {"green": 0, "amber": 1, "red": 2}[self.value]


@dataclass(frozen=True)
class Check:
    """One check's result. ``name`` is stable (the alert and the state key); ``value`` and
    ``threshold`` are for a person; ``detail`` says what it means and what to do."""

    name: str
    group: str
    level: Level
    value: str
    threshold: str
    detail: str = ""
    since: datetime | None = None  # UTC; when it turned amber or red (None while green)

    @property
    def failing(self) -> bool:
        return self.level is not Level.GREEN


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def worst(checks: list[Check]) -> Level:
    return max((c.level for c in checks), key=lambda lv: lv.rank, default=Level.GREEN)


def remember(session: Session, checks: list[Check], now: datetime | None = None) -> list[Check]:
    """Store each check's level, keeping "since" while the level holds; the checks come
    back with their ``since``. Checks no longer made (a site switched off) are forgotten."""
    now = now or utcnow()
    known = {s.name: s for s in session.scalars(select(HealthState).with_for_update())}
    out = []
    for check in checks:
        state = known.pop(check.name, None)
        if state is None:
            state = HealthState(name=check.name, level=check.level.value, since=now)
            session.add(state)
        elif state.level != check.level.value:
            state.level, state.since = check.level.value, now
        state.value, state.checked_at = check.value, now
        out.append(replace(check, since=state.since if check.failing else None))
    for gone in known.values():
        session.delete(gone)
    return out


def evaluate(settings: Settings, now: datetime | None = None, *, keep: bool = True) -> list[Check]:
    """Every check, now; ``keep``: remember their levels (see ``remember``)."""
    from wagglebot.db import settings_session
    from wagglebot.health.checks import all_checks

    now = now or utcnow()
    checks = all_checks(settings, now)
    if not keep:
        return checks
    try:
        with settings_session(settings) as session:
            return remember(session, checks, now)
    except SQLAlchemyError:  # the database check already says it is down
        return checks
