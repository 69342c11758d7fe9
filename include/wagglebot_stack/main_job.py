"""The main job `./wagglebot up` runs once the stack is up: crawl the communities through
Airflow (the bundled sample site on a fresh install), approve a few of the collected
posts as a person would, let the produce_shorts sweep write their scripts, approve
the scripts as they are, let the next sweep voice and render them, publish the Shorts
through publish_shorts (in sample mode to the loopback fakes of YouTube, TikTok and
Instagram), and say what came of it and where the videos are."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Content, Post, StatsRun, Story, Upload
from wagglebot.core.db.queries import story_taken_by
from wagglebot.core.post_files import media_path, posts_folder
from wagglebot.core.statuses import PostStatus, UploadState
from wagglebot.orchestration.api import AirflowClient, AirflowError
from wagglebot.orchestration.dag_ids import CRAWL_DAG, PRODUCE_DAG, PUBLISH_DAG, STATS_DAG
from wagglebot.produce.stages.script import CHARS_PER_SECOND, MIN_SHORT_SECONDS, InvalidScript
from wagglebot.publish.platforms import NAMES, PLATFORMS, endpoint, platform_off
from wagglebot.publish.store import request_publish
from wagglebot.review.decisions import (
    approve_script,
    request_publishing,
    request_sweep,
)
from wagglebot.review.stories import approve_story

REVIEWER = "main-job"  # who the main job's decisions are recorded as


def run_main_job(settings: Settings, say: Callable[[str], None], approve_count: int = 3) -> bool:
    """Crawl, approve ``approve_count`` posts, sweep them and publish the Shorts; True when
    all of it worked."""
    crawled = crawl(settings, say)
    if approve_count <= 0:
        return crawled
    return produce(settings, say, approve_count) and crawled


def crawl(settings: Settings, say: Callable[[str], None]) -> bool:
    """Trigger one crawl and wait for it; True when every site's task succeeded."""
    client = AirflowClient.from_settings(settings)
    client.wait_for_dag(CRAWL_DAG)
    # A new DAG's first scheduled run starts as soon as it is parsed: follow that one
    # rather than queue a second crawl behind it.
    active = client.active_runs(CRAWL_DAG)
    run = active[0] if active else client.trigger(CRAWL_DAG, note="./wagglebot up: main job")
    run_id = run["dag_run_id"]
    say(f"crawling {settings.crawl_target} sites through Airflow: {CRAWL_DAG} run {run_id} ...")
    final = client.wait(CRAWL_DAG, run_id, timeout=900)
    ok = final["state"] == "success"
    for ti in client.task_instances(CRAWL_DAG, run_id):
        name = ti["rendered_map_index"] if ti["map_index"] >= 0 else ti["task_id"]
        if ti["state"] != "success":
            ok = False
            say(
                f"  {name:<11} {ti['state'].upper()}: see its log in the Airflow UI "
                f"({settings.airflow_api_url}/dags/{CRAWL_DAG}/runs/{run_id})"
            )
        elif ti["task_id"] == "crawl_site":
            f = client.xcom(CRAWL_DAG, run_id, "crawl_site", ti["map_index"])
            say(
                f"  {name:<11} {f['new'] + f['updated']:>3} posts stored ({f['new']} new, "
                f"{f['updated']} updated), {f['dropped']} dropped, {f['gone']} gone, "
                f"{f['errors']} errors ({f['seconds']}s)"
            )
        elif ti["task_id"] == "group_stories":
            f = client.xcom(CRAWL_DAG, run_id, "group_stories")
            say(
                f"  {'stories':<11} {f['grouped']:>3} posts grouped ({f['joined']} joined "
                f"another post's story, {f['pictures']} pictures compared): "
                f"{f['stories']} stories, {f['stories_on_several_sites']} on several communities"
            )
    with settings_session(settings) as session:
        total = session.scalar(select(func.count(Post.id)))
        for line in several_sites(session):
            say(f"  one story on several communities: {line}")
    say(f"crawl {final['state']}: {total} posts in the database, waiting for review")
    return ok


def several_sites(session: Session, limit: int = 3) -> list[str]:
    """The most popular stories told on more than one community, a line each."""
    rows = session.execute(
        select(Story.id, Post.title, Story.popularity)
        .join(Post, Post.id == Story.main_post_id)
        .where(Story.sites > 1)
        .order_by(Story.popularity.desc(), Story.id)
        .limit(limit)
    ).all()
    lines = []
    for story, title, popularity in rows:
        members = session.execute(
            select(Post.site_code, Post.id).where(Post.story_id == story).order_by(Post.id)
        ).all()
        where = ", ".join(f"{site} #{pid}" for site, pid in members)
        lines.append(f"'{title}' on {where} (popularity {popularity or 0:+.2f})")
    return lines


