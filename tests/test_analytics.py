"""The read-back and what the channel learns, on MariaDB against the loopback fake YouTube:
collect_stats' schedule, scopes, quota, retries and late rows; the expected-views model
in the database and the Inbox's sort by it; the publishing hours."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack.fake_youtube import FakeYouTube
from wagglebot_stack.synthetic_channel import synthetic_history, views_24h

from wagglebot.analytics.collect import StatsProblems, collect_stats
from wagglebot.analytics.history import published_shorts
from wagglebot.analytics.learn import learn
from wagglebot.analytics.schedule import publishing_hours, publishing_now
from wagglebot.analytics.youtube_stats import YouTubeStats
from wagglebot.core.config import Settings
from wagglebot.core.db.models import (
    Post,
    PublishQuota,
    StatsRun,
    Upload,
    VideoStat,
    ViewModel,
    utcnow,
)
from wagglebot.core.statuses import PostStatus
from wagglebot.publish import QuotaExhausted
from wagglebot.publish.credentials import credentials_from
from wagglebot.publish.quota import check_upload
from wagglebot.publish.youtube import READ_SCOPE, UPLOAD_SCOPE
from wagglebot.review.queries import InboxFilter, inbox_page

from factories import add_posts
from youtube_support import REFRESH_TOKEN, credentials, token_info


@pytest.fixture
def fake() -> Iterator[FakeYouTube]:
    fake = FakeYouTube(refresh_token=REFRESH_TOKEN).start()
    fake.set_analytics(lag_days=0)
    yield fake
    fake.stop()


def _reader(fake: FakeYouTube, **options: object) -> YouTubeStats:
    return YouTubeStats(credentials(fake), api_url=fake.url, backoff_s=0.01, **options)


def _published(
    sessions: sessionmaker[Session], fake: FakeYouTube, ages_h: list[float]
) -> list[tuple[int, str]]:
    """Shorts on the fake, published ``ages_h`` hours ago: (post id, video id) each."""
    now = datetime.now(UTC)
    shorts = synthetic_history(len(ages_h), seed=3)
    found = []
    with sessions() as session:
        ids = add_posts(session, len(ages_h), status=PostStatus.UPLOADED)
        for post_id, short, age in zip(ids, shorts, ages_h, strict=True):
            at = now - timedelta(hours=age)
            fake.load_history([{"id": short.video_id, "uploaded_at": at.isoformat(),
                                "title": short.title, "days": short.days}])  # fmt: skip
            session.add(
                Upload(
                    post_id=post_id,
                    platform="youtube",
                    video_id=short.video_id,
                    video_url=f"{fake.url}watch?v={short.video_id}",
                    uploaded_at=at.replace(tzinfo=None),
                )
            )
            found.append((post_id, short.video_id))
        session.commit()
    return found


def _rows(session: Session, source: str) -> dict[int, int]:
    return dict(
        session.execute(
            select(VideoStat.post_id, func.count())
            .where(VideoStat.source == source)
            .group_by(VideoStat.post_id)
        ).all()
    )


def _units(session: Session, line: str) -> int:
    return (
        session.scalar(select(func.sum(PublishQuota.units)).where(PublishQuota.platform == line))
        or 0
    )


def test_a_run_reads_totals_and_analytics_days_and_counts_its_calls(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    shorts = _published(sessions, fake, [1, 30, 24 * 5])
    report = collect_stats(db_settings, _reader(fake))
    assert (report["videos"], report["totals"], report["data_calls"]) == (3, 3, 1)
    assert report["analytics_calls"] == 3
    assert report["days"] >= 3
    assert report["totals_off"] is report["analytics_off"] is None
    with sessions() as session:
        assert _rows(session, "totals") == {post_id: 1 for post_id, _ in shorts}
        days = _rows(session, "day")
        assert days[shorts[2][0]] >= 5  # a Short five days old has its days so far
        views = session.scalars(select(VideoStat.views).where(VideoStat.source == "totals"))
        assert all(v > 0 for v in views)
        assert _units(session, "youtube") == 1  # one videos.list for up to 50 ids
        assert _units(session, "yt-analytics") == 3
        run = session.scalars(select(StatsRun)).one()
        assert (run.videos, run.totals, run.data_calls) == (3, 3, 1)
        # Read 30 h and 5 days after they went up: their first-day views are known.
        known = dict(session.execute(select(Upload.post_id, Upload.views_24h)).all())
        assert known[shorts[0][0]] is None
        assert known[shorts[1][0]] > 0


def test_hourly_for_two_days_then_daily_then_done(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    young, old, gone = _published(sessions, fake, [2, 24 * 4, 24 * 40])
    now = utcnow()
    first = collect_stats(db_settings, _reader(fake), now=now)
    assert first["videos"] == 2  # 40 days old: past the 30 days and the 3 to settle
    an_hour = collect_stats(db_settings, _reader(fake), now=now + timedelta(hours=1))
    assert (an_hour["videos"], an_hour["totals"], an_hour["days"]) == (1, 1, 0)  # the young one
    a_day = collect_stats(db_settings, _reader(fake), now=now + timedelta(hours=23, minutes=1))
    assert (a_day["videos"], a_day["totals"]) == (2, 2)
    with sessions() as session:
        totals = _rows(session, "totals")
        assert (totals[young[0]], totals[old[0]]) == (3, 2)
        assert gone[0] not in totals


def test_a_token_without_the_analytics_scope_turns_analytics_off_not_the_run(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    _published(sessions, fake, [3])
    info = token_info(fake) | {"scopes": [UPLOAD_SCOPE, READ_SCOPE]}
    reader = YouTubeStats(credentials_from(info, f"{fake.url}token"), api_url=fake.url)
    report = collect_stats(db_settings, reader)
    assert report["totals"] == 1
    assert "yt-analytics.readonly" in report["analytics_off"]
    assert "youtube-auth" in report["analytics_off"]
    assert fake.log("reports") == []  # not even asked
    # An upload-only token (one from before the read-back): both parts off, said why.
    old = YouTubeStats(credentials_from(token_info(fake) | {"scopes": [UPLOAD_SCOPE]},
                                        f"{fake.url}token"), api_url=fake.url)  # fmt: skip
    again = collect_stats(db_settings, old, now=utcnow() + timedelta(hours=2))
    assert "youtube.readonly" in again["totals_off"]
    assert again["totals"] == 0
    with sessions() as session:
        runs = session.scalars(select(StatsRun).order_by(StatsRun.id)).all()
        assert runs[0].analytics_off
        assert runs[1].totals_off


def test_youtube_refusing_the_scope_turns_analytics_off_with_its_words(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    _published(sessions, fake, [3, 4])
    fake.add_fault("reports", status=403, reason="insufficientPermissions", every=True)
    report = collect_stats(db_settings, _reader(fake))
    assert report["totals"] == 2
    assert report["days"] == 0
    assert "403 insufficientPermissions" in report["analytics_off"]
    assert len(fake.log("reports")) == 1  # off after the first refusal, not asked again


def test_quota_exceeded_stops_the_totals_and_marks_the_day_spent_for_uploads(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    _published(sessions, fake, [3])
    fake.add_fault("stats", reason="quotaExceeded")
    report = collect_stats(db_settings, _reader(fake))
    assert "quotaExceeded" in report["totals_off"]
    assert report["totals"] == 0
    assert report["days"] >= 1  # Analytics has its own allowance
    with sessions() as session, pytest.raises(QuotaExhausted, match="quotaExceeded"):
        check_upload(session, db_settings)
    assert collect_stats(db_settings, _reader(fake), now=utcnow() + timedelta(hours=1))[
        "totals_off"
    ].startswith("the Data API's daily quota is spent")
    assert len(fake.log("stats")) == 1


def test_5xx_is_retried_and_a_call_that_keeps_failing_fails_the_task_after_the_rest(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    shorts = _published(sessions, fake, [3, 5])
    fake.add_fault("stats", status=503)
    fake.add_fault("reports", status=500, every=True, nth=2)  # the older Short's call works
    with pytest.raises(StatsProblems, match="500") as failed:
        collect_stats(db_settings, _reader(fake, retries=2))
    assert f"post {shorts[0][0]}" in str(failed.value)
    with sessions() as session:
        assert set(_rows(session, "totals")) == {p for p, _ in shorts}  # the 503 was retried
        assert set(_rows(session, "day")) == {shorts[1][0]}
        run = session.scalars(select(StatsRun)).one()
        assert "gave up after 3 tries" in run.problems
    assert [e["status"] for e in fake.log("stats")] == [503, 200]


def test_late_and_missing_days_are_filled_in_by_later_runs_without_duplicates(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    [(post_id, video)] = _published(sessions, fake, [24 * 6])
    fake.set_analytics(lag_days=2)
    pacific = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles"))
    missing_day = (pacific - timedelta(days=4)).date().isoformat()
    fake.set_analytics(missing=[(video, missing_day)])
    collect_stats(db_settings, _reader(fake))
    with sessions() as session:
        first = _rows(session, "day")[post_id]
    fake.set_analytics(lag_days=0, missing=[])
    collect_stats(db_settings, _reader(fake), now=utcnow() + timedelta(hours=23, minutes=5))
    with sessions() as session:
        days = session.scalars(
            select(VideoStat.measured_at).where(
                VideoStat.source == "day", VideoStat.post_id == post_id
            )
        ).all()
    assert len(days) == first + 3  # the missing day and the two that were late
    assert len(days) == len(set(days))


def _history(sessions: sessionmaker[Session], n: int) -> None:
    """``n`` published Shorts a day old or more, from the synthetic channel."""
    with sessions() as session:
        for short in synthetic_history(n, seed=7):
            f = short.features
            [post_id] = add_posts(
                session, 1, status=PostStatus.UPLOADED, site_code=f.site_code, score=f.site_score,
                content="가" * max(f.text_chars - 10, 1), images=["x"] * f.pictures,
            )  # fmt: skip
            session.add(
                Upload(
                    post_id=post_id,
                    platform="youtube",
                    video_id=short.video_id,
                    uploaded_at=short.uploaded_at.astimezone(UTC).replace(tzinfo=None),
                    views_24h=int(views_24h(short)),
                )
            )
        session.commit()


def test_expected_views_fall_back_to_the_site_score_and_say_so(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    _history(sessions, 5)
    with sessions() as session:
        waiting = add_posts(session, 3, status=PostStatus.COLLECTED)
        for post_id, score in zip(waiting, (0.5, 2.0, -1.0), strict=True):
            session.execute(update(Post).where(Post.id == post_id).values(score=score))
        session.commit()
    result = learn(db_settings)
    assert result["basis"] == "site score"
    assert result["scored"] == 3
    assert "5 Shorts published, fewer than the 20" in result["reason"]
    with sessions() as session:
        cards, _ = inbox_page(session, InboxFilter(sort="expected"), 1, 10)
    assert [c.main.score for c in cards] == [2.0, 0.5, -1.0]


def test_expected_views_model_scores_waiting_posts_and_the_inbox_sorts_by_it(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    _history(sessions, 120)
    with sessions() as session:
        strong = add_posts(session, 1, site_code="nate_pann", score=1.5, images=["a", "b"])
        weak = add_posts(session, 1, site_code="clien", score=-0.5)
    result = learn(db_settings)
    assert result["basis"] == "model"
    assert result["shorts"] == 120
    with sessions() as session:
        row = session.scalars(select(ViewModel)).one()
        assert row.shorts == 120
        assert row.model["basis"] == "model"
        expected = dict(session.execute(select(Post.id, Post.expected_views).where(
            Post.status == PostStatus.COLLECTED)).all())  # fmt: skip
        assert expected[strong[0]] > 2 * expected[weak[0]] > 0
        cards, _ = inbox_page(session, InboxFilter(sort="expected"), 1, 10)
        assert [c.id for c in cards] == [strong[0], weak[0]]
        assert cards[0].main.expected_views == pytest.approx(expected[strong[0]])
    # Within the day: the model stands; a new post is scored by it.
    with sessions() as session:
        [_late] = add_posts(session, 1, site_code="theqoo", score=0.2)
    again = learn(db_settings)
    assert (again["retrained"], again["scored"]) == (False, 1)


def test_publishing_hours_come_from_the_history_once_it_says_enough(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    with sessions() as session:
        early = publishing_hours(session, db_settings)
    assert early.hours == db_settings.publish_hours
    assert "too few" in early.reason
    assert early.best == db_settings.publish_hours[0]
    _history(sessions, 800)
    with sessions() as session:
        chosen = publishing_hours(session, db_settings)
    assert len(chosen.hours) == 3
    assert all(18 <= h <= 23 for h in chosen.hours), chosen
    assert "best hours" in chosen.reason
    by_hour: dict[int, list[int]] = {}
    with sessions() as session:
        for short in published_shorts(session):
            by_hour.setdefault(short.local("Asia/Seoul").hour, []).append(short.views_24h)
    medians = {h: statistics.median(v) for h, v in by_hour.items() if len(v) >= 3}
    assert chosen.best == max(medians, key=medians.get)  # what learn() scores posts at
    at = datetime(2026, 12, 7, chosen.hours[0], 5, tzinfo=ZoneInfo("Asia/Seoul"))
    assert publishing_now(db_settings, at)[0] is True
    off, why = publishing_now(db_settings, at.replace(hour=4))
    assert off is False
    assert why.startswith("not a publishing hour: it is 04:05")


def test_the_health_page_says_when_the_read_back_stalls_or_a_part_is_off(
    sessions: sessionmaker[Session], db_settings: Settings, fake: FakeYouTube
) -> None:
    from wagglebot.ops.health import Level
    from wagglebot.ops.health.checks import stats_checks

    def check(now: datetime | None = None):
        with sessions() as session:
            return stats_checks(session, db_settings, now or utcnow())

    assert check() == []  # nothing published: nothing to read
    _published(sessions, fake, [5])
    [never] = check()
    assert (never.level, never.value) == (Level.AMBER, "figures last read never")
    upload_only = token_info(fake) | {"scopes": [UPLOAD_SCOPE, READ_SCOPE]}
    reader = YouTubeStats(credentials_from(upload_only, f"{fake.url}token"), api_url=fake.url)
    collect_stats(db_settings, reader)
    [off] = check()
    assert off.level is Level.AMBER
    assert "analytics off: the YouTube token lacks" in off.detail
    collect_stats(db_settings, _reader(fake), now=utcnow() + timedelta(hours=1))
    [fine] = check()
    assert (fine.level, fine.value.split(" read ")[0]) == (Level.GREEN, "1 Short(s)")
    [late] = check(utcnow() + timedelta(hours=4))
    assert late.level is Level.AMBER
    assert "collect_stats has not run lately" in late.detail
