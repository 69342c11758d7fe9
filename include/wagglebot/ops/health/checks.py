"""The checks themselves: Airflow, crawls, production, publishing, disks, GPUs, backups and
the supervised services. Each returns Check values (wagglebot.ops.health); a part that cannot
be asked (a database down) is a red check saying so, never an exception."""

from __future__ import annotations

import shutil
import statistics
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.ops.health import Check, Level

GIB = 2**30
YIELD_DAYS = 7
YIELD_MIN_RUNS = 3  # a median of fewer crawls says nothing about a site's usual


def all_checks(settings: Settings, now: datetime) -> list[Check]:
    from wagglebot.core.db import settings_session

    checks = airflow_checks(settings, now)
    try:
        with settings_session(settings) as session:
            checks += crawl_checks(session, settings, now)
            checks += production_checks(session, settings, now)
            checks += quota_checks(session, settings)
            checks += stats_checks(session, settings, now)
            checks += database_disk(session, settings)
    except SQLAlchemyError as exc:
        checks.append(
            Check(
                "database",
                "Database",
                Level.RED,
                "does not answer",
                "answers",
                f"The app database cannot be read: {str(exc).splitlines()[0][:300]}",
            )
        )
    checks.append(disk_check("disk:media", "the media folder", settings.media_root, settings))
    checks += gpu_checks(settings)
    checks.append(backup_check(settings, now))
    checks += service_checks(settings)
    return checks


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _seconds_since(iso: str, now: datetime) -> float:
    when = datetime.fromisoformat(iso)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return max(0.0, (now - when).total_seconds())


def _by_limits(value: float, amber: float, red: float, *, reached: bool = False) -> Level:
    """Higher is worse: amber past ``amber``, red past ``red`` (or on them, ``reached``)."""
    if reached:
        return Level.RED if value >= red else Level.AMBER if value >= amber else Level.GREEN
    return Level.RED if value > red else Level.AMBER if value > amber else Level.GREEN


def disk_free(path: Path) -> tuple[Path, int]:
    """Free bytes on the disk ``path`` is (or will be) on, and the folder measured: a
    folder not made yet is measured at its nearest existing parent."""
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    return where, shutil.disk_usage(where).free


# --- Airflow ------------------------------------------------------------------------------

_PARTS = {
    "scheduler": ("latest_scheduler_heartbeat", "nothing is crawled or made while it is down"),
    "dag_processor": ("latest_dag_processor_heartbeat", "DAG changes and DAG callbacks stop"),
    "triggerer": ("latest_triggerer_heartbeat", "deferred tasks wait"),
}


def airflow_checks(settings: Settings, now: datetime) -> list[Check]:
    from wagglebot.orchestration.api import health

    answer = health(settings.airflow_api_url)
    if not answer:
        return [
            Check(
                "airflow:api",
                "Airflow",
                Level.RED,
                "does not answer",
                "answers",
                f"Airflow's API server does not answer at {settings.airflow_api_url}: no "
                "crawl or production is scheduled while it is down.",
            )
        ]
    checks = []
    for part, (beat_key, why) in _PARTS.items():
        found = answer.get(part) or {}
        healthy = found.get("status") == "healthy"
        beat = found.get(beat_key)
        value = f"last heartbeat {_ago(_seconds_since(beat, now))}" if beat else "never heartbeated"
        checks.append(
            Check(
                f"airflow:{part}",
                "Airflow",
                Level.GREEN if healthy else Level.RED,
                value,
                "a heartbeat within Airflow's health threshold (30 s)",
                "" if healthy else f"Airflow's {part.replace('_', ' ')} is not running: {why}.",
            )
        )
    db = (answer.get("metadatabase") or {}).get("status") == "healthy"
    checks.append(
        Check(
            "airflow:metadatabase",
            "Airflow",
            Level.GREEN if db else Level.RED,
            "healthy" if db else "unhealthy",
            "healthy",
            "" if db else "Airflow cannot read its own metadata database.",
        )
    )
    return checks


# --- crawls -------------------------------------------------------------------------------