def pick_posts(session: Session, count: int) -> list[int]:
    """The most-liked collected post of each site in turn, so the first Shorts vary; like
    a reviewer, it passes over posts too thin to make a Short of (title and text together
    under 15 s of speech), takes one post per story (its main post where that one is
    waiting and long enough), and leaves stories already taken alone."""
    enough = MIN_SHORT_SECONDS * CHARS_PER_SECOND
    rows = session.execute(
        select(Post.id, Post.site_code, Post.story_id, Story.main_post_id)
        .outerjoin(Story, Story.id == Post.story_id)
        .where(
            Post.status == PostStatus.COLLECTED,
            func.char_length(Post.title) + func.char_length(Post.content) >= enough,
        )
        .order_by(Post.likes.is_(None), Post.likes.desc(), Post.id)
    ).all()
    eligible = {r.id for r in rows}
    by_site: dict[str, list] = {}
    for row in rows:
        by_site.setdefault(row.site_code, []).append(row)
    picked: list[int] = []
    stories: set[int] = set()
    while len(picked) < count and any(by_site.values()):
        for site in sorted(by_site):
            if not by_site[site] or len(picked) >= count:
                continue
            row = by_site[site].pop(0)
            if row.story_id in stories or story_taken_by(session, row.id):
                continue
            main = row.main_post_id
            picked.append(main if main in eligible and main not in picked else row.id)
            if row.story_id is not None:
                stories.add(row.story_id)
    return picked


DONE = (PostStatus.RENDERED, PostStatus.UPLOADED, PostStatus.FAILED)


def produce(
    settings: Settings, say: Callable[[str], None], count: int, timeout: float = 1800
) -> bool:
    """Approve ``count`` collected posts and follow the sweep until each is made (or failed)."""
    with settings_session(settings) as session:
        approved, _ = approve_story(session, pick_posts(session, count), by=REVIEWER)
    if not approved:
        say("no collected post to approve: nothing to produce")
        return False
    client = AirflowClient.from_settings(settings)
    client.wait_for_dag(PRODUCE_DAG)
    run = request_sweep(client, note="./wagglebot up: main job")
    say(
        f"approved posts {approved}; making Shorts through Airflow: {PRODUCE_DAG} run "
        f"{run['dag_run_id']} (pool gpu: script, voice, render) ..."
    )
    started, deadline = time.monotonic(), time.monotonic() + timeout
    left: set[int] = set()  # scripts a person must look at (too thin to approve as they are)
    while True:
        with settings_session(settings) as session:
            status = dict(
                session.execute(select(Post.id, Post.status).where(Post.id.in_(approved))).all()
            )
            scripted = [
                pid for pid, s in status.items() if s is PostStatus.SCRIPTED and pid not in left
            ]
            for post_id in scripted:  # as a reviewer who reads them and changes nothing
                text = session.scalar(
                    select(Content.summary_text).where(Content.post_id == post_id)
                )
                try:
                    approve_script(session, post_id, text or "", by=REVIEWER)
                except InvalidScript as exc:
                    session.rollback()
                    left.add(post_id)
                    say(f"post {post_id}: not approved ({exc}); it waits on the Scripts page")
        if scripted := [p for p in scripted if p not in left]:
            say(
                f"scripts written for posts {scripted}; approved as they are (edit them in "
                f"the dashboard's Scripts page next time), voicing and rendering ..."
            )
            request_sweep(client, note="./wagglebot up: main job, scripts approved")
        if all(s in DONE or pid in left for pid, s in status.items()):
            break
        if time.monotonic() > deadline:
            raise AirflowError(f"posts {approved} not produced after {timeout:.0f}s: {status}")
        if PostStatus.APPROVED in status.values() and not client.active_runs(PRODUCE_DAG):
            request_sweep(client, note="./wagglebot up: main job (posts still waiting)")
        time.sleep(3)
    say(f"sweep done in {time.monotonic() - started:.0f}s:")
    made = _report(settings, say, approved)
    return publish(settings, say, approved) and made


