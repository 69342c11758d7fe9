"""The one health model: every check with its value, its threshold, its level and since when
it has been failing. The dashboard's Health page and banner, the watch_health DAG's alerts,
`./wagglebot up`'s summary and the metrics read it; nothing else judges health.

Levels: green (fine), amber (look soon), red (act now). A check's "failing since" is kept
in health_states between evaluations (``remember``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from wagglebot.core.db.models import HealthState, utcnow

if TYPE_CHECKING:
    from wagglebot.core.config import Settings


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


def worst(checks: list[Check]) -> Level:
    return max((c.level for c in checks), key=lambda lv: lv.rank, default=Level.GREEN)


def summary_line(checks: list[Check]) -> str:
    """One line for a person: "health: all 9 sites crawled lately, 41.0 GiB free, last good
    backup 3.0 h ago; all green" (or which checks are red and amber)."""
    named = {c.name: c for c in checks}
    crawls = [c for c in checks if c.name.startswith("crawl:")]
    fresh = sum(c.level is Level.GREEN for c in crawls)
    parts = []
    if crawls:
        how_many = "all" if fresh == len(crawls) else f"{fresh} of"
        sites = f"{len(crawls)} site{'s' if len(crawls) != 1 else ''}"
        parts.append(f"{how_many} {sites} crawled lately")
    if disk := named.get("disk:media"):
        parts.append(disk.value.split(" on ")[0])
    if backup := named.get("backup"):
        parts.append(backup.value)
    failing = []
    for level in (Level.RED, Level.AMBER):
        which = [c.name for c in checks if c.level is level]
        if which:
            shown = ", ".join(which[:5]) + (" …" if len(which) > 5 else "")
            failing.append(f"{len(which)} {level.value} ({shown})")
    return f"health: {', '.join(parts)}; {'; '.join(failing) or 'all green'}"


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
        if not gone.name.startswith("_"):  # "_" rows are the alerts' own bookkeeping
            session.delete(gone)
    return out


def evaluate(settings: Settings, now: datetime | None = None, *, keep: bool = True) -> list[Check]:
    """Every check, now; ``keep``: remember their levels (see ``remember``)."""
    from wagglebot.core.db import settings_session
    from wagglebot.ops.health.checks import all_checks

    now = now or utcnow()
    checks = all_checks(settings, now)
    if not keep:
        return checks
    try:
        with settings_session(settings) as session:
            return remember(session, checks, now)
    except SQLAlchemyError:  # the database check already says it is down
        return checks