def crawl_checks(session: Session, settings: Settings, now: datetime) -> list[Check]:
    from wagglebot.core.db.models import CrawlRun
    from wagglebot.crawl.plan import sites_to_crawl

    amber, red = settings.health_crawl_amber_minutes, settings.health_crawl_red_minutes
    since = now - timedelta(days=YIELD_DAYS)
    rows = session.execute(
        select(
            CrawlRun.site_code, CrawlRun.finished_at, CrawlRun.ok, CrawlRun.stored, CrawlRun.cause
        )
        .where(CrawlRun.finished_at >= since)
        .order_by(CrawlRun.finished_at)
    ).all()
    last_good = dict(
        session.execute(
            select(CrawlRun.site_code, func.max(CrawlRun.finished_at))
            .where(CrawlRun.ok)
            .group_by(CrawlRun.site_code)
        ).all()
    )
    checks = []
    for site in sites_to_crawl([], settings):
        runs = [r for r in rows if r.site_code == site]
        good = last_good.get(site)
        threshold = f"amber after {amber} min, red after {red} min"
        if good is None:
            level, value = Level.AMBER, "no good crawl recorded yet"
        else:
            minutes = (now - good).total_seconds() / 60
            level, value = _by_limits(minutes, amber, red), f"last good crawl {_ago(minutes * 60)}"
        cause = runs[-1].cause if runs and not runs[-1].ok else ""
        detail = f"{site} has not been crawled successfully for a while" if level.rank else ""
        checks.append(
            Check(
                f"crawl:{site}",
                "Crawls",
                level,
                value,
                threshold,
                f"{detail}: {cause}" if detail and cause else detail,
            )
        )
        checks.append(_yield_check(site, runs, settings.health_yield_share))
    checks.append(_stories_check(session, now))
    return checks


UNGROUPED_AFTER = timedelta(minutes=90)  # each crawl groups its posts within minutes


def _stories_check(session: Session, now: datetime) -> Check:
    """Posts stored a while ago and still in no story: grouping is not running, so their
    reposts are not recognised (and they show alone in the Inbox)."""
    from wagglebot.core.db.models import Post

    waiting = session.scalar(
        select(func.count()).where(Post.story_id.is_(None), Post.created_at < now - UNGROUPED_AFTER)
    )
    threshold = f"amber when a post waits over {UNGROUPED_AFTER.seconds // 60} min"
    if not waiting:
        return Check("stories", "Crawls", Level.GREEN, "every post is in a story", threshold)
    return Check(
        "stories",
        "Crawls",
        Level.AMBER,
        f"{waiting} post(s) not grouped into stories",
        threshold,
        "the crawl's group_stories task has not run or failed (see its log); "
        "./wagglebot stories groups them now",
    )


def _yield_check(site: str, runs: list, share: float) -> Check:
    name, threshold = f"yield:{site}", f"at least {share:.0%} of its 7-day median"
    if len(runs) <= YIELD_MIN_RUNS:
        return Check(
            name,
            "Crawls",
            Level.GREEN,
            f"{len(runs)} crawl(s) in 7 days",
            threshold,
            "Too few crawls yet to know the site's usual yield.",
        )
    last, usual = runs[-1], statistics.median(r.stored for r in runs[:-1])
    value = f"last crawl stored {last.stored}, usually {usual:g}"
    if usual > 0 and (last.stored == 0 or last.stored < share * usual):
        level = Level.RED if last.stored == 0 else Level.AMBER
        detail = "degraded: the site may have changed its layout or blocked us"
        if last.cause:
            detail += f" ({last.cause})"
        return Check(name, "Crawls", level, value, threshold, detail)
    return Check(name, "Crawls", Level.GREEN, value, threshold)


# --- production and publishing ------------------------------------------------------------