def publish(settings: Settings, say: Callable[[str], None], post_ids: list[int]) -> bool:
    """Publish the rendered ones of ``post_ids`` through publish_shorts, on every platform
    that is on (in sample mode the loopback fakes), and say where each went; True unless
    an upload failed (a platform being off is said, never a failure)."""
    wanted = [
        p for p in PLATFORMS if p in settings.publish_platforms or endpoint(settings, p).sample
    ]
    platforms = []
    for platform in wanted:
        if off := platform_off(settings, platform):
            say(f"not published to {NAMES[platform]}: {off}")
        else:
            platforms.append(platform)
    if not platforms:
        return True
    with settings_session(settings) as session:
        rendered = session.scalars(
            select(Post.id).where(Post.id.in_(post_ids), Post.status == PostStatus.RENDERED)
        ).all()
        requested, _ = request_publish(session, list(rendered), by=REVIEWER, platforms=platforms)
    if not requested:
        return True
    client = AirflowClient.from_settings(settings)
    client.wait_for_dag(PUBLISH_DAG)
    run = request_publishing(client, requested, "./wagglebot up: main job", platforms)
    where = ", ".join(_where(settings, p) for p in platforms)
    say(f"publishing posts {requested} to {where}: {PUBLISH_DAG} run {run['dag_run_id']} ...")
    final = client.wait(PUBLISH_DAG, run["dag_run_id"], timeout=1800)
    with settings_session(settings) as session:
        rows = session.execute(
            select(Upload.post_id, Upload.platform, Upload.state, Upload.video_url, Upload.note)
            .where(Upload.post_id.in_(requested), Upload.platform.in_(platforms))
            .order_by(Upload.post_id, Upload.platform)
        ).all()
    for row in rows:
        detail = row.note or ""
        if row.state is UploadState.PUBLISHED:  # a private post (TikTok's SELF_ONLY) has none
            detail = row.video_url or "no public address: only the account sees it, in the app"
        say(f"  post {row.post_id:<5} {NAMES[row.platform]:<10} {row.state:<10} {detail}")
    published = [r for r in rows if r.state is UploadState.PUBLISHED]
    say(f"publish {final['state']}: {len(published)} of {len(rows)} uploads published")
    if samples := [NAMES[p] for p in platforms if endpoint(settings, p).sample]:
        say(
            f"  SAMPLE MODE: {', '.join(samples)} here are WaggleBot's loopback stand-ins, not "
            "the platforms. Connect an account with ./wagglebot youtube-auth, tiktok-auth or "
            "instagram-auth (docs/publishing.md) and the same command publishes for real."
        )
    on_youtube = [r.post_id for r in published if r.platform == "youtube"]
    return len(published) == len(rows) and (not on_youtube or read_back(settings, say, on_youtube))


def _where(settings: Settings, platform: str) -> str:
    there = endpoint(settings, platform)
    return (
        f"the loopback fake {NAMES[platform]} at {there.api_url}"
        if there.sample
        else NAMES[platform]
    )


def read_back(settings: Settings, say: Callable[[str], None], post_ids: list[int]) -> bool:
    """Ask collect_stats for a run now (it also runs hourly) and say the Shorts' first
    figures; True when the run succeeded."""
    from wagglebot.analytics.history import published_shorts

    client = AirflowClient.from_settings(settings)
    client.wait_for_dag(STATS_DAG)
    for active in client.active_runs(STATS_DAG):  # the run Airflow starts on its own
        client.wait(STATS_DAG, active["dag_run_id"], timeout=600)
    run = client.trigger(STATS_DAG, note="./wagglebot up: main job")
    say(f"reading their first figures back: {STATS_DAG} run {run['dag_run_id']} ...")
    final = client.wait(STATS_DAG, run["dag_run_id"], timeout=600)
    with settings_session(settings) as session:
        shorts = published_shorts(session, post_ids)
        last = session.scalars(select(StatsRun).order_by(StatsRun.id.desc()).limit(1)).first()
    for short in sorted(shorts, key=lambda s: s.post_id):
        retention = "-" if short.retention is None else f"{short.retention:.0f} %"
        views = "-" if short.views is None else f"{short.views:,}"
        say(f"  post {short.post_id:<5} {views:>7} views  {short.likes or 0:>5} likes  "
            f"average view {retention}")  # fmt: skip
    for part, why in (
        ("totals", last and last.totals_off),
        ("analytics", last and last.analytics_off),
    ):
        if why:
            say(f"  {part} off: {why}")
    say(
        f"collect_stats {final['state']}: figures for {sum(1 for s in shorts if s.views)} of "
        f"{len(post_ids)} Shorts; charts on the dashboard's Analytics page "
        f"(http://127.0.0.1:{settings.dashboard_port}/analytics)"
    )
    return final["state"] == "success"


def _report(settings: Settings, say: Callable[[str], None], post_ids: list[int]) -> bool:
    with settings_session(settings) as session:
        rows = session.execute(
            select(
                Post.id,
                Post.site_code,
                Post.status,
                Post.last_error,
                Content.video_path,
                Content.video_seconds,
            )
            .outerjoin(Content, Content.post_id == Post.id)
            .where(Post.id.in_(post_ids))
            .order_by(Post.id)
        ).all()
    for post_id, site, status, error, video, seconds in rows:
        if status is PostStatus.FAILED:
            say(f"  post {post_id:<5} {site:<11} FAILED    {error}")
        elif video is None:
            say(f"  post {post_id:<5} {site:<11} {status:<9} waits for a person (Scripts page)")
        else:
            path = media_path(settings, video)
            say(f"  post {post_id:<5} {site:<11} {status:<9} {seconds:5.1f}s  {path}")
    made = sum(1 for row in rows if row.video_path and row.status is not PostStatus.FAILED)
    say(
        f"{made} of {len(rows)} Shorts made. Videos (short.mp4, thumbnail short.jpg) are in "
        f"{posts_folder(settings)}/<post id>/"
    )
    return made == len(rows)
