"""The health model on the real MariaDB: each check's level, value and "since"."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.config import Settings
from wagglebot.core.db.models import CrawlRun, HealthState, Post, Story
from wagglebot.core.statuses import PostStatus
from wagglebot.crawl.run_site import CrawlFailed
from wagglebot.crawl.runs import crawl_and_record, record
from wagglebot.ops.health import Check, Level, evaluate, remember, summary_line, worst
from wagglebot.ops.health.checks import _gpu, gpu_checks, parse_nvidia_smi

from factories import add_posts

NOW = datetime(2026, 12, 6, 12, 0, 0)


@pytest.fixture
def settings(db_settings: Settings, tmp_path: Path) -> Settings:
    return db_settings.model_copy(
        update={
            "crawl_sites": ["fmkorea", "clien", "theqoo"],
            "media_root": tmp_path / "media",
            "backup_dir": tmp_path / "backups",
            "health_disk_amber_gib": 0.001,
            "health_disk_red_gib": 0.0001,
        }
    )


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def _runs(session: Session, site: str, stored: list[int], *, last_ok: bool = True) -> None:
    """Hourly crawls ending one hour before NOW, the last one first in ``stored``'s end."""
    for i, n in enumerate(stored):
        ended = NOW - timedelta(hours=len(stored) - i)
        ok = last_ok or i < len(stored) - 1
        session.add(
            CrawlRun(
                site_code=site, started_at=ended - timedelta(minutes=2), finished_at=ended,
                ok=ok, stored=n if ok else 0, new=0, errors=0,
                cause=None if ok else "no post link in 20 list rows (selector td.title a)",
            )
        )  # fmt: skip
    session.commit()