def production_checks(session: Session, settings: Settings, now: datetime) -> list[Check]:
    from wagglebot.core.db.models import CrawlRun, Post, Upload
    from wagglebot.core.statuses import PostStatus

    limit = now - timedelta(minutes=settings.health_stuck_minutes)
    moved = func.coalesce(Upload.heartbeat_at, Post.status_changed_at)
    stuck = session.scalars(
        select(Post.id)
        .outerjoin(Upload, Upload.post_id == Post.id)
        .where(
            or_(
                (Post.status == PostStatus.PROCESSING) & (Post.status_changed_at < limit),
                (Post.status == PostStatus.PUBLISHING) & (moved < limit),
            )
        )
        .order_by(Post.id)
        .distinct()
    ).all()
    checks = [
        Check(
            "stuck",
            "Production",
            Level.RED if stuck else Level.GREEN,
            f"{len(stuck)} post(s) stuck"
            + (f": #{', #'.join(map(str, stuck[:10]))}" if stuck else ""),
            f"none in PROCESSING or PUBLISHING over {settings.health_stuck_minutes} min",
            "A task died or hangs with these posts; see Progress in the dashboard."
            if stuck
            else "",
        )
    ]
    day = now - timedelta(hours=24)
    failed_posts = session.scalar(
        select(func.count()).where(Post.status == PostStatus.FAILED, Post.status_changed_at >= day)
    )
    failed_crawls = session.scalar(
        select(func.count()).where(CrawlRun.finished_at >= day, CrawlRun.ok.is_(False))
    )
    total = failed_posts + failed_crawls
    amber, red = settings.health_failures_amber, settings.health_failures_red
    level = _by_limits(total, amber, red, reached=True)
    checks.append(
        Check(
            "failures",
            "Production",
            level,
            f"{failed_posts} post(s) and {failed_crawls} crawl(s) failed in 24 h",
            f"amber from {amber}, red from {red}",
            "Each failure's cause is on the dashboard's Progress page and in its task log."
            if total
            else "",
        )
    )
    return checks


def quota_checks(session: Session, settings: Settings) -> list[Check]:
    """Each platform that publishes here: what its day's allowance has left."""
    from wagglebot.publish.platforms import NAMES, PLATFORMS, platform_off
    from wagglebot.publish.quota import today

    checks = []
    for platform in PLATFORMS:
        if platform_off(settings, platform):
            continue
        quota = today(session, settings, platform)
        left = quota.uploads_left
        detail = ""
        if left <= 0:
            detail = quota.exhausted or "Today's allowance is spent; uploads wait for tomorrow."
        day = "Pacific day" if platform == "youtube" else "UTC day"
        checks.append(
            Check(
                "quota" if platform == "youtube" else f"quota {platform}",
                "Publishing",
                Level.AMBER if left <= 0 else Level.GREEN,
                f"{NAMES[platform]}: {left} upload(s) left today ({day} {quota.day})",
                "at least one left",
                detail,
            )
        )
    return checks


STATS_LATE = timedelta(hours=3)  # collect_stats runs hourly


def stats_checks(session: Session, settings: Settings, now: datetime) -> list[Check]:
    """The read-back of published Shorts' figures: running, and with every part on."""
    from wagglebot.core.db.models import StatsRun, Upload

    window = now - timedelta(days=settings.stats_days)
    published = session.scalar(
        select(func.count()).where(Upload.video_id.is_not(None), Upload.uploaded_at >= window)
    )
    if not published:
        return []
    last = session.scalars(select(StatsRun).order_by(StatsRun.id.desc()).limit(1)).first()
    threshold = f"read within {STATS_LATE.seconds // 3600} h, every part on"
    if last is None or last.finished_at < now - STATS_LATE:
        when = "never" if last is None else _ago((now - last.finished_at).total_seconds())
        why = "collect_stats has not run lately: paused, or failing (see its log)"
        return [
            Check("stats", "Publishing", Level.AMBER, f"figures last read {when}", threshold, why)
        ]
    off = [f"{part} off: {why}" for part, why in
           (("totals", last.totals_off), ("analytics", last.analytics_off)) if why]  # fmt: skip
    if last.problems:
        off.append(f"calls that failed: {last.problems}")
    value = f"{published} Short(s) read {_ago((now - last.finished_at).total_seconds())}"
    if off:
        return [Check("stats", "Publishing", Level.AMBER, value, threshold, "; ".join(off)[:600])]
    return [Check("stats", "Publishing", Level.GREEN, value, threshold)]


# --- disks, GPUs, backups, services -------------------------------------------------------


def disk_check(name: str, what: str, path: Path, settings: Settings) -> Check:
    where, free_bytes = disk_free(path)
    free = free_bytes / GIB
    amber, red = settings.health_disk_amber_gib, settings.health_disk_red_gib
    level = _by_limits(-free, -amber, -red)  # less free is worse
    return Check(
        name,
        "Disks",
        level,
        f"{free:.1f} GiB free on {what}'s disk ({where})",
        f"amber under {amber:g} GiB, red under {red:g} GiB",
        f"Free space on {what}'s disk: old media and backups can go." if level.rank else "",
    )


def database_disk(session: Session, settings: Settings) -> list[Check]:
    try:
        datadir = session.scalar(text("SELECT @@datadir"))
    except SQLAlchemyError:
        return []
    if not datadir or not Path(datadir).is_dir():  # the database runs on another machine
        return []
    return [disk_check("disk:database", "the database", Path(datadir), settings)]