def test_crawls_are_judged_by_age_and_by_each_sites_own_usual_yield(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        _runs(session, "fmkorea", [20, 22, 19, 21, 20])  # steady
        _runs(session, "clien", [30, 28, 31, 29, 4])  # a seventh of its usual
        _runs(session, "theqoo", [15, 14, 16, 15, 0], last_ok=False)  # stored nothing
        session.add(  # fmkorea's only good crawl before those: long ago, outside 7 days
            CrawlRun(site_code="fmkorea", started_at=NOW - timedelta(days=9),
                     finished_at=NOW - timedelta(days=9), ok=True, stored=500)
        )  # fmt: skip
        session.commit()
    checks = _by_name(evaluate(settings, NOW, keep=False))
    assert checks["crawl:fmkorea"].level is Level.GREEN
    assert checks["crawl:fmkorea"].value == "last good crawl 60 min ago"
    assert checks["yield:fmkorea"].level is Level.GREEN
    assert checks["yield:fmkorea"].value == "last crawl stored 20, usually 20.5"

    clien = checks["yield:clien"]
    assert clien.level is Level.AMBER
    assert clien.value == "last crawl stored 4, usually 29.5"
    assert clien.detail == "degraded: the site may have changed its layout or blocked us"
    assert clien.threshold == "at least 25% of its 7-day median"

    theqoo = checks["yield:theqoo"]
    assert theqoo.level is Level.RED
    assert theqoo.detail.startswith("degraded: the site may have changed its layout")
    assert "no post link in 20 list rows" in theqoo.detail  # the crawl's own cause
    # Its last good crawl was two hours ago: still within the amber limit (120 min).
    assert checks["crawl:theqoo"].level is Level.GREEN

    later = _by_name(evaluate(settings, NOW + timedelta(hours=5), keep=False))
    assert later["crawl:fmkorea"].level is Level.AMBER  # 6 h without a good crawl
    assert later["crawl:theqoo"].level is Level.RED  # 7 h
    assert "no post link in 20 list rows" in later["crawl:theqoo"].detail
    assert later["crawl:theqoo"].threshold == "amber after 120 min, red after 360 min"


def test_a_site_never_crawled_and_one_with_little_history(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        _runs(session, "clien", [30, 1])
    checks = _by_name(evaluate(settings, NOW, keep=False))
    assert checks["crawl:fmkorea"].level is Level.AMBER
    assert checks["crawl:fmkorea"].value == "no good crawl recorded yet"
    assert checks["yield:clien"].level is Level.GREEN  # two crawls say nothing yet
    assert checks["yield:clien"].value == "2 crawl(s) in 7 days"


def test_stuck_posts_and_the_days_failures(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        [stuck] = add_posts(session, status=PostStatus.PROCESSING)
        [fresh] = add_posts(session, status=PostStatus.PROCESSING)
        failed = add_posts(session, 2, status=PostStatus.FAILED)
        [old_failure] = add_posts(session, status=PostStatus.FAILED)
        for pid, when in [(stuck, NOW - timedelta(hours=3)), (fresh, NOW - timedelta(minutes=5)),
                          (old_failure, NOW - timedelta(days=2))] + [
                          (p, NOW - timedelta(hours=1)) for p in failed]:  # fmt: skip
            session.get(Post, pid).status_changed_at = when
        session.commit()
    checks = _by_name(evaluate(settings, NOW, keep=False))
    assert checks["stuck"].level is Level.RED
    assert checks["stuck"].value == f"1 post(s) stuck: #{stuck}"
    assert checks["failures"].level is Level.AMBER  # 2, red from 5
    assert checks["failures"].value == "2 post(s) and 0 crawl(s) failed in 24 h"


def test_posts_left_out_of_stories_are_amber(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        [old, new] = add_posts(session, 2)
        session.get(Post, old).created_at = NOW - timedelta(hours=2)
        session.get(Post, new).created_at = NOW - timedelta(minutes=5)  # its crawl is grouping
        session.commit()
    check = _by_name(evaluate(settings, NOW, keep=False))["stories"]
    assert check.level is Level.AMBER
    assert check.value == "1 post(s) not grouped into stories"
    assert "./wagglebot stories" in check.detail
    with sessions() as session:
        story = Story(main_post_id=old)
        session.add(story)
        session.flush()
        session.get(Post, old).story_id = story.id
        session.commit()
    assert _by_name(evaluate(settings, NOW, keep=False))["stories"].level is Level.GREEN


def test_failing_since_holds_while_the_level_holds(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    red = Check("x", "G", Level.RED, "1", "0")
    with sessions() as session:
        [first] = remember(session, [red], NOW)
        session.commit()
        [again] = remember(session, [red], NOW + timedelta(minutes=10))
        session.commit()
        [green] = remember(
            session, [Check("x", "G", Level.GREEN, "0", "0")], NOW + timedelta(hours=1)
        )
        session.commit()
        remember(session, [], NOW + timedelta(hours=2))  # the check is no longer made
        session.commit()
        assert session.scalars(select(HealthState)).all() == []
    assert first.since == NOW
    assert again.since == NOW  # still failing since the first time
    assert green.since is None
    assert worst([red, green]) is Level.RED
    assert worst([]) is Level.GREEN


def test_disks_backups_and_a_gpu_where_there_is_one(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    checks = _by_name(evaluate(settings, NOW, keep=False))
    assert checks["disk:media"].level is Level.GREEN
    assert checks["disk:database"].level is Level.GREEN  # MariaDB's datadir is here
    assert checks["backup"].level is Level.AMBER
    assert checks["backup"].value == "no backup yet"
    full = settings.model_copy(update={"health_disk_amber_gib": 10**6, "health_disk_red_gib": 1})
    assert _by_name(evaluate(full, NOW, keep=False))["disk:media"].level is Level.AMBER

    for stamp, hours in [("20261205-0300", 33), ("20261206-0300", 9)]:
        folder = settings.backup_dir / stamp
        folder.mkdir(parents=True)
        finished = (NOW - timedelta(hours=hours)).isoformat()
        (folder / "manifest.json").write_text(json.dumps({"finished_at": finished}))
    (settings.backup_dir / "20261206-1100").mkdir()  # half made: no manifest
    backup = _by_name(evaluate(settings, NOW, keep=False))["backup"]
    assert (backup.level, backup.value) == (Level.GREEN, "last good backup 9.0 h ago")

    # nvidia-smi's CSV (noheader, nounits): index, name, MiB used, MiB total, °C.
    read = parse_nvidia_smi(
        "0, NVIDIA H100 80GB HBM3, 3210, 81559, 91\n1, NVIDIA H100, 0, 81559, 45\n"
    )
    hot, cool = (_gpu(r, settings) for r in read)
    assert (hot.name, hot.level) == ("gpu:0", Level.RED)
    assert hot.value == "NVIDIA H100 80GB HBM3: 91 °C, 3.1 of 79.6 GiB in use"
    assert cool.level is Level.GREEN
    if not Path("/usr/bin/nvidia-smi").exists():
        assert gpu_checks(settings) == []  # no GPU, no check


def test_a_database_that_does_not_answer_is_one_red_check(settings: Settings) -> None:
    down = settings.model_copy(
        update={"db_url": settings.db_url.__class__("mysql+mysqldb://x:y@127.0.0.1:1/none")}
    )
    checks = evaluate(down, NOW)
    database = _by_name(checks)["database"]
    assert database.level is Level.RED
    assert "Can't connect" in database.detail or "connect" in database.detail.lower()
    assert "y@" not in database.detail  # no password
    assert _by_name(checks)["airflow:api"].level is Level.RED  # nothing answers there


def test_each_crawl_is_recorded_whether_it_worked_or_not(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with pytest.raises(CrawlFailed, match="no_such_site: the crawler exited with"):
        crawl_and_record(settings, "no_such_site", None)
    record(settings, "clien", NOW, {"new": 3, "updated": 7, "errors": 1, "likely_cause": None})
    with sessions() as session:
        failed, worked = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
    assert (failed.site_code, failed.ok, failed.stored) == ("no_such_site", False, 0)
    assert failed.cause.startswith("no_such_site: the crawler exited with")
    assert (worked.ok, worked.stored, worked.new, worked.errors) == (True, 10, 3, 1)
    assert worked.started_at == NOW
    assert worked.finished_at > NOW


def test_one_line_says_how_things_stand(settings: Settings) -> None:
    checks = [
        Check("crawl:fmkorea", "Crawls", Level.GREEN, "last good crawl 5 min ago", ""),
        Check("crawl:clien", "Crawls", Level.RED, "last good crawl 7.0 h ago", ""),
        Check("disk:media", "Disks", Level.GREEN, "41.2 GiB free on the media folder's disk", ""),
        Check("backup", "Backups", Level.AMBER, "no backup yet", ""),
    ]
    assert summary_line(checks) == (
        "health: 1 of 2 sites crawled lately, 41.2 GiB free, no backup yet; "
        "1 red (crawl:clien); 1 amber (backup)"
    )
    assert summary_line(checks[:1] + checks[2:3]) == (
        "health: all 1 site crawled lately, 41.2 GiB free; all green"
    )