_NVIDIA_QUERY = "index,name,memory.used,memory.total,temperature.gpu"


@dataclass(frozen=True)
class GpuReading:
    index: str
    name: str
    used_mib: float
    total_mib: float
    celsius: float


class GpuQueryFailed(RuntimeError):
    pass


def parse_nvidia_smi(text: str) -> list[GpuReading]:
    """nvidia-smi's CSV (noheader, nounits): index, name, MiB used, MiB total, °C."""

    def number(value: str) -> float:
        try:
            return float(value)
        except ValueError:  # "[N/A]"
            return 0.0

    found = []
    for line in text.strip().splitlines():
        index, name, used, total, temp = (part.strip() for part in line.split(","))
        found.append(GpuReading(index, name, number(used), number(total), number(temp)))
    return found


def nvidia_smi() -> list[GpuReading]:
    """Each GPU's reading; none on a machine without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        done = subprocess.run(
            ["nvidia-smi", f"--query-gpu={_NVIDIA_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GpuQueryFailed(str(exc)) from None
    if done.returncode != 0:
        raise GpuQueryFailed((done.stderr or done.stdout).strip()[:200])
    return parse_nvidia_smi(done.stdout)


def gpu_checks(settings: Settings) -> list[Check]:
    """One check per GPU, where nvidia-smi answers; none on a machine without one."""
    try:
        return [_gpu(reading, settings) for reading in nvidia_smi()]
    except GpuQueryFailed as exc:
        return [Check("gpu", "GPU", Level.AMBER, "nvidia-smi failed", "answers", str(exc))]


def _gpu(gpu: GpuReading, settings: Settings) -> Check:
    amber, red = settings.health_gpu_amber_celsius, settings.health_gpu_red_celsius
    level = _by_limits(gpu.celsius, amber, red, reached=True)
    return Check(
        f"gpu:{gpu.index}",
        "GPU",
        level,
        f"{gpu.name}: {gpu.celsius:g} °C, {gpu.used_mib / 1024:.1f} of "
        f"{gpu.total_mib / 1024:.1f} GiB in use",
        f"amber from {amber} °C, red from {red} °C",
        "The GPU runs hot: check its cooling." if level.rank else "",
    )


def backup_check(settings: Settings, now: datetime) -> Check:
    from wagglebot.ops.backup import finished_backups

    amber, red = settings.health_backup_amber_hours, settings.health_backup_red_hours
    threshold = f"amber after {amber:g} h, red after {red:g} h"
    done = finished_backups(settings.backup_dir)
    if not done:
        return Check(
            "backup",
            "Backups",
            Level.AMBER,
            "no backup yet",
            threshold,
            f"Nothing in {settings.backup_dir}: run `./wagglebot backup` (the backup DAG "
            "runs daily).",
        )
    hours = (now - done[-1].finished_at).total_seconds() / 3600
    level = _by_limits(hours, amber, red)
    return Check(
        "backup",
        "Backups",
        level,
        f"last good backup {_ago(hours * 3600)}",
        threshold,
        "The daily backup has not succeeded lately: see the backup DAG's log."
        if level.rank
        else "",
    )


def service_checks(settings: Settings) -> list[Check]:
    """Each supervised service, where the local stack runs under supervisord."""
    from wagglebot.ops.supervision import read_states, supervisor_socket

    sock = supervisor_socket(settings.stack_home)
    if not sock.exists():  # no local stack here (Docker Compose restarts its own)
        return []
    states = read_states(sock)
    if states is None:
        return [
            Check(
                "service:supervisord",
                "Services",
                Level.RED,
                "not running",
                "running",
                "Nothing restarts a service that stops: run `./wagglebot up` on the server.",
            )
        ]
    checks = []
    for name, state in sorted(states.items()):
        if state.running:
            level = Level.GREEN
        elif state.state in ("STARTING", "BACKOFF"):
            level = Level.AMBER
        else:
            level = Level.RED
        checks.append(
            Check(
                f"service:{name}",
                "Services",
                level,
                f"{state.state}" + (f": {state.description}" if state.description else ""),
                "RUNNING",
                "Left stopped after too many failed starts: see its log, then `./wagglebot up`."
                if state.state == "FATAL"
                else "",
            )
        )
    return checks
